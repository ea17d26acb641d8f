"""Personal data rights (CCPA/CPRA): access (download), deletion (erasure) and retention.

Erasure keeps only what counts need (event, status, sector, size, county, interests, number of
delegates, language, dates) and blanks everything that identifies a person or company. The
manage link stops working; mail kept in the outbox for the registration is deleted. Nothing
here commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from .extensions import db
from .models import (
    AuditEntry,
    Event,
    Invitation,
    OrganizerNote,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    utcnow,
)
from .tokens import new_token

PERSONAL_FIELDS = ("company", "website", "first_name", "last_name", "job_title", "email",
                   "phone", "notes")


def personal_data(reg: Registration) -> dict[str, Any]:
    """Everything stored about a registrant, as plain JSON-ready data."""
    mail = db.session.execute(
        select(OutboxMessage.subject, OutboxMessage.created_at, OutboxMessage.status)
        .where(OutboxMessage.registration_id == reg.id).order_by(OutboxMessage.id)).all()
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.registration_id == reg.id).order_by(AuditEntry.id))
    notes = db.session.execute(
        select(OrganizerNote.created_at, OrganizerNote.body)
        .where(OrganizerNote.registration_id == reg.id).order_by(OrganizerNote.id)).all()
    return {
        "event": {"slug": reg.event.slug, "name": reg.event.name_en,
                  "start_date": reg.event.start_date.isoformat()},
        "registration": {
            "company": reg.company, "website": reg.website, "sector": reg.sector,
            "company_size": reg.company_size, "county": reg.county,
            "first_name": reg.first_name, "last_name": reg.last_name,
            "job_title": reg.job_title, "email": reg.email, "phone": reg.phone,
            "interests": reg.interests, "delegates": reg.delegates, "language": reg.language,
            "notes": reg.notes, "status": reg.status,
            "created_at": reg.created_at.isoformat(), "updated_at": reg.updated_at.isoformat(),
            "consent_at": reg.consent_at.isoformat(),
            "consent_notice_version": reg.consent_notice_version,
        },
        "emails_sent_to_you": [
            {"subject": subject, "queued_at": created.isoformat(), "status": status}
            for subject, created, status in mail],
        "history": [{"at": e.at.isoformat(), "action": e.action, "by": e.actor,
                     "from_status": e.from_status, "to_status": e.to_status} for e in history],
        # what the organizers wrote about you is personal information about you too
        "organizer_notes": [{"at": at.isoformat(), "note": body} for at, body in notes],
    }


def record_access(reg: Registration, *, actor: str = "registrant",
                  organizer_id: int | None = None) -> None:
    db.session.add(AuditEntry(registration_id=reg.id, actor=actor, organizer_id=organizer_id,
                              action="data_exported"))


def erase(reg: Registration, *, actor: str = "registrant", organizer_id: int | None = None,
          reason: str = "request") -> bool:
    """Erase the personal data of ``reg``; False when it already was."""
    if reg.erased_at is not None:
        return False
    now = utcnow()
    for name in PERSONAL_FIELDS:
        setattr(reg, name, "")
    reg.email_normalized = f"erased:{reg.id}"
    reg.manage_token_hash = new_token()[1]  # nobody holds this token
    # Nor the invitation's: its RSVP link led back to the registration (and to a fresh
    # manage link), through which the erased data could be typed in again. The invitation
    # row stays, for the anonymous counts.
    for inv in db.session.scalars(select(Invitation).where(Invitation.registration_id == reg.id)):
        inv.token_hash = new_token()[1]
    if reg.status != RegistrationStatus.WITHDRAWN:
        reg.withdrawn_at = now
    reg.erased_at = now
    db.session.add(AuditEntry(registration_id=reg.id, actor=actor, organizer_id=organizer_id,
                              action="erased", from_status=reg.status,
                              to_status=RegistrationStatus.WITHDRAWN.value,
                              detail=f"personal data erased ({reason})"))
    reg.status = RegistrationStatus.WITHDRAWN.value
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.registration_id == reg.id))
    db.session.execute(delete(OrganizerNote).where(OrganizerNote.registration_id == reg.id))
    return True


@dataclass
class PurgeReport:
    event: str
    ended: dt.date
    eligible: bool
    to_erase: int
    erased: int = 0


def purge_event(event: Event, older_than_days: int, *, apply: bool,
                today: dt.date | None = None) -> PurgeReport:
    """Anonymize every registration of ``event`` once it ended more than N days ago."""
    today = today or utcnow().date()
    eligible = event.end_date <= today - dt.timedelta(days=older_than_days)
    pending = list(db.session.scalars(
        select(Registration).where(Registration.event_id == event.id,
                                   Registration.erased_at.is_(None))
        .order_by(Registration.id)))
    report = PurgeReport(event.slug, event.end_date, eligible, len(pending) if eligible else 0)
    if eligible and apply:
        for reg in pending:
            report.erased += erase(reg, actor="system", reason="retention")
    return report
