"""Racing submissions: one row per (event, email), no 5xx, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from ciie_rsvp.extensions import db
from ciie_rsvp.models import OutboxMessage, Registration
from tests.conftest import form_fields, valid_registration
from tests.live import Browserish, live_server


def _count(app, model=Registration) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_threads_racing_the_same_email_make_one_row(app, make_event):
    slug = make_event()

    def submit(i: int) -> int:
        client = app.test_client()
        page = client.get(f"/events/{slug}/register")
        data = valid_registration(**form_fields(page.get_data(as_text=True)),
                                  email="Race@Example.com" if i % 2 else "race@example.com")
        return client.post(f"/events/{slug}/register", data=data).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(submit, range(24)))
    assert codes == [303] * 24
    assert _count(app) == 1
    assert _count(app, OutboxMessage) == 24  # one confirmation or "already registered" each


@pytest.mark.slow
def test_server_processes_racing_on_one_database(app, app_config, make_event, tmp_path):
    """gunicorn with 3 worker processes: 60 submissions for 15 addresses → 15 rows, no 5xx."""
    slug = make_event()
    emails = [f"delegate{i}@example.com" for i in range(15)]
    with live_server(app_config["SQLALCHEMY_DATABASE_URI"], tmp_path / "srv", workers=3) as base:

        def submit(i: int) -> int:
            return Browserish(base).register(slug, valid_registration(email=emails[i % 15]))

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(submit, range(60)))
    assert all(code == 303 for code in codes), codes
    assert _count(app) == 15
    with app.app_context():
        stored = set(db.session.scalars(select(Registration.email_normalized)))
        assert stored == set(emails)
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_write_lock_mode_ends_with_the_request(app, client, make_event):
    """A POST begins SQLite transactions immediately; the next GET in the thread does not."""
    from ciie_rsvp.database import _immediate

    slug = make_event()
    client.post(f"/events/{slug}/register", data={})
    assert _immediate.get() is False
    client.get("/")
    assert _immediate.get() is False
