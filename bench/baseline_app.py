"""The benchmark's baseline: a bare Flask app doing the least a registration can do.

``GET /events/<slug>/register`` answers a small form carrying the same hidden fields the real
form has (``csrf_token``, ``started``), so the load client runs the same flow against both.
``POST`` parses the same form fields and stores the same row in ``registrations`` with one
plain SQL statement (``INSERT ... ON CONFLICT DO NOTHING``), then redirects like the service.
No validation, no CSRF check, no templates, no audit row, no outbox: it is the floor the real
service is measured against.

Run by ``bench/register_load.py`` under the same gunicorn settings as the service; the
database comes from ``BASELINE_DATABASE_URL`` (already migrated, with the bench event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from typing import Any

from flask import Flask, Response, abort, redirect, request
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

INTERESTS = ("exhibit", "delegation", "conference", "matchmaking")

FORM = """<!doctype html><html><head><meta charset="utf-8"><title>Register</title></head><body>
<form method="post">
<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">
<input id="started" name="started" type="hidden" value="{started}">
<input name="company"> <input name="website"> <select name="sector"></select>
<select name="company_size"></select> <select name="county"></select>
<input name="first_name"> <input name="last_name"> <input name="job_title">
<input name="email"> <input name="phone"> <input name="interests" type="checkbox">
<input name="delegates"> <input name="language"> <textarea name="notes"></textarea>
<input name="consent" type="checkbox"> <button>Register</button>
</form></body></html>"""

INSERT = text("""
INSERT INTO registrations (
    event_id, status, source, manage_token_hash, company, website, sector, company_size,
    county, first_name, last_name, job_title, email, email_normalized, phone,
    interest_exhibit, interest_delegation, interest_conference, interest_matchmaking,
    delegates, language, notes, consent_at, consent_notice_version, created_at, updated_at)
VALUES (
    :event_id, 'submitted', 'web', :token_hash, :company, :website, :sector, :company_size,
    :county, :first_name, :last_name, :job_title, :email, :email_normalized, :phone,
    :interest_exhibit, :interest_delegation, :interest_conference, :interest_matchmaking,
    :delegates, :language, :notes, :now, '2026-11', :now, :now)
ON CONFLICT (event_id, email_normalized) DO NOTHING
""")


def make_engine(url: str) -> Engine:
    """A pooled engine; SQLite gets WAL and a busy timeout so two processes can write."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

    return engine


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["BASELINE_DATABASE_URL"])
    with engine.connect() as conn:
        events = {slug: event_id for slug, event_id in conn.execute(
            text("SELECT slug, id FROM events"))}

    @app.get("/events/<slug>/register")
    def form(slug: str) -> str:
        if slug not in events:
            abort(404)
        return FORM.format(token=secrets.token_urlsafe(32),
                           started=secrets.token_urlsafe(16))

    @app.post("/events/<slug>/register")
    def register(slug: str) -> Response:
        event_id = events.get(slug)
        if event_id is None:
            abort(404)
        f = request.form
        email = f.get("email", "").strip()
        interests = set(f.getlist("interests"))
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(INSERT, {
                "event_id": event_id,
                "token_hash": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                "company": f.get("company", "").strip(),
                "website": f.get("website", "").strip(),
                "sector": f.get("sector", ""),
                "company_size": f.get("company_size", ""),
                "county": f.get("county", ""),
                "first_name": f.get("first_name", "").strip(),
                "last_name": f.get("last_name", "").strip(),
                "job_title": f.get("job_title", "").strip(),
                "email": email,
                "email_normalized": email.lower(),
                "phone": f.get("phone", "").strip(),
                **{f"interest_{code}": code in interests for code in INTERESTS},
                "delegates": int(f.get("delegates", "1")),
                "language": f.get("language", "en"),
                "notes": f.get("notes", "").strip(),
                "now": now,
            })
        return redirect(f"/events/{slug}/registered", code=303)  # type: ignore[return-value]

    return app


app = create_app() if os.environ.get("BASELINE_DATABASE_URL") else None
