"""Time zones: the IANA names an event may use, and wall-clock times there against UTC.

Events keep their zone's name; times an organizer types are wall-clock times there, stored
in UTC. Models, the console, the RSVP page and the calendar all read a stored name through
:func:`known_zone`, so a name this machine does not know (stored by hand, or by a machine
with newer zone data) means UTC everywhere instead of an error on some pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

# Names in the zone database that are not places: the server's own clock, a placeholder,
# and a file of default rules.
NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zone names this machine knows (from the ``tzdata`` package), sorted."""
    return tuple(sorted(zoneinfo.available_timezones() - NOT_PLACES))


def known_zone(name: str | None) -> str:
    """``name`` when this machine knows it as a place's zone, else ``UTC``."""
    return name if name in time_zones() else "UTC"  # type: ignore[return-value]


def zone_label(name: str) -> str:
    """A zone's name as pages and invitations show it: ``America/Los Angeles``."""
    return name.replace("_", " ")


def to_utc(local: dt.datetime, zone: str) -> dt.datetime:
    """The UTC instant of the wall-clock time ``local`` (naive) in ``zone``.

    A time the clocks skip (spring forward) does not exist there, and one too close to the
    ends of the calendar has no UTC instant: ValueError. A time that occurs twice (fall back)
    means its first occurrence, as calendars take it.
    """
    tz = zoneinfo.ZoneInfo(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    try:
        instant = aware.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} in {zone} is out of range.") from None
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip it "
                         "when daylight saving time begins.")
    return instant


def to_local(instant: dt.datetime | None, zone: str) -> dt.datetime | None:
    """``instant`` (aware) as a naive wall-clock time in ``zone``."""
    if instant is None:
        return None
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def day_start(day: dt.date, zone: str) -> dt.datetime:
    """The UTC instant at which ``day`` begins in ``zone``: its midnight, or where the clocks
    skip midnight, the moment they skip to."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zoneinfo.ZoneInfo(zone))
    return midnight.astimezone(dt.UTC)  # fold=0 in a gap: the offset before it, i.e. later


def ends_at(last_day: dt.date, end_time: dt.time | None, zone: str) -> dt.datetime:
    """The UTC instant an event ends: its end time on its last day, or when that day ends."""
    if end_time is None:
        return day_start(last_day + dt.timedelta(days=1), zone)
    return to_utc(dt.datetime.combine(last_day, end_time), zone)
