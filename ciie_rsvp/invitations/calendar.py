"""The event as an iCalendar invitation (``METHOD:REQUEST``) for one attendee."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import icalendar

from ..models import Event

PRODID = "-//CIIE California Delegation//ciie-rsvp//EN"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@functools.lru_cache(maxsize=16)
def _vtimezone(tzid: str, year: int) -> bytes:
    """The zone's rules around the event (a compact VTIMEZONE), built once per zone and year."""
    return icalendar.Timezone.from_tzid(tzid, first_date=dt.date(year - 1, 1, 1),
                                        last_date=dt.date(year + 2, 1, 1)).to_ical()


def _when(event: Event) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime]:
    """Start and end: local times in the event's zone, or whole days when times are unknown."""
    if event.start_time is None:
        return event.start_date, event.end_date + dt.timedelta(days=1)
    zone = ZoneInfo(event.timezone)
    start = dt.datetime.combine(event.start_date, event.start_time, tzinfo=zone)
    end_time = event.end_time or (
        dt.datetime.combine(event.start_date, event.start_time) + dt.timedelta(hours=2)
    ).time()
    end = dt.datetime.combine(event.end_date, end_time, tzinfo=zone)
    return start, max(end, start)


def event_ics(
    event: Event,
    *,
    uid: str,
    organizer: Person,
    attendee: Person,
    summary: str,
    description: str = "",
    sequence: int = 0,
    url: str = "",
) -> bytes:
    """An RFC 5545 ``VCALENDAR`` with ``METHOD:REQUEST`` inviting ``attendee`` (RSVP=TRUE)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    cal.add("calscale", "GREGORIAN")
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", dt.datetime.now(dt.UTC))
    start, end = _when(event)
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", summary)
    location = ", ".join(x for x in (event.venue, event.city, event.country) if x)
    if location:
        vevent.add("location", location)
    if description:
        vevent.add("description", description)
    if url:
        vevent.add("url", url)
    vevent.add("sequence", sequence)
    vevent.add("status", "CONFIRMED")
    org = icalendar.vCalAddress(f"mailto:{organizer.email}")
    org.params["cn"] = icalendar.vText(organizer.name)
    vevent.add("organizer", org)
    att = icalendar.vCalAddress(f"mailto:{attendee.email}")
    att.params["cn"] = icalendar.vText(attendee.name)
    att.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    att.params["partstat"] = icalendar.vText("NEEDS-ACTION")
    att.params["rsvp"] = icalendar.vText("TRUE")
    vevent.add("attendee", att)
    cal.add_component(vevent)
    ics = cal.to_ical()
    if isinstance(start, dt.datetime):
        # The same VTIMEZONE goes into every invitation of the event: splice in the cached
        # bytes instead of building and serializing the component each time.
        ics = ics.replace(b"BEGIN:VEVENT", _vtimezone(event.timezone, event.start_date.year)
                          + b"BEGIN:VEVENT", 1)
    return ics
