"""The event as an iCalendar invitation (``METHOD:REQUEST``) for one attendee."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import icalendar

from ..models import Event
from ..zones import known_zone

PRODID = "-//CIIE California Delegation//ciie-rsvp//EN"

#: An invitation's RSVP answer as the attendee's PARTSTAT (RFC 5545 3.2.12).
PARTSTATS = {"pending": "NEEDS-ACTION", "accepted": "ACCEPTED", "declined": "DECLINED"}


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@functools.lru_cache(maxsize=16)
def _vtimezone(tzid: str, year: int) -> bytes:
    """The zone's rules around the event (a compact VTIMEZONE), built once per zone and year."""
    return icalendar.Timezone.from_tzid(tzid, first_date=dt.date(year - 1, 1, 1),
                                        last_date=dt.date(year + 2, 1, 1)).to_ical()


def _when(event: Event) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime, int]:
    """Start, end and number of days: whole days when times are unknown (one span), else the
    first day's hours in the event's zone, repeated daily (an expo open 10:00-17:00 from the
    5th to the 10th is six such days, not one block through five nights)."""
    if event.start_time is None:
        return event.start_date, event.end_date + dt.timedelta(days=1), 1
    zone = ZoneInfo(known_zone(event.timezone))
    start = dt.datetime.combine(event.start_date, event.start_time, tzinfo=zone)
    if event.end_time is None:  # two hours from the start time
        end = start + dt.timedelta(hours=2)
    else:
        end = dt.datetime.combine(event.start_date, event.end_time, tzinfo=zone)
        if end <= start:  # hours past midnight (22:00-02:00) end the next morning
            end += dt.timedelta(days=1)
    return start, end, max((event.end_date - event.start_date).days + 1, 1)


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
    stamp: dt.datetime | None = None,
    partstat: str = "NEEDS-ACTION",
    language: str = "en",
) -> bytes:
    """An RFC 5545 ``VCALENDAR`` with ``METHOD:REQUEST`` inviting ``attendee`` (RSVP=TRUE),
    whose participation is ``partstat`` (:data:`PARTSTATS`: what they answered, if anything),
    its place in the invitee's ``language``.

    Everything but UID, DTSTAMP, URL and ATTENDEE is the same for every invitee of an event, so
    it is built and serialized once (per event, summary, sequence...) and only those four
    content lines are written per invitee, by icalendar itself. ``full_event_ics`` builds the
    whole calendar each time; tests check both give the same bytes.
    """
    start, end, days = _when(event)
    location = event.place(language)
    skeleton = _skeleton(start, end, days, known_zone(event.timezone), event.start_date.year,
                         location, organizer, summary, description, sequence, bool(url))
    personal = _personal_lines(uid, stamp or dt.datetime.now(dt.UTC), url, attendee, partstat)
    return b"".join(personal[part] if isinstance(part, str) else part for part in skeleton)


_PERSONAL = ("ATTENDEE", "DTSTAMP", "UID", "URL")
_SENTINEL_STAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _personal_lines(uid: str, stamp: dt.datetime, url: str, attendee: Person,
                    partstat: str) -> dict[str, bytes]:
    """The invitee's own content lines (folded, CRLF-terminated), as icalendar writes them."""
    vevent = icalendar.Event()
    _add_personal(vevent, uid, stamp, url, attendee, partstat)
    lines = {}
    for line in vevent.content_lines()[1:-2]:  # without BEGIN, END and the final ""
        lines[line.split(":", 1)[0].split(";", 1)[0]] = line.to_ical() + b"\r\n"
    return lines


def _add_personal(vevent: icalendar.Event, uid: str, stamp: dt.datetime, url: str,
                  attendee: Person, partstat: str) -> None:
    vevent.add("uid", uid)
    vevent.add("dtstamp", stamp)
    if url:
        vevent.add("url", url)
    att = icalendar.vCalAddress(f"mailto:{attendee.email}")
    att.params["cn"] = icalendar.vText(attendee.name)
    att.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    att.params["partstat"] = icalendar.vText(partstat)
    att.params["rsvp"] = icalendar.vText("TRUE")
    vevent.add("attendee", att)


@functools.lru_cache(maxsize=64)
def _skeleton(start: dt.date | dt.datetime, end: dt.date | dt.datetime, days: int, tzid: str,
              year: int, location: str, organizer: Person, summary: str, description: str,
              sequence: int, with_url: bool) -> tuple[bytes | str, ...]:
    """The shared calendar split around the personal lines: bytes, and the names of the
    personal content lines to put in between."""
    ics = _calendar_bytes(start, end, days, tzid, year, location, organizer, summary,
                          description, sequence, uid="x", stamp=_SENTINEL_STAMP,
                          url="https://x" if with_url else "", attendee=Person("x", "x@x"),
                          partstat="NEEDS-ACTION")  # the personal lines are written per invitee
    parts: list[bytes | str] = []
    for line in _content_lines(ics):
        name = line.split(b":", 1)[0].split(b";", 1)[0].decode()
        if name in _PERSONAL:
            parts.append(name)
        elif parts and isinstance(parts[-1], bytes):
            parts[-1] += line
        else:
            parts.append(line)
    return tuple(parts)


def _content_lines(ics: bytes) -> list[bytes]:
    """The content lines of ``ics``, each with its folded continuation lines and CRLF."""
    lines: list[bytes] = []
    for physical in ics.split(b"\r\n")[:-1]:
        if physical[:1] == b" " and lines:
            lines[-1] += physical + b"\r\n"
        else:
            lines.append(physical + b"\r\n")
    return lines


def full_event_ics(event: Event, *, uid: str, organizer: Person, attendee: Person, summary: str,
                   description: str = "", sequence: int = 0, url: str = "",
                   stamp: dt.datetime | None = None, partstat: str = "NEEDS-ACTION",
                   language: str = "en") -> bytes:
    """:func:`event_ics` built whole with icalendar (the reference the fast path must equal)."""
    start, end, days = _when(event)
    location = event.place(language)
    return _calendar_bytes(start, end, days, known_zone(event.timezone), event.start_date.year,
                           location,
                           organizer, summary, description, sequence, uid=uid,
                           stamp=stamp or dt.datetime.now(dt.UTC), url=url, attendee=attendee,
                           partstat=partstat)


def _calendar_bytes(start: dt.date | dt.datetime, end: dt.date | dt.datetime, days: int,
                    tzid: str, year: int, location: str, organizer: Person, summary: str,
                    description: str, sequence: int, *, uid: str, stamp: dt.datetime, url: str,
                    attendee: Person, partstat: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    cal.add("calscale", "GREGORIAN")
    vevent = icalendar.Event()
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    if days > 1:
        vevent.add("rrule", {"freq": "daily", "count": days})
    vevent.add("summary", summary)
    if location:
        vevent.add("location", location)
    if description:
        vevent.add("description", description)
    vevent.add("sequence", sequence)
    vevent.add("status", "CONFIRMED")
    org = icalendar.vCalAddress(f"mailto:{organizer.email}")
    org.params["cn"] = icalendar.vText(organizer.name)
    vevent.add("organizer", org)
    _add_personal(vevent, uid, stamp, url, attendee, partstat)
    cal.add_component(vevent)
    ics = cal.to_ical()
    if isinstance(start, dt.datetime):
        # The same VTIMEZONE goes into every invitation of the event: splice in the cached
        # bytes instead of building and serializing the component each time.
        ics = ics.replace(b"BEGIN:VEVENT", _vtimezone(tzid, year) + b"BEGIN:VEVENT", 1)
    return ics
