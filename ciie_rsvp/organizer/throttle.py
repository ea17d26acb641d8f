"""Throttling of failed organizer sign-ins, per account and per client address.

Counters live in the ``login_throttle`` table so every web process sees the same numbers.
Policy (all configurable, see ``config.py``):

* ``LOGIN_MAX_FAILURES_ACCOUNT`` failures for one email within ``LOGIN_WINDOW_SECONDS`` lock
  that email for ``LOGIN_LOCKOUT_SECONDS``; the same for one client address with
  ``LOGIN_MAX_FAILURES_ADDRESS``.
* While a key is locked, sign-in is refused *before* the password is checked, with the same
  answer whether the email exists or not, so a lock reveals nothing.
* A lock always ends: an attacker can at worst keep a real organizer out for the lockout time
  at a time, never for good. A successful sign-in clears the account's counter (not the
  address's: an attacker with an account of their own must not be able to reset it).
* The client address is ``request.remote_addr`` after ``ProxyFix`` with
  ``TRUSTED_PROXY_HOPS``: only the entries added by our own proxies are trusted, so a forged
  ``X-Forwarded-For`` sent by the client changes nothing.

No commits here; the sign-in view commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, or_, select

from ..database import insert_ignore
from ..extensions import db
from ..models import LoginThrottle, utcnow


@dataclass(frozen=True)
class ThrottleKey:
    kind: str  # "account" or "address"
    value: str

    @property
    def digest(self) -> str:
        raw = f"{self.kind}:{self.value}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).hexdigest()


def keys_for(email: str, address: str | None) -> list[ThrottleKey]:
    """The counters a sign-in attempt for ``email`` from ``address`` counts against."""
    keys = [ThrottleKey("account", email.strip().lower()[:254])]
    if address:
        keys.append(ThrottleKey("address", address))
    return keys


def _limit(kind: str) -> int:
    cfg = current_app.config
    return int(cfg["LOGIN_MAX_FAILURES_ACCOUNT"] if kind == "account"
               else cfg["LOGIN_MAX_FAILURES_ADDRESS"])


def locked_for(keys: list[ThrottleKey], now: dt.datetime | None = None) -> int:
    """Seconds until every given key accepts attempts again (0: not locked)."""
    now = now or utcnow()
    rows = db.session.scalars(select(LoginThrottle.locked_until).where(
        LoginThrottle.key.in_([k.digest for k in keys]),
        LoginThrottle.locked_until.is_not(None))).all()
    waits = [int((until - now).total_seconds()) + 1 for until in rows if until and until > now]
    return max(waits, default=0)


def record_failure(keys: list[ThrottleKey], now: dt.datetime | None = None) -> None:
    """Count a failed attempt against each key; lock the keys that reach their limit."""
    now = now or utcnow()
    cfg = current_app.config
    window = dt.timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    lockout = dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
    _purge(now - max(window, lockout))
    for key in keys:
        insert_ignore(LoginThrottle, {"key": key.digest, "kind": key.kind, "failures": 0,
                                      "window_started_at": now}, ["key"])
        row = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key == key.digest)
                                 .with_for_update()).one()
        if now - row.window_started_at > window or (row.locked_until and row.locked_until <= now):
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= _limit(key.kind):
            row.locked_until = now + lockout
            row.failures, row.window_started_at = 0, now


def record_success(email: str) -> None:
    """Forget the failures of this account (the address keeps its count)."""
    digest = keys_for(email, None)[0].digest
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == digest))


def _purge(before: dt.datetime) -> None:
    """Drop counters that are neither locked nor inside a window (keeps the table small)."""
    db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.window_started_at < before,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < before)))
