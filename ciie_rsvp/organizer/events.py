"""Events as admins create and change them: the rules a stored event must keep.

Times an organizer types are wall-clock times at the event's place (its IANA time zone);
they are stored in UTC. Views call these functions and commit once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import zoneinfo
from typing import Any

from sqlalchemy import select, text

from ..extensions import db
from ..models import Event

log = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX = 80  # Event.slug

# Everything an admin may set; the slug only when the event is created (public addresses and
# bookmarks use it).
SETTINGS = (
    "name_en", "name_zh", "summary_en", "summary_zh", "start_date", "end_date", "start_time",
    "end_time", "timezone", "venue", "city", "country", "hosts", "organizers",
    "registration_opens_at", "registration_closes_at", "capacity", "is_published",
    "mail_from", "mail_reply_to", "rsvp_deadline", "guest_limit",
)


# Instants an admin types as wall-clock times on the event's clock.
LOCAL_TIMES = ("registration_opens_at", "registration_closes_at", "rsvp_deadline")


class EventError(ValueError):
    """A change that would break a rule; ``field`` names the setting it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zone names this machine knows (from the ``tzdata`` package), sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def event_zone(event: Event) -> str:
    """The event's time zone name, or ``UTC`` when it names none this machine knows."""
    return event.timezone if event.timezone in time_zones() else "UTC"


def to_utc(local: dt.datetime, zone: str) -> dt.datetime:
    """The UTC instant of the wall-clock time ``local`` (naive) in ``zone``.

    A time the clocks skip (spring forward) does not exist there: ValueError. A time that
    occurs twice (fall back) means its first occurrence, as calendars take it.
    """
    tz = zoneinfo.ZoneInfo(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    instant = aware.astimezone(dt.UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip it "
                         "when daylight saving time begins.")
    return instant


def to_local(instant: dt.datetime | None, zone: str) -> dt.datetime | None:
    """``instant`` (aware) as a naive wall-clock time in ``zone``."""
    if instant is None:
        return None
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def check(values: dict[str, Any]) -> None:
    """Raise :class:`EventError` for the first rule the settings ``values`` break (all of
    :data:`SETTINGS`, as the form gives them)."""
    if values["timezone"] not in time_zones():
        raise EventError("timezone", "Choose a time zone from the list.")
    if values["end_date"] < values["start_date"]:
        raise EventError("end_date", "The event cannot end before it starts.")
    start, end = values["start_time"], values["end_time"]
    if end is not None and start is None:
        raise EventError("start_time", "Give a start time too, or no times at all.")
    if (start is not None and end is not None and values["start_date"] == values["end_date"]
            and end <= start):
        raise EventError("end_time", "On a one-day event the end time must be after the start.")
    opens, closes = values["registration_opens_at"], values["registration_closes_at"]
    if opens is not None and closes is not None and closes <= opens:
        raise EventError("registration_closes_at",
                         "Registration must close after it opens.")
    if values["capacity"] is not None and values["capacity"] < 1:
        raise EventError("capacity", "Leave the capacity empty, or give at least 1.")
    if not 0 <= values["guest_limit"] <= 50:
        raise EventError("guest_limit", "Between 0 and 50 guests.")
    if db.session.get_bind().dialect.name == "postgresql" and not _postgres_knows(
            values["timezone"]):
        raise EventError("timezone", "The database server does not know this time zone; "
                                     "choose another name for it.")


def _postgres_knows(zone: str) -> bool:
    """PostgreSQL groups the dashboard's days with its own zone data, which may be older."""
    return db.session.execute(text("SELECT 1 FROM pg_timezone_names WHERE name = :zone"),
                              {"zone": zone}).first() is not None


def check_slug(slug: str) -> None:
    if not (3 <= len(slug) <= SLUG_MAX and SLUG_PATTERN.fullmatch(slug)):
        raise EventError("slug", f"3 to {SLUG_MAX} lower-case letters, digits and single "
                                 "hyphens, for example meet-in-shanghai-2027.")
    if db.session.scalar(select(Event.id).where(Event.slug == slug)) is not None:
        raise EventError("slug", "Another event already has this address.")


def create_event(slug: str, values: dict[str, Any], *, by: str) -> Event:
    """A new event with the settings ``values``; ``by`` (an organizer's email) is logged."""
    check_slug(slug)
    check(values)
    event = Event(slug=slug, **{name: values[name] for name in SETTINGS})
    db.session.add(event)
    db.session.flush()
    log.info("event %s created by %s", slug, by)
    return event


def update_event(event: Event, values: dict[str, Any], *, by: str) -> list[str]:
    """Apply the settings ``values`` to ``event``; the names of those that changed."""
    check(values)
    changed = [name for name in SETTINGS if getattr(event, name) != values[name]]
    for name in changed:
        setattr(event, name, values[name])
    if changed:
        log.info("event %s changed by %s: %s", event.slug, by, ", ".join(changed))
    return changed


def settings_of(event: Event) -> dict[str, Any]:
    """The event's settings as the form shows them (times on the event's clock)."""
    values = {name: getattr(event, name) for name in SETTINGS}
    zone = event_zone(event)  # a zone stored by hand that is unknown: times in UTC until fixed
    for name in LOCAL_TIMES:
        values[name] = to_local(values[name], zone)
    return values
