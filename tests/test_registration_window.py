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


def _open_by_sql_and_by_python(slugs: str) -> tuple[set[str], set[str]]:
    """The events (slug LIKE ``slugs``) taking registrations at NOW, by SQL and by Python."""
    in_sql = set(db.session.scalars(select(Event.slug).where(
        Event.slug.like(slugs), accepting_registrations_sql(NOW))))
    in_python = {event.slug for event in db.session.scalars(
        select(Event).where(Event.slug.like(slugs))) if event.is_open(NOW)}
    return in_sql, in_python


def test_sql_window_agrees_with_is_open(app):
    with app.app_context():
        cases = list(itertools.product([True, False], TIMES, TIMES))
        for n, (published, opens, closes) in enumerate(cases):
            db.session.add(Event(slug=f"window-{n}", name_en="Window", start_date=NOW.date(),
                                 end_date=NOW.date(), is_published=published,
                                 registration_opens_at=opens, registration_closes_at=closes))
        db.session.commit()
        in_sql, in_python = _open_by_sql_and_by_python("window-%")
        assert in_sql == in_python
        assert 0 < len(in_python) < len(cases)


def test_an_event_that_has_ended_takes_no_registrations_in_sql_or_python(app):
    """Without a closing time an event used to take registrations for ever (the seeded 2022
    events still did in 2026): registration now closes when the event ends at the latest."""
    day = NOW.date()
    ends = {  # (last day, end time) on the UTC clock → open at NOW?
        "yesterday": (day - dt.timedelta(days=1), None, False),
        "ended-at-noon": (day, dt.time(12, 0), False),  # NOW is half a second later
        "ends-at-noon-and-a-second": (day, dt.time(12, 0, 1), True),
        "ends-tonight": (day, None, True),
    }
    with app.app_context():
        for name, (last_day, end_time, _open) in ends.items():
            for closes in (None, NOW + dt.timedelta(hours=1)):
                db.session.add(Event(
                    slug=f"ends-{name}-{'closes' if closes else 'open'}", name_en="Ends",
                    start_date=last_day, end_date=last_day, end_time=end_time,
                    start_time=dt.time(9) if end_time else None, timezone="UTC",
                    registration_closes_at=closes))
        db.session.commit()
        in_sql, in_python = _open_by_sql_and_by_python("ends-%")
    assert in_sql == in_python
    assert in_python == {f"ends-{name}-{kind}" for name, (_d, _t, is_open) in ends.items()
                         if is_open for kind in ("closes", "open")}


def test_the_stored_end_follows_the_last_day_time_and_zone_on_every_write(app):
    with app.app_context():
        event = Event(slug="moving-end", name_en="Moving", start_date=dt.date(2022, 10, 13),
                      end_date=dt.date(2022, 10, 13), timezone="America/Los_Angeles")
        db.session.add(event)
        db.session.commit()
        # the day ends at midnight in Los Angeles: 07:00 UTC the next day (PDT)
        assert event.ends_at == dt.datetime(2022, 10, 14, 7, 0, tzinfo=dt.UTC)
        assert event.registration_state(NOW) == "closed"
        event.start_date = event.end_date = dt.date(2030, 10, 13)
        event.end_time, event.start_time = dt.time(17, 0), dt.time(9, 0)
        db.session.commit()
        assert event.ends_at == dt.datetime(2030, 10, 14, 0, 0, tzinfo=dt.UTC)
        event.timezone = "Asia/Shanghai"
        db.session.commit()
        assert event.ends_at == dt.datetime(2030, 10, 13, 9, 0, tzinfo=dt.UTC)
        assert event.is_open(NOW)
