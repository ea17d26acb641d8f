"""What one registration stores, row by row, on both databases.

PostgreSQL writes a new registration with its audit and outbox rows in one statement, SQLite
in three (the registration's INSERT checks the event's window itself); both must store the
same rows, refuse a closed or not yet open event without storing anything, and take the
repeat-submission path for a known address.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, Event, OutboxMessage, Registration
from ciie_rsvp.registration import services

from .conftest import valid_registration


def _data(**overrides: Any) -> dict[str, Any]:
    data = valid_registration(**overrides)
    data.update(delegates=int(data["delegates"]), website=data["website"],
                phone="+12135550142", job_title=data["job_title"])
    data.pop("consent")
    return data


def _counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))  # type: ignore
                 for model in (Registration, AuditEntry, OutboxMessage))


def _event(slug: str) -> Event:
    return db.session.scalar(select(Event).where(Event.slug == slug))


def test_a_new_registration_stores_its_row_audit_and_mail(app, make_event):
    slug = make_event()
    now = dt.datetime.now(dt.UTC)
    with app.test_request_context("/"):
        result = services.submit(_event(slug), _data(email="Maria@Example.com"), now=now)
        db.session.commit()
        assert result.created and len(result.outbox_ids) == 1
        reg = db.session.get(Registration, result.registration_id)
        assert (reg.email, reg.email_normalized, reg.status, reg.source) == (
            "Maria@Example.com", "maria@example.com", "submitted", "web")
        assert reg.created_at == reg.consent_at == reg.updated_at == now
        assert (reg.interest_exhibit, reg.interest_delegation, reg.interest_conference) == (
            True, True, False)
        assert reg.delegates == 3 and reg.manage_token_hash
        (audit,) = db.session.scalars(select(AuditEntry).where(
            AuditEntry.registration_id == reg.id))
        assert (audit.actor, audit.action, audit.to_status, audit.detail, audit.at) == (
            "registrant", "submitted", "submitted", "source=web", now)
        mail = db.session.get(OutboxMessage, result.outbox_ids[0])
        assert (mail.registration_id, mail.kind, mail.status, mail.recipient, mail.raw) == (
            reg.id, "registration_received", "queued", "Maria@Example.com", None)
        assert mail.subject.startswith("Registration received:")
        assert set(json.loads(mail.compose)) == {"token"} and mail.message_id.startswith("<")
        assert _counts() == (1, 1, 1)


def test_a_known_address_gets_a_fresh_link_not_a_second_row(app, make_event):
    slug = make_event()
    with app.test_request_context("/"):
        first = services.submit(_event(slug), _data())
        db.session.commit()
        again = services.submit(_event(slug), _data(company="Someone Else"))
        db.session.commit()
        assert not again.created and again.registration_id == first.registration_id
        assert db.session.get(Registration, first.registration_id).company == (
            "Golden State Almond Growers, Inc.")
        kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds == ["registration_received", "registration_exists"]
        assert _counts() == (1, 2, 2)


@pytest.mark.parametrize(("fields", "state"), [
    ({"registration_closes_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "closed"),
    ({"registration_opens_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}, "not_yet_open"),
    ({"is_published": False}, "closed"),
])
def test_an_event_not_taking_registrations_stores_nothing(app, make_event, fields, state):
    slug = make_event()
    with app.test_request_context("/"):
        event = _event(slug)
        copy = Event(**event.column_values())  # as the form saw it: still open
        for name, value in fields.items():
            setattr(event, name, value)
        db.session.commit()
        with pytest.raises(services.RegistrationClosed) as refused:
            services.submit(copy, _data())
        db.session.rollback()
        assert refused.value.state == state
        assert _counts() == (0, 0, 0)


def test_sqlite_stores_a_new_registration_with_three_statements(app, make_event):
    """The registration window rides along in the INSERT: no SELECT before it (a regression
    here costs every registration a statement under the write lock)."""
    slug = make_event()
    with app.test_request_context("/"):
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the SQLite statement path")
        event = _event(slug).read_only_copy()  # as the form has it
        db.session.commit()
        statements: list[str] = []
        dbapi = db.session.connection().connection.dbapi_connection
        dbapi.set_trace_callback(statements.append)
        try:
            services.submit(event, _data())
            db.session.commit()
        finally:
            dbapi.set_trace_callback(None)
        verbs = [sql.split(None, 1)[0].upper() for sql in statements]
        assert verbs == ["INSERT", "INSERT", "INSERT", "COMMIT"], statements
        assert "EXISTS" in statements[0] and "registrations" in statements[0]
        assert _counts() == (1, 1, 1)


def test_the_queued_subject_follows_language_and_the_events_current_name(app, make_event):
    slug = make_event()
    with app.test_request_context("/"):
        event = _event(slug)
        subjects = []
        for language, name in (("en", None), ("zh-Hans", None), ("en", "Renamed Preview")):
            if name:
                event.name_en = name
                db.session.commit()
            result = services.submit(_event(slug), _data(
                email=f"{language}-{len(subjects)}@example.com", language=language))
            db.session.commit()
            subjects.append(db.session.get(OutboxMessage, result.outbox_ids[0]).subject)
        assert subjects[0].startswith("Registration received: ")
        assert subjects[1].startswith("报名已收到")
        assert subjects[2] == "Registration received: Renamed Preview"
