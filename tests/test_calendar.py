"""The per-event .ics skeleton with per-invitee lines equals the calendar built whole."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciie_rsvp.invitations.calendar import Person, event_ics, full_event_ics
from ciie_rsvp.models import Event

STAMP = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def make_event(**overrides: object) -> Event:
    values: dict[str, object] = dict(
        slug="la", name_en="Meet in Shanghai", start_date=dt.date(2030, 10, 13),
        end_date=dt.date(2030, 10, 13), start_time=dt.time(9, 0), end_time=dt.time(17, 0),
        venue="Downtown Los Angeles", city="Los Angeles", country="", hosts="",
        timezone="America/Los_Angeles")
    values.update(overrides)
    return Event(**values)


def both(event: Event, **kwargs: object) -> tuple[bytes, bytes]:
    args: dict[str, object] = dict(
        uid="invitation-0123abcd@wtcla.example.org", organizer=Person("Organizers", "t@w.org"),
        attendee=Person("Delegate Number 1", "d1@example.com"), summary="Meet in Shanghai",
        url="https://rsvp.example.org/rsvp/tok", sequence=0, stamp=STAMP)
    args.update(kwargs)
    return full_event_ics(event, **args), event_ics(event, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("event_kw,kw", [
    ({}, {}),
    ({"timezone": "Asia/Shanghai", "end_date": dt.date(2030, 11, 10)}, {"sequence": 2}),
    ({"start_time": None, "end_time": None}, {"url": ""}),
    ({}, {"attendee": Person('张伟, "Boss"; CEO: 北京 ' * 5, "z@example.cn"),
          "summary": "相约上海，共享未来"}),
    ({}, {"partstat": "ACCEPTED"}),
    ({}, {"attendee": Person("A;B:C\\D", "weird+tag@example.com"),
          "url": "https://x/" + "a" * 200}),
])
def test_fast_ics_equals_the_whole_calendar(event_kw: dict[str, object], kw: dict[str, object],
                                            ) -> None:
    full, fast = both(make_event(**event_kw), **kw)
    assert fast == full
    vevent = icalendar.Calendar.from_ical(fast).walk("VEVENT")[0]
    assert str(vevent["ATTENDEE"].params["CN"]) == (kw.get("attendee") or Person(
        "Delegate Number 1", "")).name


@settings(max_examples=100, deadline=None)
@given(name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120),
       local=st.from_regex(r"[a-z0-9.+_-]{1,40}", fullmatch=True),
       nonce=st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
def test_fast_ics_equals_the_whole_calendar_for_any_invitee(name: str, local: str,
                                                             nonce: str) -> None:
    full, fast = both(make_event(), attendee=Person(name, f"{local}@example.com"),
                      uid=f"invitation-{nonce}@x.org", url=f"https://rsvp.example.org/rsvp/{nonce}")
    assert fast == full


@pytest.mark.parametrize("event_kw", [
    {"start_time": dt.time(23, 0), "end_time": None},  # once a zero-length entry
    {"start_time": dt.time(9, 0), "end_time": None, "end_date": dt.date(2030, 10, 15)},
    {"timezone": "Atlantis/Capital"},  # a zone this machine does not know: UTC
])
def test_calendar_entries_always_have_a_length(event_kw: dict[str, object]) -> None:
    full, fast = both(make_event(**event_kw))
    assert fast == full
    vevent = icalendar.Calendar.from_ical(fast).walk("VEVENT")[0]
    start, end = vevent["DTSTART"].dt, vevent["DTEND"].dt
    assert end > start
    if event_kw.get("end_time", dt.time(17)) is None:
        assert end.time() == (dt.datetime.combine(start.date(), start.time())
                              + dt.timedelta(hours=2)).time()
    if "timezone" in event_kw:
        assert start.utcoffset() == dt.timedelta(0) and "TZID" not in vevent["DTSTART"].params


def test_a_multi_day_event_with_hours_is_those_hours_each_day() -> None:
    """CIIE open 10:00-17:00 from the 5th to the 10th used to be one block from the 5th at
    10:00 to the 10th at 17:00, nights included, in every calendar it was added to."""
    event = make_event(start_date=dt.date(2030, 11, 5), end_date=dt.date(2030, 11, 10),
                       start_time=dt.time(10, 0), end_time=dt.time(17, 0),
                       timezone="Asia/Shanghai")
    full, fast = both(event)
    assert fast == full
    vevent = icalendar.Calendar.from_ical(fast).walk("VEVENT")[0]
    start, end = vevent["DTSTART"].dt, vevent["DTEND"].dt
    assert (start.isoformat(), end.isoformat()) == ("2030-11-05T10:00:00+08:00",
                                                    "2030-11-05T17:00:00+08:00")
    assert vevent["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert dict(vevent["RRULE"]) == {"FREQ": ["DAILY"], "COUNT": [6]}
    # one day, or whole days without hours: no repetition
    for kw in ({"end_date": dt.date(2030, 11, 5)}, {"start_time": None, "end_time": None}):
        one = icalendar.Calendar.from_ical(both(make_event(**{
            "start_date": dt.date(2030, 11, 5), "end_date": dt.date(2030, 11, 10),
            "start_time": dt.time(10, 0), "end_time": dt.time(17, 0), **kw}))[1])
        assert "RRULE" not in one.walk("VEVENT")[0]
    # hours past midnight end the next morning
    late = icalendar.Calendar.from_ical(both(make_event(
        start_time=dt.time(22, 0), end_time=dt.time(2, 0)))[1]).walk("VEVENT")[0]
    assert late["DTEND"].dt - late["DTSTART"].dt == dt.timedelta(hours=4)


@pytest.mark.parametrize(("zone", "closes"), [
    # no deadline: answers until the first day begins on the event's clock
    ("America/Los_Angeles", dt.datetime(2030, 10, 13, 7, 0, tzinfo=dt.UTC)),
    ("Asia/Shanghai", dt.datetime(2030, 10, 12, 16, 0, tzinfo=dt.UTC)),
    ("Atlantis/Capital", dt.datetime(2030, 10, 13, 0, 0, tzinfo=dt.UTC)),
])
def test_without_a_deadline_answers_close_when_the_first_day_begins_there(
        zone: str, closes: dt.datetime) -> None:
    event = make_event(timezone=zone, rsvp_deadline=None)
    second = dt.timedelta(seconds=1)
    assert event.rsvp_open(closes - second) and not event.rsvp_open(closes)
