"""The registration window in SQL (``accepting_registrations_sql``) answers as ``is_open`` does.

PostgreSQL registrations insert only where the SQL twin says the event takes registrations;
every combination of published, opening and closing time (none, past, now, future) must get
the same answer from both, on both databases, including the boundaries.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import Event, accepting_registrations_sql

NOW = dt.datetime(2030, 9, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
TIMES = [None, NOW - dt.timedelta(days=1), NOW - dt.timedelta(microseconds=1), NOW,
         NOW + dt.timedelta(microseconds=1), NOW + dt.timedelta(hours=3)]


def test_sql_window_agrees_with_is_open(app):
    with app.app_context():
        cases = list(itertools.product([True, False], TIMES, TIMES))
        for n, (published, opens, closes) in enumerate(cases):
            db.session.add(Event(slug=f"window-{n}", name_en="Window", start_date=NOW.date(),
                                 end_date=NOW.date(), is_published=published,
                                 registration_opens_at=opens, registration_closes_at=closes))
        db.session.commit()
        in_sql = set(db.session.scalars(select(Event.slug).where(
            Event.slug.like("window-%"), accepting_registrations_sql(NOW))))
        in_python = {event.slug for event in db.session.scalars(
            select(Event).where(Event.slug.like("window-%"))) if event.is_open(NOW)}
        assert in_sql == in_python
        assert 0 < len(in_python) < len(cases)
