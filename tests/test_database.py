"""execute_direct: Core statements run on the driver behave like ``db.session.execute``.

On both databases: types go in and come out the same (UTC datetimes, booleans), column
defaults apply, pending ORM changes are flushed first, the session's transaction is the one
used (rollback undoes it), and driver errors arrive as SQLAlchemy's exceptions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from ciie_rsvp.database import execute_direct, insert_ignore, insert_returning_id
from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, Event, Registration

WHEN = dt.datetime(2030, 9, 1, 16, 30, 15, 123456, tzinfo=dt.UTC)


def _event(app: Any, make_event: Any, **fields: Any) -> int:
    slug = make_event(**fields)
    with app.app_context():
        return db.session.scalar(select(Event.id).where(Event.slug == slug))


def _registration(event_id: int, email: str) -> dict[str, Any]:
    return {
        "event_id": event_id, "status": "submitted", "source": "web",
        "manage_token_hash": email.ljust(64, "0")[:64], "company": "Golden State Almonds",
        "website": "", "sector": "food_agriculture", "company_size": "50-249",
        "county": "Fresno", "first_name": "María", "last_name": "López", "job_title": "",
        "email": email, "email_normalized": email.lower(), "phone": "+12135550142",
        "interest_exhibit": True, "interest_delegation": False, "interest_conference": True,
        "interest_matchmaking": False, "delegates": 3, "language": "zh-Hans", "notes": "",
        "consent_at": WHEN, "consent_notice_version": "2026-11", "created_at": WHEN,
        "updated_at": WHEN,
    }


def test_values_round_trip_like_the_orm(app, make_event):
    event_id = _event(app, make_event, registration_closes_at=WHEN)
    with app.app_context():
        values = _registration(event_id, "Maria@Example.com")
        new_id = insert_ignore(Registration, values, ["event_id", "email_normalized"])
        db.session.commit()
        stored = db.session.get(Registration, new_id)
        for name, value in values.items():
            assert getattr(stored, name) == value, name
        assert stored.consent_at.tzinfo is not None

        stmt = select(Event.is_published, Event.registration_closes_at).where(
            Event.id == bindparam("event_id"))
        assert execute_direct(stmt, {"event_id": event_id}) == [(True, WHEN)]
        assert execute_direct(stmt, {"event_id": -1}) == []


def test_conflicting_insert_is_ignored_and_returns_none(app, make_event):
    event_id = _event(app, make_event)
    with app.app_context():
        first = insert_ignore(Registration, _registration(event_id, "a@example.com"),
                              ["event_id", "email_normalized"])
        again = insert_ignore(Registration, {**_registration(event_id, "a@example.com"),
                                             "manage_token_hash": "f" * 64, "company": "Other"},
                              ["event_id", "email_normalized"])
        db.session.commit()
        assert first is not None and again is None
        assert db.session.get(Registration, first).company == "Golden State Almonds"


def test_column_defaults_apply(app, make_event):
    event_id = _event(app, make_event)
    with app.app_context():
        reg_id = insert_ignore(Registration, _registration(event_id, "b@example.com"),
                               ["event_id", "email_normalized"])
        before = dt.datetime.now(dt.UTC)
        audit_id = insert_returning_id(AuditEntry, {"registration_id": reg_id,
                                                    "actor": "registrant", "action": "submitted"})
        db.session.commit()
        entry = db.session.get(AuditEntry, audit_id)
        assert before - dt.timedelta(seconds=5) <= entry.at <= dt.datetime.now(dt.UTC)
        assert entry.detail == ""  # a scalar column default


def test_pending_orm_changes_are_flushed_first_and_rollback_undoes_both(app, make_event):
    with app.app_context():
        db.session.add(Event(slug="pending-event", name_en="Pending", start_date=WHEN.date(),
                             end_date=WHEN.date()))
        stmt = select(Event.id).where(Event.slug == bindparam("slug"))
        (event_id,), = execute_direct(stmt, {"slug": "pending-event"})
        insert_ignore(Registration, _registration(event_id, "c@example.com"),
                      ["event_id", "email_normalized"])
        db.session.rollback()
        assert execute_direct(stmt, {"slug": "pending-event"}) == []
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


def test_driver_errors_come_out_as_sqlalchemy_errors(app, make_event):
    event_id = _event(app, make_event)
    with app.app_context():
        values = _registration(event_id, "d@example.com")
        insert_returning_id(Registration, values)
        with pytest.raises(IntegrityError) as caught:
            insert_returning_id(Registration, values)  # plain INSERT: the unique key refuses
        assert "registrations" in str(caught.value.statement)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


def test_a_column_left_out_is_left_to_the_database_as_with_execute(app):
    with app.app_context(), pytest.raises(IntegrityError, match="slug"):
        execute_direct(insert(Event.__table__), {"name_en": "No slug"})


def test_sqlite_connections_are_set_up_for_concurrent_writers(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite connection settings")
        settings = {name: db.session.execute(text(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys",
                                 "wal_autocheckpoint")}
        assert settings == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 30000,
                            "foreign_keys": 1, "wal_autocheckpoint": 10_000}
        assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
