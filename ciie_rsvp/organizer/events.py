"""Events as admins create and change them: the rules a stored event must keep.

Times an organizer types are wall-clock times at the event's place (its IANA time zone);
they are stored in UTC. Views call these functions and commit once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text

from ..extensions import db
from ..models import PLACE_FIELDS, SCHEDULE_FIELDS, AuditEntry, Event, Invitation, Organizer
from ..validation import header_text_problem
from ..zones import ends_at, known_zone, time_zones, to_local, to_utc, zone_label

__all__ = ["event_zone", "time_zones", "to_local", "to_utc"]  # the forms use them from here

log = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX = 80  # Event.slug

# Everything an admin may set; the slug only when the event is created (public addresses and
# bookmarks use it).
SETTINGS = (
    "name_en", "name_zh", "summary_en", "summary_zh", "start_date", "end_date", "start_time",
    "end_time", "timezone", "venue", "city", "country", "hosts", "organizers", "venue_zh",
    "city_zh", "country_zh", "hosts_zh", "organizers_zh", "registration_opens_at",
    "registration_closes_at", "capacity", "is_published", "mail_from", "mail_reply_to",
    "rsvp_deadline", "guest_limit",
)


# Years an event's days and times may fall in (beyond them a typo, not a plan).
YEARS = (2000, 2999)

# Instants an admin types as wall-clock times on the event's clock.
LOCAL_TIMES = ("registration_opens_at", "registration_closes_at", "rsvp_deadline")


class EventError(ValueError):
    """A change that would break a rule; ``field`` names the setting it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def event_zone(event: Event) -> str:
    """The event's time zone name, or ``UTC`` when it names none this machine knows."""
    return known_zone(event.timezone)


def check(values: dict[str, Any]) -> None:
    """Raise :class:`EventError` for the first rule the settings ``values`` break (all of
    :data:`SETTINGS`, as the form gives them)."""
    if values["timezone"] not in time_zones():
        raise EventError("timezone", "Choose a time zone from the list.")
    if db.session.get_bind().dialect.name == "postgresql" and not _postgres_knows(
            values["timezone"]):
        raise EventError("timezone", "The database server does not know this time zone; "
                                     "choose another name for it.")
    for name in ("name_en", "name_zh"):
        problem = header_text_problem(values[name] or "")
        if problem:
            raise EventError(name, problem)
    zone = values["timezone"]
    for name in ("start_date", "end_date", *LOCAL_TIMES):
        if values[name] is not None and not YEARS[0] <= values[name].year <= YEARS[1]:
            raise EventError(name, f"Give a day in the years {YEARS[0]} to {YEARS[1]}.")
    if values["end_date"] < values["start_date"]:
        raise EventError("end_date", "The event cannot end before it starts.")
    start, end = values["start_time"], values["end_time"]
    if end is not None and start is None:
        raise EventError("start_time", "Give a start time too, or no times at all.")
    if (start is not None and end is not None and values["start_date"] == values["end_date"]
            and end <= start):
        raise EventError("end_time", "On a one-day event the end time must be after the start.")
    for day, name in (("start_date", "start_time"), ("end_date", "end_time")):
        if values[name] is not None:
            try:  # the calendar invitation says this time on the event's clock
                to_utc(dt.datetime.combine(values[day], values[name]), zone)
            except ValueError as exc:
                raise EventError(name, str(exc)) from None
    opens, closes = values["registration_opens_at"], values["registration_closes_at"]
    if opens is not None and closes is not None and closes <= opens:
        raise EventError("registration_closes_at",
                         "Registration must close after it opens.")
    over = ends_at(values["end_date"], values["end_time"], zone)
    if closes is not None and closes > over:
        raise EventError("registration_closes_at", "Registration must close by the end of "
                                                   "the event.")
    if values["rsvp_deadline"] is not None and values["rsvp_deadline"] > over:
        raise EventError("rsvp_deadline", "The RSVP deadline must be by the end of the event.")
    if values["capacity"] is not None and values["capacity"] < 1:
        raise EventError("capacity", "Leave the capacity empty, or give at least 1.")
    if not 0 <= values["guest_limit"] <= 50:
        raise EventError("guest_limit", "Between 0 and 50 guests.")


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


# What the history says of a new event besides its address: when and where.
CREATED_SUMMARY = ("name_en", "start_date", "end_date", "start_time", "end_time", "timezone",
                   "venue", "city", "is_published")


def create_event(slug: str, values: dict[str, Any], *, by: Organizer | None = None,
                 labels: Mapping[str, str] | None = None) -> Event:
    """A new event with the settings ``values``, created by ``by`` (audited with its
    address, days, times and place; ``labels`` name the settings as the form does)."""
    check_slug(slug)
    check(values)
    event = Event(slug=slug, **{name: values[name] for name in SETTINGS})
    db.session.add(event)
    db.session.flush()
    zone = event_zone(event)
    _audit(event, by, "event_created", "; ".join(
        [f"address: /events/{slug}"]
        + [f"{_label(name, labels)}: {shown_value(name, values[name], zone)}"
           for name in CREATED_SUMMARY]))
    return event


def update_event(event: Event, values: dict[str, Any], *, by: Organizer | None = None,
                 labels: Mapping[str, str] | None = None) -> list[str]:
    """Apply the settings ``values`` to ``event``; the names of those that changed (audited
    with their old and new values, as the settings page shows them and under ``labels``).

    A change to the days, times, zone or place (``SCHEDULE_FIELDS``) starts a new schedule
    revision of the event (``invitations.services.schedule_update_count`` counts whom to
    tell). A Chinese text whose English changed while it did not is emptied: it named the
    earlier venue (or hosts...), and Chinese readers then see the English until it is
    translated again (see :func:`translation_warning`)."""
    check(values)
    values = {**values, **_stale_translations(event, values)}
    schedule = _schedule(event)
    old_zone = event_zone(event)
    changed = [name for name in SETTINGS if getattr(event, name) != values[name]]
    before = {name: shown_value(name, getattr(event, name), old_zone) for name in changed}
    for name in changed:
        setattr(event, name, values[name])
    if _schedule(event) != schedule:
        event.schedule_revision += 1
    if changed:
        zone = event_zone(event)
        _audit(event, by, "event_changed", "; ".join(
            f"{_label(name, labels)}: {before[name]} → "
            f"{shown_value(name, getattr(event, name), zone)}" for name in changed))
    return changed


def _label(name: str, labels: Mapping[str, str] | None) -> str:
    """A setting's name for people: its label up to any explanation after a colon."""
    return (labels or {}).get(name, name).split(":", 1)[0]


def _audit(event: Event, by: Organizer | None, action: str, detail: str) -> None:
    db.session.add(AuditEntry(event_id=event.id, organizer_id=by.id if by else None,
                              actor="organizer" if by else "system", action=action,
                              detail=detail))
    log.info("event %s: %s by %s: %s", event.slug, action, by.email if by else "system",
             detail)


SHOWN_MAX = 80  # characters of a long text an audit entry keeps


def shown_value(name: str, value: Any, zone: str) -> str:
    """A setting's value as the settings page shows it (instants on the event's clock
    ``zone``), for the event's history."""
    if value is None or value == "":
        return "—"
    if name in LOCAL_TIMES:
        return f"{to_local(value, zone):%Y-%m-%d %H:%M} ({zone_label(zone)})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = " ".join(str(value).split())
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 1] + "…"


def history(event: Event, limit: int = 50) -> list[tuple[dt.datetime, str, str, str]]:
    """The event's latest audit entries, newest first: (when, who, action, detail)."""
    rows = db.session.execute(
        select(AuditEntry.at, Organizer.name, Organizer.email, AuditEntry.action,
               AuditEntry.detail)
        .outerjoin(Organizer, Organizer.id == AuditEntry.organizer_id)
        .where(AuditEntry.event_id == event.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return [(at, name or email or "system", action, detail)
            for at, name, email, action, detail in rows]


def _schedule(event: Event) -> tuple[Any, ...]:
    """The event's ``SCHEDULE_FIELDS`` as its calendar entries state it (a zone this machine
    does not know is UTC there, so choosing UTC for it changes nothing)."""
    return tuple(event_zone(event) if name == "timezone" else getattr(event, name)
                 for name in SCHEDULE_FIELDS)


def zone_change_warning(event: Event, changed: list[str]) -> str | None:
    """What an admin should know after changing the time zone of an event that has sent
    invitations (the settings page then also counts whom to send the update)."""
    if "timezone" not in changed or db.session.scalar(
            select(Invitation.id).where(Invitation.event_id == event.id).limit(1)) is None:
        return None
    return (f"The time zone is now {event.timezone}, and the times on this page are read on "
            "that clock. Invitations already sent gave times on the old one.")


TRANSLATED = (*PLACE_FIELDS, "hosts", "organizers")  # each has a <name>_zh


def _stale_translations(event: Event, values: Mapping[str, Any]) -> dict[str, str]:
    """The Chinese texts to empty: those left as they were while their English changed
    (filling in an English text that was empty changes nothing the Chinese says)."""
    return {f"{name}_zh": "" for name in TRANSLATED
            if getattr(event, name) and values[name] != getattr(event, name)
            and getattr(event, f"{name}_zh")
            and values[f"{name}_zh"] == getattr(event, f"{name}_zh")}


def translation_warning(event: Event, changed: list[str],
                        submitted: Mapping[str, Any]) -> str | None:
    """What an admin should know when :func:`update_event` emptied Chinese texts that named
    the earlier venue (or city, hosts...) although the form still ``submitted`` them."""
    emptied = [name for name in TRANSLATED if f"{name}_zh" in changed
               and not getattr(event, f"{name}_zh") and submitted.get(f"{name}_zh")]
    if not emptied:
        return None
    return ("The Chinese " + ", ".join(emptied) + " named the earlier one, so it was emptied: "
            "Chinese pages and invitations show the English until you give the Chinese again.")


def settings_of(event: Event) -> dict[str, Any]:
    """The event's settings as the form shows them (times on the event's clock)."""
    values = {name: getattr(event, name) for name in SETTINGS}
    # A zone stored by hand that this machine does not know: shown (and saved) as UTC, the
    # clock its times are shown on, until an admin chooses its zone.
    zone = values["timezone"] = event_zone(event)
    for name in LOCAL_TIMES:
        values[name] = to_local(values[name], zone)
    return values
