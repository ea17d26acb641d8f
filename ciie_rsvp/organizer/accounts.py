"""Organizer accounts: creation, password checks, session invalidation. No commits here."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import Organizer, utcnow
from ..validation import normalize_email

ROLES = ("admin", "staff")
MIN_PASSWORD_LENGTH = 12
# A real hash to compare against when the email is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000", method="scrypt")


class AccountError(ValueError):
    pass


def hash_password(password: str) -> str:
    """scrypt (werkzeug's default parameters: N=2^15, r=8, p=1)."""
    return generate_password_hash(password, method="scrypt")


def create_organizer(email: str, name: str, password: str, role: str = "staff") -> Organizer:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    try:
        address = normalize_email(email).lower()
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    if db.session.scalar(select(Organizer.id).where(Organizer.email == address)) is not None:
        raise AccountError(f"an organizer with the email {address} already exists")
    organizer = Organizer(email=address, name=name.strip() or address, role=role,
                          password_hash=hash_password(password))
    db.session.add(organizer)
    db.session.flush()
    return organizer


def authenticate(email: str, password: str) -> Organizer | None:
    """The active organizer with these credentials, else None (same work either way)."""
    organizer = db.session.scalar(
        select(Organizer).where(Organizer.email == email.strip().lower()[:254]))
    stored = organizer.password_hash if organizer else _DUMMY_HASH
    ok = check_password_hash(stored, password)
    if organizer is None or not ok or not organizer.is_active:
        return None
    organizer.last_login_at = utcnow()
    return organizer


def load_from_session(user_id: str) -> Organizer | None:
    """Flask-Login loader: ``"<id>:<session_version>"``; an outdated version is refused."""
    raw_id, _, version = user_id.partition(":")
    if not raw_id.isdigit() or not version.isdigit():
        return None
    organizer = db.session.get(Organizer, int(raw_id))
    if organizer is None or not organizer.is_active or organizer.session_version != int(version):
        return None
    return organizer


def end_sessions(organizer: Organizer) -> None:
    """Invalidate every session cookie issued to ``organizer`` so far."""
    organizer.session_version += 1


def get_organizer(organizer_id: int) -> Organizer | None:
    return db.session.get(Organizer, organizer_id)


def list_organizers() -> list[Organizer]:
    return list(db.session.scalars(select(Organizer).order_by(Organizer.is_active.desc(),
                                                              Organizer.email)))


def set_active(organizer: Organizer, active: bool, *, by: Organizer) -> bool:
    """Activate or deactivate an account; deactivation ends its sessions at once.

    An admin cannot deactivate themselves (someone must be able to undo it).
    """
    if not active and organizer.id == by.id:
        raise AccountError("You cannot deactivate your own account.")
    if organizer.is_active == active:
        return False
    organizer.is_active = active
    if not active:
        end_sessions(organizer)
    return True
