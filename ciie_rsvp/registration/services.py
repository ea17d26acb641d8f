"""Registration rules: open/closed events, one registration per (event, email), manage links.

Services never commit; the caller (a view or CLI command) commits once, then dispatches the
outbox ids it got back.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, exists, insert, select, true

from ..choices import INTERESTS
from ..database import execute_direct, insert_ignore, insert_returning_id, upsert_insert
from ..emails import BuiltMessage, build_message_bytes, clean_header, format_address
from ..extensions import db
from ..i18n import locale_for, localized
from ..models import (
    AuditEntry,
    Event,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    UTCDateTime,
    accepting_registrations_sql,
    registration_state_at,
    utcnow,
)
from ..outbox import ComposeError, ComposeJob, composed_row, queue_row, register_composer
from ..tokens import hash_token, looks_like_token, new_token

EDITABLE_FIELDS = (
    "company", "website", "sector", "company_size", "county", "first_name", "last_name",
    "job_title", "phone", "interests", "delegates", "language", "notes",
)


class RegistrationClosed(Exception):
    """The event does not take registrations now."""

    def __init__(self, event: Event, state: str) -> None:
        super().__init__(state)
        self.event, self.state = event, state


@dataclass
class SubmitResult:
    registration_id: int
    created: bool
    outbox_ids: list[int | None] = field(default_factory=list)


def open_events() -> list[Event]:
    """Published events, soonest first."""
    return list(db.session.scalars(
        select(Event).where(Event.is_published.is_(True)).order_by(Event.start_date, Event.id)))


def get_event(slug: str) -> Event | None:
    if len(slug) > 80:
        return None
    return db.session.scalar(select(Event).where(Event.slug == slug))


def event_for_form(slug: str) -> Event | None:
    """The event as the public form shows it: a read-only copy, not attached to the session.

    Served from a copy kept in this process for ``PUBLIC_EVENT_CACHE_MS`` (the busiest page
    then reads nothing from the database). That bounds how long an organizer's edit takes to
    show on the form; :func:`submit` checks the stored state again in the write transaction,
    so an event that closed or was unpublished meanwhile takes no registration.
    """
    ttl = current_app.config.get("PUBLIC_EVENT_CACHE_MS", 0) / 1000
    cache: dict[str, tuple[float, Event]] = current_app.extensions.setdefault(
        "ciie_rsvp.public_events", {})
    now = time.monotonic()
    hit = cache.get(slug)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    event = get_event(slug)
    if event is None:
        return None
    copy = event.read_only_copy()
    if ttl > 0:
        if len(cache) >= 256:  # slugs are organizers' events: a handful; never grows unbounded
            cache.clear()
        cache[slug] = (now, copy)
    return copy


def manage_url(token: str) -> str:
    """Absolute manage link, always from ``BASE_URL`` (never from the request's Host)."""
    return f"{current_app.config['BASE_URL']}/r/{token}"


def registration_values(event: Event, data: dict[str, Any], now: dt.datetime,
                        source: str) -> dict[str, Any]:
    """Column values of a new registration from cleaned form data (no manage token yet)."""
    values = {k: v for k, v in data.items() if k != "interests"}
    values.update(
        {f"interest_{code}": code in data["interests"] for code, _ in INTERESTS},
        event_id=event.id,
        email_normalized=data["email"].lower(),
        status=RegistrationStatus.SUBMITTED.value,
        source=source,
        consent_at=now,
        consent_notice_version=current_app.config["PRIVACY_NOTICE_VERSION"],
        created_at=now,
        updated_at=now,
    )
    return values


def stored_registration_state(event_id: int, now: dt.datetime) -> str:
    """The event's registration state as stored now, read with one small query in the
    caller's transaction (the write transaction, when submit() checks it)."""
    rows = execute_direct(_STORED_STATE, {"event_id": event_id})
    if not rows or not rows[0][0]:
        return "closed"
    return registration_state_at(rows[0][1], rows[0][2], now, rows[0][3])


_STORED_STATE = select(
    Event.is_published, Event.registration_opens_at, Event.registration_closes_at,
    Event.ends_at,
).where(Event.id == bindparam("event_id"))


def submit(event: Event, data: dict[str, Any], *, source: str = "web",
           now: dt.datetime | None = None) -> SubmitResult:
    """Store a registration, or find the one this email already has; queue the right email.

    Racing submissions for the same (event, email) end in one row: the insert is an
    ``INSERT ... ON CONFLICT DO NOTHING`` on the unique key, and we act on what is stored.
    """
    now = now or utcnow()
    token, token_hash = new_token()
    values = registration_values(event, data, now, source)
    values["manage_token_hash"] = token_hash
    received = _mail_row(values["email"], values["language"], event, token,
                         "registration_received")
    # Everything above is made before the write begins: on SQLite the write lock is then held
    # for the statements alone, not for the Python work between them.
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        stored = _insert_new_in_one_statement(values, received, source)
        if stored is not None:
            return stored
    else:
        new_id = _insert_while_open(values, dialect)
        if new_id is not None:
            return _stored_new(new_id, values, received, source)
    # Nothing stored: the event stopped taking registrations, or the address is already
    # registered. Find out which. (Inserting again covers the rare races between the two
    # statements, on PostgreSQL: the event opened, or the row was purged, meanwhile.)
    state = stored_registration_state(event.id, now)
    if state != "open":
        raise RegistrationClosed(event, state)
    new_id = insert_ignore(Registration, values, ["event_id", "email_normalized"])
    if new_id is not None:
        return _stored_new(new_id, values, received, source)
    # Already registered: keep what is stored, send the owner of the address a fresh link.
    # Lock the row first: racing duplicates then queue up here instead of deadlocking on the
    # token update (a unique column) against each other's audit-row foreign-key locks.
    reg = db.session.scalar(select(Registration).where(
        Registration.event_id == event.id,
        Registration.email_normalized == values["email_normalized"]).with_for_update())
    assert reg is not None
    reg.manage_token_hash = token_hash
    db.session.add(AuditEntry(registration_id=reg.id, actor="registrant",
                              action="repeat_submission", detail="new manage link sent"))
    return SubmitResult(reg.id, False, [queue_row(_mail_row(
        reg.email, reg.language, event, token, "registration_exists", registration_id=reg.id))])


def _stored_new(new_id: int, values: dict[str, Any], mail: dict[str, Any],
                source: str) -> SubmitResult:
    """The audit row and the queued ``mail`` of the registration ``values`` just stored as
    ``new_id``. The stored row is ``values`` plus its id: nothing is read back, and the audit
    row goes in as one plain INSERT (profiled: the read-back and the ORM flush were a fifth of
    the database work of a registration)."""
    insert_returning_id(AuditEntry, {"registration_id": new_id,
                                     **_submitted_audit(values, source)})
    mail["registration_id"] = new_id
    return SubmitResult(new_id, True, [queue_row(mail)])


def _submitted_audit(values: dict[str, Any], source: str) -> dict[str, Any]:
    """The audit row of a new registration with column ``values`` (but its id)."""
    return {"at": values["created_at"], "actor": "registrant", "action": "submitted",
            "to_status": values["status"], "detail": f"source={source}"}


def _insert_while_open(values: dict[str, Any], dialect: str) -> int | None:
    """INSERT the registration ``values`` if its event takes registrations now and the address
    is new for it; its id, or None when nothing was inserted (one statement: the window check
    rides along instead of a SELECT of its own before the INSERT)."""
    rows = execute_direct(_registration_insert(tuple(values), dialect),
                          _registration_params(values))
    return rows[0][0] if rows else None


def _registration_params(values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of :func:`_registration_insert` for the registration ``values``."""
    return {"now": values["created_at"], **{f"r_{k}": v for k, v in values.items()}}


def _binds(prefix: str, table: Any, names: tuple[str, ...]) -> list[Any]:
    """Typed bound parameters ``<prefix><column>`` for the columns ``names`` of ``table``."""
    return [bindparam(prefix + name, type_=table.c[name].type) for name in names]


@functools.lru_cache(maxsize=8)
def _registration_insert(registration: tuple[str, ...], dialect: str) -> Any:
    """``INSERT INTO registrations (...) SELECT <values> WHERE <the event takes registrations>
    ON CONFLICT (event_id, email_normalized) DO NOTHING RETURNING id``, for ``dialect``.

    The window is :func:`accepting_registrations_sql`; parameters are ``now`` and the given
    columns prefixed ``r_``.
    """
    reg_t = Registration.__table__
    reg_values = _binds("r_", reg_t, registration)
    takes_registrations = exists().where(
        Event.id == reg_values[registration.index("event_id")],
        accepting_registrations_sql(bindparam("now", type_=UTCDateTime)))
    return (upsert_insert(reg_t, dialect)
            .from_select(list(registration), select(*reg_values).where(takes_registrations))
            .on_conflict_do_nothing(index_elements=["event_id", "email_normalized"])
            .returning(reg_t.c.id))


def _insert_new_in_one_statement(values: dict[str, Any], mail: dict[str, Any],
                                 source: str) -> SubmitResult | None:
    """PostgreSQL: the registration, its audit row and its confirmation's outbox row in one
    statement, or None when nothing was stored (see :func:`_new_registration_statement`).

    The same rows the statement-by-statement path writes, in one round trip instead of four
    (profiled: on PostgreSQL the round trips were most of a registration's time).
    """
    audit = _submitted_audit(values, source)
    mail = {k: v for k, v in mail.items() if k != "registration_id"}
    params = {**_registration_params(values),
              **{f"a_{k}": v for k, v in audit.items()},
              **{f"o_{k}": v for k, v in mail.items()}}
    rows = execute_direct(_new_registration_statement(tuple(values), tuple(audit), tuple(mail)),
                          params)
    if not rows:
        return None
    new_id, outbox_id = rows[0]
    return SubmitResult(new_id, True, [outbox_id])


@functools.lru_cache(maxsize=8)
def _new_registration_statement(registration: tuple[str, ...], audit: tuple[str, ...],
                                mail: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL (data-modifying CTEs): insert the registration only while its event takes
    registrations (:func:`accepting_registrations_sql`) and only if the address is new for
    it (``ON CONFLICT DO NOTHING``); then, for the row inserted, the audit row and the outbox
    row. Answers ``(registration id, outbox id)``, or no row when nothing was inserted.
    Parameters: ``now``, and the given columns prefixed ``r_``, ``a_`` and ``o_``.
    """
    audit_t, box_t = AuditEntry.__table__, OutboxMessage.__table__
    new_registration = _registration_insert(registration, "postgresql").cte("new_registration")

    def row_of_new_registration(table: Any, prefix: str, names: tuple[str, ...]) -> Any:
        return (insert(table)
                .from_select(["registration_id", *names],
                             select(new_registration.c.id, *_binds(prefix, table, names)))
                .returning(table.c.id)
                .cte(f"new_{table.name}"))

    audit_row = row_of_new_registration(audit_t, "a_", audit)
    outbox_row = row_of_new_registration(box_t, "o_", mail)
    return (select(new_registration.c.id, outbox_row.c.id)
            .select_from(new_registration.join(outbox_row, true()))
            .add_cte(audit_row))


def queue_received_mail(reg: Registration, token: str) -> int | None:
    """Queue the "registration received" email with the manage link ``token`` for ``reg``."""
    return queue_row(_mail_row(reg.email, reg.language, reg.event, token,
                               "registration_received", registration_id=reg.id))


# Subjects are plain gettext (msgids as in the catalog), so queueing renders no template.
_SUBJECTS = {
    "registration_received": _l("Registration received: %(event)s"),
    "registration_exists": _l("You are already registered: %(event)s"),
}


def _subject(template: str, event: Any) -> str:
    """The subject of ``template`` for ``event`` (anything with ``name_en`` and ``name_zh``),
    in the locale in force."""
    return str(_SUBJECTS[template] % {"event": localized(event, "name")})


class _EventNames(NamedTuple):
    name_en: str
    name_zh: str


@functools.lru_cache(maxsize=256)
def _subject_in(locale: str, template: str, names: _EventNames) -> str:
    """:func:`_subject` in ``locale``, made once per locale, template and event name: the
    subjects are a handful, and switching the locale and looking the message up cost half of
    making a registration's mail row (profiled)."""
    with force_locale(locale):
        return clean_header(_subject(template, names))


def _mail_row(email: str, language: str, event: Event, token: str, template: str,
              registration_id: int | None = None) -> dict[str, Any]:
    """The outbox row of ``email/<template>.txt|.html`` for a registration of ``event``, with
    the manage link ``token``, in the registrant's ``language``, for :func:`queue_row` (a
    caller that makes it before the registration exists sets ``registration_id`` later).

    Only the envelope and subject are made here; the delivery worker writes the body
    (:func:`compose_mail`), which keeps rendering and encoding the email out of the request.
    """
    subject = _subject_in(locale_for(language), template,
                          _EventNames(event.name_en or "", event.name_zh or ""))
    return composed_row(
        template,
        sender=current_app.config["MAIL_FROM"],
        recipient=email,
        subject=subject,
        params={"token": token},
        registration_id=registration_id,
    )


def compose_mail(job: ComposeJob) -> BuiltMessage:
    """Write a queued registration email (called by the delivery worker)."""
    reg = db.session.get(Registration, job.registration_id) if job.registration_id else None
    if reg is None or reg.erased_at is not None:
        raise ComposeError("the registration this email was for no longer exists")
    context = {"registration": reg, "event": reg.event,
               "manage_url": manage_url(job.params["token"])}
    with force_locale(locale_for(reg.language)):
        subject = _subject(job.kind, reg.event)
        text = render_template(f"email/{job.kind}.txt", **context)
        html = render_template(f"email/{job.kind}.html", **context)
    return build_message_bytes(
        sender=current_app.config["MAIL_FROM"],
        to=format_address(reg.full_name, reg.email),
        reply_to=current_app.config.get("MAIL_REPLY_TO"),
        subject=subject,
        text=text,
        html=html,
        message_id=job.message_id,
    )


for _kind in _SUBJECTS:
    register_composer(_kind, compose_mail)


def find_by_token(token: str) -> Registration | None:
    """The registration a manage link points to, or None for an unknown or malformed token."""
    if not looks_like_token(token):
        return None
    return db.session.scalar(
        select(Registration).where(Registration.manage_token_hash == hash_token(token),
                                   Registration.erased_at.is_(None)))


def update(reg: Registration, data: dict[str, Any], *, actor: str = "registrant",
           organizer_id: int | None = None) -> list[str]:
    """Apply corrections; return the names of the fields that changed (audited)."""
    changed = []
    for name in EDITABLE_FIELDS:
        if name in data and getattr(reg, name) != data[name]:
            setattr(reg, name, data[name])
            changed.append(name)
    if changed:
        db.session.add(AuditEntry(registration_id=reg.id, actor=actor, organizer_id=organizer_id,
                                  action="edited", detail="changed: " + ", ".join(changed)))
    return changed


def withdraw(reg: Registration, *, actor: str = "registrant") -> bool:
    """Withdraw a registration; False when it already was (idempotent)."""
    if reg.status == RegistrationStatus.WITHDRAWN:
        return False
    db.session.add(AuditEntry(registration_id=reg.id, actor=actor, action="withdrawn",
                              from_status=reg.status, to_status="withdrawn"))
    reg.status = RegistrationStatus.WITHDRAWN.value
    reg.withdrawn_at = utcnow()
    return True


def restore(reg: Registration, *, actor: str = "registrant") -> bool:
    """Undo a withdrawal: the registration goes back to review as submitted."""
    if reg.status != RegistrationStatus.WITHDRAWN:
        return False
    event = reg.event
    if not event.is_open():
        raise RegistrationClosed(event, event.registration_state())
    db.session.add(AuditEntry(registration_id=reg.id, actor=actor, action="restored",
                              from_status="withdrawn", to_status="submitted"))
    reg.status = RegistrationStatus.SUBMITTED.value
    reg.withdrawn_at = None
    return True
