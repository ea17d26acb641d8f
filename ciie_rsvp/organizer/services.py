"""Organizer console rules: listing and filtering, statistics, review decisions, notes,
registrations added or corrected on someone's behalf.

Services never commit; the view or CLI command commits once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, and_, case, cast, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..choices import INTERESTS, SECTORS, STATUSES
from ..extensions import db
from ..models import (
    AuditEntry,
    Event,
    Invitation,
    MailOptOut,
    Organizer,
    OrganizerNote,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    utcnow,
)
from ..outbox import requeue
from ..registration import services as registration_services
from ..tokens import new_token
from . import duplicates
from .events import event_zone

# Decisions an organizer can take, and the statuses they apply to (a withdrawal is the
# registrant's own decision: organizers cannot overrule it).
DECISIONS = (RegistrationStatus.APPROVED.value, RegistrationStatus.WAITLISTED.value,
             RegistrationStatus.DECLINED.value)
DECIDABLE_FROM = (RegistrationStatus.SUBMITTED.value, *DECISIONS)

SORTS: dict[str, Any] = {
    "created": Registration.created_at,
    "company": func.lower(Registration.company),
    "name": func.lower(Registration.last_name),
    "email": Registration.email_normalized,
    "status": Registration.status,
    "county": Registration.county,
    "sector": Registration.sector,
}
PER_PAGE_CHOICES = (25, 50, 100, 200)
BULK_CHUNK = 500  # ids per statement, well under SQLite's bound-parameter limit


class ServiceError(ValueError):
    """A request the rules refuse; the message is shown to the organizer."""


class DuplicateRegistration(ServiceError):
    def __init__(self, registration_id: int, email: str) -> None:
        super().__init__(f"{email} is already registered for this event.")
        self.registration_id = registration_id


@dataclass
class ListFilters:
    """What the registration list (and its exports) is narrowed to and ordered by."""

    q: str = ""
    status: str = ""
    sector: str = ""
    county: str = ""
    interest: str = ""
    rsvp: str = ""  # "" any; "not_invited"; or an invitation's answer (pending, accepted...)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "created"
    direction: str = "desc"
    page: int = 1
    per_page: int = 50

    def criteria(self) -> dict[str, str]:
        """The narrowing criteria only (no paging or order), as strings, empty ones left out.

        Used for query strings, hidden form fields, and the export log.
        """
        out = {}
        for key, value in asdict(self).items():
            if key in ("sort", "direction", "page", "per_page") or value in (None, ""):
                continue
            out[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out

    def query_args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments reproducing this view, with ``changes`` applied."""
        args: dict[str, Any] = {**self.criteria(), "sort": self.sort, "direction": self.direction,
                                "page": self.page, "per_page": self.per_page}
        args.update(changes)
        return {k: str(v) for k, v in args.items() if v not in (None, "")}


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def filter_conditions(event_id: int, filters: ListFilters) -> list[ColumnElement[bool]]:
    """WHERE conditions for ``filters`` within one event (shared by list, bulk and exports)."""
    conds: list[ColumnElement[bool]] = [Registration.event_id == event_id]
    for word in filters.q.split()[:8]:
        pattern = _like(word.lower())
        conds.append(or_(
            func.lower(Registration.company).like(pattern, escape="\\"),
            func.lower(Registration.first_name).like(pattern, escape="\\"),
            func.lower(Registration.last_name).like(pattern, escape="\\"),
            # a Chinese name as the list writes it: family name first, no space (王伟)
            func.lower(Registration.last_name + Registration.first_name).like(
                pattern, escape="\\"),
            Registration.email_normalized.like(pattern, escape="\\"),
        ))
    if filters.status:
        conds.append(Registration.status == filters.status)
    if filters.sector:
        conds.append(Registration.sector == filters.sector)
    if filters.county:
        conds.append(Registration.county == filters.county)
    if filters.interest:
        conds.append(getattr(Registration, f"interest_{filters.interest}").is_(True))
    if filters.rsvp:
        # correlated on the registration only: an export's outer query joins invitations too
        invited = (select(Invitation.id)
                   .where(Invitation.registration_id == Registration.id)
                   .correlate(Registration))
        if filters.rsvp == "not_invited":
            conds.append(~invited.exists())
        else:
            conds.append(invited.where(Invitation.rsvp == filters.rsvp).exists())
    if filters.date_from:
        conds.append(Registration.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        conds.append(Registration.created_at < _day_start(filters.date_to + dt.timedelta(days=1)))
    return conds


def ordered(stmt: Select[Any], filters: ListFilters) -> Select[Any]:
    column = SORTS.get(filters.sort, Registration.created_at)
    if filters.direction == "asc":
        return stmt.order_by(column.asc(), Registration.id.asc())
    return stmt.order_by(column.desc(), Registration.id.desc())


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return pages_for(self.total, self.per_page)


def pages_for(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill (one, when there are none)."""
    return max(1, math.ceil(total / per_page))


def page_within(asked: int, total: int, per_page: int) -> int:
    """Page ``asked``, or the last one when it is past the end."""
    return min(max(1, asked), pages_for(total, per_page))


def list_registrations(event: Event, filters: ListFilters) -> Page[Registration]:
    """One page of the event's registrations: two queries, whatever the page size."""
    conds = filter_conditions(event.id, filters)
    total = db.session.scalar(select(func.count(Registration.id)).where(*conds)) or 0
    page = page_within(filters.page, total, filters.per_page)
    stmt = ordered(select(Registration).where(*conds), filters)
    items = list(db.session.scalars(
        stmt.limit(filters.per_page).offset((page - 1) * filters.per_page)))
    return Page(items, total, page, filters.per_page)


def get_registration(registration_id: int) -> Registration | None:
    return db.session.get(Registration, registration_id)


# --- statistics -----------------------------------------------------------------------------

@dataclass
class EventStats:
    total: int
    by_status: list[tuple[str, int]]
    by_sector: list[tuple[str, int]]
    by_county: list[tuple[str, int]]
    by_interest: list[tuple[str, int]]
    per_day: list[tuple[dt.date, int]]  # calendar days in ``day_zone``
    day_zone: str = "UTC"
    places: Places | None = None


@dataclass
class Places:
    """Approved registrations and the delegates they bring, against the event's capacity
    (people; None when the event has no limit)."""

    registrations: int
    delegates: int
    capacity: int | None

    @property
    def over(self) -> int:
        """How many delegates more than the capacity are approved (0 when within it)."""
        return max(0, self.delegates - self.capacity) if self.capacity else 0


def approved_places(event: Event) -> Places:
    """:class:`Places` of ``event`` as stored now (one query)."""
    registrations, delegates = db.session.execute(
        select(func.count(Registration.id), func.coalesce(func.sum(Registration.delegates), 0))
        .where(Registration.event_id == event.id,
               Registration.status == RegistrationStatus.APPROVED.value)).one()
    return Places(int(registrations), int(delegates), event.capacity)


def over_capacity_warning(event: Event, decision: str) -> str | None:
    """A warning for the organizer whose ``decision`` (just applied to some registrations of
    ``event``) approved past the event's capacity, else None.

    Approving stays possible (the organizers decide who comes; a capacity can be raised), but
    nobody should pass the limit without being told.
    """
    if decision != RegistrationStatus.APPROVED.value or not event.capacity:
        return None
    places = approved_places(event)
    if not places.over:
        return None
    return (f"Approved registrations now bring {places.delegates} delegates, {places.over} "
            f"more than this event's capacity of {places.capacity}. Waitlist some, or raise "
            "the capacity in the event's settings.")


def utc_offset_spans(zone: str, start: dt.datetime, end: dt.datetime
                     ) -> list[tuple[dt.datetime | None, int]]:
    """The UTC offsets (minutes) of ``zone`` from ``start`` to ``end`` (aware datetimes):
    ``[(until, offset), ..., (None, last offset)]``, each offset in force before its
    ``until`` (the transition, to the minute) and after the previous one."""
    tz = ZoneInfo(zone)

    def offset(at: dt.datetime) -> int:
        delta = at.astimezone(tz).utcoffset() or dt.timedelta(0)
        return int(delta.total_seconds() // 60)

    spans: list[tuple[dt.datetime | None, int]] = []
    current, at = offset(start), start
    while at < end:
        step = min(at + dt.timedelta(days=1), end)
        if offset(step) != current:  # a transition within (at, step]: find it to the minute
            low, high = at, step
            while high - low > dt.timedelta(minutes=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if offset(mid) == current else (low, mid)
            spans.append((high.replace(second=0, microsecond=0), current))
            current, step = offset(high), high
        at = step
    spans.append((None, current))
    return spans


def _local_day(zone: str, where: Any) -> Any:
    """SQL for the calendar day, in the time zone ``zone``, of a registration's ``created_at``.

    PostgreSQL converts with its own zone data. SQLite has none: the day is the UTC time
    shifted by the zone's offset, which only changes at the transitions (daylight saving)
    between the first and the last registration (``where``), so one CASE covers them all.
    """
    column = Registration.created_at
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(zone, column))
    first, last = db.session.execute(select(func.min(column), func.max(column)).where(where)
                                     ).one()
    spans = utc_offset_spans(zone, first, last) if first is not None else [(None, 0)]

    def shifted(minutes: int) -> Any:
        return func.date(column, f"{minutes:+d} minutes")

    if len(spans) == 1:
        return shifted(spans[0][1])
    return case(*[(column < until, shifted(minutes)) for until, minutes in spans[:-1]],
                else_=shifted(spans[-1][1]))


def event_stats(event: Event) -> EventStats:
    """Counts for the event dashboard (five grouped queries; on SQLite one more for the span
    of the registrations' days). Days are calendar days in the event's time zone."""
    where = Registration.event_id == event.id

    def grouped(column: Any) -> dict[str, int]:
        rows = db.session.execute(
            select(column, func.count(Registration.id)).where(where).group_by(column))
        return {str(key): count for key, count in rows}

    statuses = grouped(Registration.status)
    sectors = grouped(Registration.sector)
    counties = grouped(Registration.county)
    interest_row = db.session.execute(select(*[
        func.coalesce(func.sum(cast(getattr(Registration, f"interest_{code}"), Integer)), 0)
        for code, _ in INTERESTS]).where(where)).one()
    zone = event_zone(event)
    day = _local_day(zone, where)
    days: dict[dt.date, int] = {}
    for raw, count in db.session.execute(
            select(day, func.count(Registration.id)).where(where).group_by(day).order_by(day)):
        key = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
        days[key] = count
    per_day: list[tuple[dt.date, int]] = []
    if days:
        first, last = min(days), max(days)
        per_day = [(first + dt.timedelta(n), days.get(first + dt.timedelta(n), 0))
                   for n in range((last - first).days + 1)]
    return EventStats(
        total=sum(statuses.values()),
        by_status=[(code, statuses.get(code, 0)) for code, _ in STATUSES],
        by_sector=[(code, sectors.get(code, 0)) for code, _ in SECTORS],
        by_county=sorted(counties.items(), key=lambda kv: (-kv[1], kv[0])),
        by_interest=[(code, int(n)) for (code, _), n in zip(INTERESTS, interest_row, strict=True)],
        per_day=per_day,
        day_zone=zone,
        places=approved_places(event),
    )


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: dt.date
    count: int


@dataclass
class BarChart:
    """Geometry of the registrations-per-day chart, drawn as SVG by the template."""

    width: int
    height: int
    bars: list[Bar]
    max_count: int
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, label) on the day axis
    baseline: float = 0.0


def bar_chart(per_day: Sequence[tuple[dt.date, int]], width: int = 720, height: int = 220,
              max_bars: int = 120) -> BarChart:
    """Lay out one bar per day (the last ``max_bars`` days) in a ``width`` x ``height`` box."""
    data = list(per_day)[-max_bars:]
    top, bottom, left, right = 16.0, 28.0, 36.0, 8.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((n for _, n in data), default=0)
    chart = BarChart(width, height, [], peak, baseline=top + plot_h)
    if not data:
        return chart
    slot = plot_w / len(data)
    gap = min(2.0, slot * 0.2)
    for i, (day, count) in enumerate(data):
        h = plot_h * count / peak if peak else 0.0
        chart.bars.append(Bar(round(left + i * slot + gap / 2, 2), round(top + plot_h - h, 2),
                              round(max(slot - gap, 0.5), 2), round(h, 2), day, count))
    step = max(1, math.ceil(len(data) / 8))
    chart.ticks = [(round(left + i * slot + slot / 2, 2), day.strftime("%b %-d"))
                   for i, (day, _) in enumerate(data) if i % step == 0]
    return chart


# --- review ---------------------------------------------------------------------------------

def change_status(reg: Registration, to_status: str, organizer: Organizer) -> bool:
    """Approve, waitlist or decline one registration; False when it already had that status."""
    if to_status not in DECISIONS:
        raise ServiceError("Unknown decision.")
    if reg.status == to_status:
        return False
    if reg.status not in DECIDABLE_FROM:
        raise ServiceError("This registration was withdrawn by the registrant; it cannot be "
                           "approved, waitlisted or declined.")
    db.session.add(AuditEntry(registration_id=reg.id, organizer_id=organizer.id,
                              actor="organizer", action="status_changed",
                              from_status=reg.status, to_status=to_status))
    reg.status = to_status
    return True


@dataclass
class BulkResult:
    changed: int
    unchanged: int


def bulk_change_status(event: Event, to_status: str, organizer: Organizer, *,
                       ids: Iterable[int] | None = None,
                       filters: ListFilters | None = None) -> BulkResult:
    """Apply a decision to the chosen ids, or to everything ``filters`` match, in the event.

    Set-based: one locking SELECT, then one UPDATE and one multi-row INSERT into the audit
    log per chunk of ids, however many rows change. Withdrawn registrations and those that
    already have the status are left alone and counted as unchanged.
    """
    if to_status not in DECISIONS:
        raise ServiceError("Unknown decision.")
    if ids is None and filters is None:
        raise ServiceError("Choose registrations first.")
    conds = filter_conditions(event.id, filters or ListFilters())
    if ids is not None:
        id_list = sorted({int(i) for i in ids})
        if not id_list:
            raise ServiceError("Choose at least one registration.")
        if len(id_list) > 5000:
            raise ServiceError("Choose at most 5000 registrations at once, or apply the "
                               "decision to everything the filters match.")
        conds.append(Registration.id.in_(id_list))
        matched = db.session.scalar(select(func.count(Registration.id)).where(*conds)) or 0
    else:
        matched = db.session.scalar(select(func.count(Registration.id)).where(*conds)) or 0
    rows = db.session.execute(
        select(Registration.id, Registration.status)
        .where(*conds, Registration.status.in_(DECIDABLE_FROM), Registration.status != to_status)
        .order_by(Registration.id).with_for_update()).all()
    now = utcnow()
    for start in range(0, len(rows), BULK_CHUNK):
        chunk = rows[start:start + BULK_CHUNK]
        db.session.execute(insert(AuditEntry), [
            {"registration_id": rid, "organizer_id": organizer.id, "actor": "organizer",
             "action": "status_changed", "from_status": status, "to_status": to_status,
             "detail": "bulk", "at": now} for rid, status in chunk])
        db.session.execute(
            update(Registration).where(Registration.id.in_([rid for rid, _ in chunk]))
            .values(status=to_status, updated_at=now).execution_options(
                synchronize_session=False))
    db.session.expire_all()
    return BulkResult(changed=len(rows), unchanged=matched - len(rows))


def add_note(reg: Registration, organizer: Organizer, body: str) -> OrganizerNote:
    body = body.strip()
    if not body:
        raise ServiceError("The note is empty.")
    if reg.erased_at is not None:
        raise ServiceError("This registration's personal data was erased: no notes about "
                           "the person can be added.")
    note = OrganizerNote(registration_id=reg.id, organizer_id=organizer.id, body=body)
    db.session.add(note)
    return note


@dataclass
class AuditLine:
    entry: AuditEntry
    organizer_name: str | None


@dataclass
class NoteLine:
    note: OrganizerNote
    organizer_name: str | None


@dataclass
class MailLine:
    """One message sent (or to be sent) to the registrant, as its page lists it."""

    id: int
    kind: str
    subject: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str
    invitation: bool  # invitation mail (not sent again to an address that unsubscribed)


@dataclass
class Detail:
    reg: Registration
    audit: list[AuditLine]
    notes: list[NoteLine]
    duplicates: list[duplicates.Warning]
    mail: list[MailLine] = field(default_factory=list)
    unsubscribed: bool = False  # the address opted out of invitation mail


def registration_detail(reg: Registration) -> Detail:
    """Everything the detail page shows (a fixed number of queries)."""
    who = aliased(Organizer)
    audit = [AuditLine(entry, name) for entry, name in db.session.execute(
        select(AuditEntry, who.name).outerjoin(who, who.id == AuditEntry.organizer_id)
        .where(AuditEntry.registration_id == reg.id).order_by(AuditEntry.at, AuditEntry.id))]
    notes = [NoteLine(note, name) for note, name in db.session.execute(
        select(OrganizerNote, who.name).outerjoin(who, who.id == OrganizerNote.organizer_id)
        .where(OrganizerNote.registration_id == reg.id).order_by(OrganizerNote.id))]
    mail = [MailLine(*row) for row in db.session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.subject, OutboxMessage.status,
               OutboxMessage.created_at, OutboxMessage.sent_at, OutboxMessage.last_error,
               OutboxMessage.invitation_id.is_not(None))
        .where(OutboxMessage.registration_id == reg.id).order_by(OutboxMessage.id))]
    return Detail(reg, audit, notes, duplicates.find_for(reg), mail, _unsubscribed(reg))


def _unsubscribed(reg: Registration) -> bool:
    return db.session.scalar(select(MailOptOut.id).where(
        MailOptOut.email_normalized == reg.email_normalized)) is not None


def resend_mail(reg: Registration, outbox_id: int, organizer: Organizer) -> list[int]:
    """Queue the failed message ``outbox_id`` of ``reg`` again, unchanged (same
    Message-ID); its ids for dispatch. LookupError when it is not one of ``reg``'s."""
    row = db.session.get(OutboxMessage, outbox_id)
    if row is None or row.registration_id != reg.id:
        raise LookupError(outbox_id)
    if row.status != OutboxStatus.FAILED:
        raise ServiceError(f"Only a message that failed can be sent again; this one is "
                           f"{row.status}.")
    if row.invitation_id is not None and _unsubscribed(reg):
        raise ServiceError("The registrant unsubscribed from invitation mail.")
    db.session.add(AuditEntry(registration_id=reg.id, organizer_id=organizer.id,
                              actor="organizer", action="mail_resent",
                              detail=f"{row.kind} #{row.id}"))
    return requeue([row.id])


# --- on someone's behalf --------------------------------------------------------------------

@dataclass
class AddResult:
    registration_id: int
    outbox_ids: list[int | None]


def add_registration(event: Event, data: dict[str, Any], organizer: Organizer, *,
                     send_mail: bool = True) -> AddResult:
    """Register someone for ``event`` on their behalf (whether or not the event is open).

    The registrant's consent was collected by the organizer (the form asks them to confirm
    it). With ``send_mail`` the registrant receives the usual confirmation with their
    private manage link.
    """
    existing = db.session.scalar(select(Registration.id).where(
        Registration.event_id == event.id,
        Registration.email_normalized == data["email"].lower()))
    if existing is not None:
        raise DuplicateRegistration(existing, data["email"])
    token, token_hash = new_token()
    values = registration_services.registration_values(event, data, utcnow(), "organizer")
    reg = Registration(**values, manage_token_hash=token_hash)
    try:
        with db.session.begin_nested():
            db.session.add(reg)
    except IntegrityError as exc:  # registered by someone else a moment ago
        raise ServiceError(f"{data['email']} was registered a moment ago; reload.") from exc
    db.session.add(AuditEntry(registration_id=reg.id, organizer_id=organizer.id,
                              actor="organizer", action="submitted", to_status=reg.status,
                              detail="source=organizer"))
    outbox = [registration_services.queue_received_mail(reg, token)] if send_mail else []
    return AddResult(reg.id, outbox)


def correct_registration(reg: Registration, data: dict[str, Any],
                         organizer: Organizer) -> list[str]:
    """Correct a registration (email included); return the names of the changed fields."""
    changed: list[str] = []
    new_email = data.get("email")
    if new_email and new_email != reg.email:
        if new_email.lower() != reg.email_normalized:
            clash = db.session.scalar(select(Registration.id).where(
                Registration.event_id == reg.event_id,
                Registration.email_normalized == new_email.lower(), Registration.id != reg.id))
            if clash is not None:
                raise DuplicateRegistration(clash, new_email)
        # a change of letter case alone is audited too: mail goes to the address as written
        reg.email, reg.email_normalized = new_email, new_email.lower()
        changed.append("email")
        db.session.add(AuditEntry(registration_id=reg.id, organizer_id=organizer.id,
                                  actor="organizer", action="edited", detail="changed: email"))
    changed += registration_services.update(reg, data, actor="organizer",
                                            organizer_id=organizer.id)
    return changed


def bulk_insert_registrations(event: Event, rows: list[dict[str, Any]],
                              organizer: Organizer) -> int:
    """Insert already validated, duplicate-free rows (the CSV import); no mail is sent."""
    if not rows:  # every row became a duplicate since the preview: nothing to insert
        return 0
    now = utcnow()
    regs = []
    for data in rows:
        _, token_hash = new_token()  # nobody knows this link; "resend link" issues a new one
        values = registration_services.registration_values(event, data, now, "import")
        regs.append(Registration(**values, manage_token_hash=token_hash))
    db.session.add_all(regs)
    db.session.flush()
    db.session.execute(insert(AuditEntry), [
        {"registration_id": r.id, "organizer_id": organizer.id, "actor": "organizer",
         "action": "submitted", "to_status": r.status, "detail": "source=import", "at": now}
        for r in regs])
    return len(regs)


def events_with_counts() -> list[tuple[Event, int]]:
    """Every event (published or not) with its number of registrations, soonest first."""
    counts = (select(Registration.event_id, func.count(Registration.id).label("n"))
              .group_by(Registration.event_id).subquery())
    rows = db.session.execute(
        select(Event, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, and_(counts.c.event_id == Event.id))
        .order_by(Event.start_date, Event.id))
    return [(event, int(n)) for event, n in rows]
