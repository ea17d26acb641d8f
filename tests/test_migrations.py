"""Alembic migrations: upgrade and downgrade both work, and the models match the schema."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ciie_rsvp import create_app
from ciie_rsvp.extensions import db
from tests.conftest import temporary_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.sqlite3'}"
        return
    with temporary_pg_database("ciie_rsvp_mig") as url:
        yield url


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"events", "registrations", "organizers", "audit_log", "outbox"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        db.engine.dispose()


def test_downgrade_below_0005_fails_messages_not_written_yet(empty_database, tmp_path):
    """Older code cannot write a queued confirmation: the downgrade fails it with the reason
    (so nobody is sent an empty message) and keeps the written ones as they were."""
    from sqlalchemy import text

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    columns = ("message_id, kind, sender, recipient, subject, raw, compose, status, attempts, "
               "max_attempts, next_attempt_at, last_error, created_at")
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            for mid, raw, compose in (("<a@x>", None, '{"token": "t"}'),
                                      ("<b@x>", b"Subject: written\r\n\r\nbody", None)):
                conn.execute(text(
                    f"INSERT INTO outbox ({columns}) VALUES (:mid, 'registration_received', "
                    "'a@x.org', 'b@x.org', 's', :raw, :compose, 'queued', 0, 8, "
                    "CURRENT_TIMESTAMP, '', CURRENT_TIMESTAMP)"),
                    {"mid": mid, "raw": raw, "compose": compose})
        downgrade(revision="0004")
        with db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT message_id, status, raw, last_error FROM outbox ORDER BY message_id"
            )).all()
        assert [(r[0], r[1]) for r in rows] == [("<a@x>", "failed"), ("<b@x>", "queued")]
        assert "downgrade" in rows[0][3] and bytes(rows[0][2]) == b""
        assert bytes(rows[1][2]) == b"Subject: written\r\n\r\nbody"
        upgrade()
        db.engine.dispose()


def test_0010_names_the_seeded_events_in_chinese_unless_they_were_changed(empty_database,
                                                                         tmp_path):
    """The seeded events get their Chinese place and hosts; an English text an organizer
    changed keeps its Chinese twin empty (a translation of the old text would be wrong)."""
    from sqlalchemy import column as sa_column
    from sqlalchemy import select
    from sqlalchemy import table as sa_table

    from ciie_rsvp import seed
    from ciie_rsvp.models import Event

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    with app.app_context():
        upgrade(revision="0009")
        chinese = ("venue_zh", "city_zh", "country_zh", "hosts_zh", "organizers_zh")
        with db.engine.begin() as conn:  # the seeded events as a 0009 database holds them
            for data in seed.EVENTS:
                row = {k: v for k, v in data.items() if k not in chinese}
                row.update(created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), is_published=True)
                if data["slug"] == "ciie-2022":
                    row["venue"] = "NECC Hall 8"  # changed by an organizer
                old_events = sa_table("events", *(sa_column(k, Event.__table__.c[k].type)
                                                  for k in row))
                conn.execute(old_events.insert().values(**row))
        upgrade()
        db.session.remove()
        meet, ciie = (db.session.scalar(select(Event).where(Event.slug == s))
                      for s in ("meet-in-shanghai-2022", "ciie-2022"))
        assert (meet.venue_zh, meet.city_zh, meet.hosts_zh) == (
            "洛杉矶市中心", "洛杉矶", "上海市商务委员会")
        assert meet.place("zh-Hans") == "美国洛杉矶市中心"
        assert ciie.venue_zh == "" and ciie.city_zh == "上海"  # its venue was changed
        assert seed.seed_events() == []  # and seeding again adds nothing
        db.session.remove()
        db.engine.dispose()


def test_sqlite_table_rebuilds_keep_the_rows_that_point_at_them(tmp_path):
    """SQLite drops or changes a column by rebuilding the table; with foreign keys on, the
    old table's DROP deleted every registration of every event through ON DELETE CASCADE
    (downgrading 0010, 0008 or 0006). Migrations now run with the foreign keys off, and
    check them before they commit."""
    from sqlalchemy import text

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'keep.sqlite3'}",
                      "TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO events (slug, name_en, name_zh, summary_en, summary_zh, "
                "start_date, end_date, timezone, venue, city, country, hosts, organizers, "
                "is_published, created_at) VALUES ('keep', 'Keep', '', '', '', '2030-10-13', "
                "'2030-10-13', 'UTC', 'V', 'C', 'X', '', '', 1, '2026-11-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO registrations (event_id, status, source, manage_token_hash, "
                "company, website, sector, company_size, county, first_name, last_name, "
                "job_title, email, email_normalized, phone, interest_exhibit, "
                "interest_delegation, interest_conference, interest_matchmaking, delegates, "
                "language, notes, consent_at, consent_notice_version, created_at, updated_at) "
                "SELECT id, 'submitted', 'web', 'h', 'Co', '', 'other', '1-9', 'Fresno', 'A', "
                "'B', '', 'a@x.org', 'a@x.org', '+12135550142', 0, 0, 1, 0, 1, 'en', '', "
                "'2026-11-01 00:00:00', 'v', '2026-11-01 00:00:00', '2026-11-01 00:00:00' "
                "FROM events WHERE slug = 'keep'"))

        def count() -> int:
            with db.engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM registrations")).scalar_one()

        for revision in ("0009", "0007", "0005"):
            downgrade(revision=revision)
            assert count() == 1, f"registrations lost downgrading to {revision}"
        upgrade()
        assert count() == 1
        with db.engine.connect() as conn:  # and the foreign keys are on again afterwards
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        db.engine.dispose()
