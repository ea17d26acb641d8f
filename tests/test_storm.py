"""Duplicate storm through the real server: many racing submissions, few addresses.

The benchmark (``bench/register_load.py``) runs the full-size storm (1,000 submissions for 100
emails); this is its CI-sized twin on both databases.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, OutboxMessage, Registration
from tests.conftest import valid_registration
from tests.live import Browserish, live_server

SUBMISSIONS, EMAILS, THREADS = 200, 20, 16


@pytest.mark.slow
def test_duplicate_storm_through_two_workers(app, app_config, make_event, tmp_path):
    slug = make_event()
    emails = [f"storm{i}@example.com" for i in range(EMAILS)]
    env = {"CIIE_RSVP_MAIL_DELIVERY": "none"}  # the outbox rows are what we count
    with live_server(app_config["SQLALCHEMY_DATABASE_URI"], tmp_path / "srv", workers=2,
                     extra_env=env) as base:

        def submit(i: int) -> int:
            # alternate the letter case: the unique key is case-insensitive
            email = emails[i % EMAILS]
            return Browserish(base).register(
                slug, valid_registration(email=email.upper() if i % 3 == 0 else email))

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            codes = Counter(pool.map(submit, range(SUBMISSIONS)))
    assert codes == {303: SUBMISSIONS}, codes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == EMAILS
        assert set(db.session.scalars(select(Registration.email_normalized))) == set(emails)
        # every submission queued exactly one mail: a confirmation or "already registered"
        kinds = Counter(db.session.scalars(select(OutboxMessage.kind)))
        assert kinds == {"registration_received": EMAILS,
                         "registration_exists": SUBMISSIONS - EMAILS}
        actions = Counter(db.session.scalars(select(AuditEntry.action)))
        assert actions == {"submitted": EMAILS, "repeat_submission": SUBMISSIONS - EMAILS}
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
