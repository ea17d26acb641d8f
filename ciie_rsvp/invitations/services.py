"""Invitation rules: templates, preflight, sending, reminders, RSVP answers, opt-outs.

Services never commit; the caller (a view or CLI command) commits once, then dispatches the
outbox ids it got back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from .. import choices
from ..database import insert_ignore, insert_ignore_many
from ..emails import (
    Attachment,
    BuiltMessage,
    HeaderInjectionError,
    build_message_bytes,
    clean_header,
    format_address,
)
from ..extensions import db
from ..i18n import (
    event_hours,
    format_event_date,
    format_event_when,
    format_rsvp_deadline,
    locale_for,
    text_in,
)
from ..models import (
    PLACE_FIELDS,
    PLACE_FIELDS_ZH,
    SCHEDULE_FIELDS,
    AuditEntry,
    Event,
    Invitation,
    InvitationTemplate,
    MailOptOut,
    OutboxMessage,
    OutboxStatus,
    Registration,
    RegistrationStatus,
    RsvpAnswer,
    utcnow,
    written_name,
)
from ..outbox import enqueue_many, outbox_row, requeue
from ..tokens import derived_token, hash_token, looks_like_token, new_token
from ..validation import normalize_email
from .calendar import PARTSTATS, Person, event_ics
from .rendering import Rendered, RenderError, TemplateParts, check_syntax, render

if TYPE_CHECKING:
    from ..organizer.services import Page

LANGUAGES = ("en", "zh-Hans")
DEFAULT_TEMPLATE = "welcome"
MAX_SOURCE = 64 * 1024
SAMPLES = 5
TOKEN_PURPOSE = "rsvp"  # noqa: S105 - an HMAC domain label, not a secret


class InvitationError(Exception):
    """A request the rules refuse (shown to the person as is)."""


class RsvpClosed(InvitationError):
    """The event's RSVP deadline has passed, or the registration was withdrawn."""


class TooManyGuests(InvitationError):
    """More guests than the event lets an invitee bring."""


# --- templates ------------------------------------------------------------------------------


# Where an event's first invitation comes from: ``conference`` is the welcome invitation of
# the 2022 conference in the article (seeded with its event, its facts written in);
# ``starter`` says the same with placeholders only, for any event.
TEMPLATE_SOURCES = ("conference", "starter")


def template_files(name: str, language: str, source: str = "starter") -> TemplateParts:
    """The shipped template ``templates/<source>/<name>.<language>.*``."""
    if source not in TEMPLATE_SOURCES:
        raise ValueError(f"unknown template source {source!r}")
    folder = Path(current_app.template_folder or "templates") / source  # type: ignore[arg-type]
    stem = folder / f"{name}.{language}"
    return TemplateParts(
        subject=stem.with_name(stem.name + ".subject.txt").read_text("utf-8").strip(),
        html=stem.with_name(stem.name + ".html").read_text("utf-8"),
        text=stem.with_name(stem.name + ".txt").read_text("utf-8"),
    )


def seed_templates(event: Event, name: str = DEFAULT_TEMPLATE, *,
                   source: str = "starter") -> list[str]:
    """Create ``name`` for ``event`` in every language from the shipped files of ``source``
    (idempotent: languages that exist are kept); the languages created."""
    created = []
    for language in LANGUAGES:
        exists = db.session.scalar(select(InvitationTemplate.id).where(
            InvitationTemplate.event_id == event.id, InvitationTemplate.name == name,
            InvitationTemplate.language == language))
        if exists is None:
            parts = template_files(name, language, source)
            db.session.add(InvitationTemplate(
                event_id=event.id, name=name, language=language, subject=parts.subject,
                body_html=parts.html, body_text=parts.text, version=1))
            created.append(language)
    db.session.flush()
    return created


def templates_of(event: Event, name: str) -> dict[str, InvitationTemplate]:
    """The languages of template ``name`` of ``event``."""
    rows = db.session.scalars(select(InvitationTemplate).where(
        InvitationTemplate.event_id == event.id, InvitationTemplate.name == name))
    return {row.language: row for row in rows}


def template_names(event: Event) -> list[str]:
    return list(db.session.scalars(
        select(InvitationTemplate.name).where(InvitationTemplate.event_id == event.id)
        .distinct().order_by(InvitationTemplate.name)))


def validate_parts(parts: TemplateParts) -> list[str]:
    """Syntax errors of a template, each with its part and line; empty when it parses."""
    errors = []
    for part, source in (("subject", parts.subject), ("HTML body", parts.html),
                         ("text body", parts.text)):
        if len(source) > MAX_SOURCE:
            errors.append(f"{part}: longer than {MAX_SOURCE // 1024} KB")
            continue
        try:
            check_syntax(source, part=part)
        except RenderError as exc:
            errors.append(str(exc))
    if "\n" in parts.subject.strip() or "\r" in parts.subject:
        errors.append("subject: must be a single line")
    return errors


def save_template(event: Event, name: str, language: str, parts: TemplateParts, *,
                  organizer_id: int | None = None) -> InvitationTemplate:
    """Create or change a template; a change bumps its version. Refuses what does not parse."""
    if language not in LANGUAGES:
        raise InvitationError(f"unknown language {language!r}")
    errors = validate_parts(parts)
    if errors:
        raise InvitationError("; ".join(errors))
    row = templates_of(event, name).get(language)
    if row is None:
        row = InvitationTemplate(event_id=event.id, name=name, language=language, version=1,
                                 subject=parts.subject.strip(), body_html=parts.html,
                                 body_text=parts.text, updated_by=organizer_id)
        db.session.add(row)
    elif (row.subject, row.body_html, row.body_text) != (parts.subject.strip(), parts.html,
                                                          parts.text):
        row.subject, row.body_html, row.body_text = parts.subject.strip(), parts.html, parts.text
        row.version += 1
        row.updated_by = organizer_id
    db.session.flush()
    return row


def parts_of(row: InvitationTemplate) -> TemplateParts:
    return TemplateParts(row.subject, row.body_html, row.body_text)


# --- placeholder data -------------------------------------------------------------------------


def event_data(event: Event, language: str) -> dict[str, str]:
    return {
        "name": event.text("name", language),
        "date": format_event_date(event, language),
        "time": event_hours(event, language),
        "place": event.place(language),
        "venue": event.text("venue", language),
        "city": event.text("city", language),
        "hosts": event.text("hosts", language),
        "organizers": event.text("organizers", language),
        "summary": event.text("summary", language),
        "rsvp_deadline": format_rsvp_deadline(event, language),
    }


def registrant_data(reg: Registration) -> dict[str, str]:
    return {
        "first_name": reg.first_name,
        "last_name": reg.last_name,
        "name": reg.full_name,
        "title": reg.job_title,
        "company": reg.company,
        "sector": choices.label(choices.SECTORS, reg.sector),
    }


def preview_candidates(event: Event, limit: int = 200) -> list[tuple[int, str, str]]:
    """(id, name, company) of registrants to preview a template for."""
    return [(reg_id, written_name(first, last), company)
            for reg_id, first, last, company in db.session.execute(
                select(Registration.id, Registration.first_name, Registration.last_name,
                       Registration.company).where(Registration.event_id == event.id)
                .order_by(Registration.id).limit(limit))]


def preview_registration(event: Event, registration_id: int | None) -> Registration | None:
    """The registration of ``event`` to preview for, or None (sample data is used then)."""
    reg = db.session.get(Registration, registration_id or 0)
    return reg if reg is not None and reg.event_id == event.id else None


def links_for(token: str) -> dict[str, str]:
    base = f"{current_app.config['BASE_URL']}/rsvp/{token}"
    return {
        "rsvp_accept_url": f"{base}?answer=accept",
        "rsvp_decline_url": f"{base}?answer=decline",
        "manage_url": f"{base}/manage",
        "calendar_url": f"{base}/calendar.ics",
    }


def placeholder_data(reg: Registration, event: Event, language: str,
                     links: dict[str, str]) -> dict[str, Any]:
    """The plain data a template sees (see ``rendering.PLACEHOLDERS``)."""
    return {"registrant": registrant_data(reg), "event": event_data(event, language),
            **links}


def render_for(row: InvitationTemplate, reg: Registration, event: Event,
               links: dict[str, str] | None = None) -> Rendered:
    """Render ``row`` for ``reg`` (preview links unless ``links``); raises RenderError."""
    data = placeholder_data(reg, event, row.language, links or links_for("preview"))
    rendered = render(parts_of(row), data,
                      seconds=current_app.config.get("TEMPLATE_RENDER_SECONDS", 2.0),
                      max_output=current_app.config.get("TEMPLATE_MAX_OUTPUT", 256 * 1024))
    try:
        rendered.subject = clean_header(rendered.subject)
    except HeaderInjectionError as exc:
        raise RenderError(str(exc), part="subject") from exc
    if not rendered.subject:
        raise RenderError("the subject is empty", part="subject")
    return rendered


# --- preflight ----------------------------------------------------------------------------------


@dataclass
class Check:
    """One recipient as preflight sees them."""

    registration_id: int
    name: str
    email: str
    language: str
    problem: str = ""  # "", render_failed, empty_placeholder, invalid_address, already_invited,
    # opted_out
    detail: str = ""
    rendered: Rendered | None = None
    template: InvitationTemplate | None = None
    address: str = ""
    # set when rendering for sending: the RSVP token the links carry
    nonce: str = ""
    token: str = ""
    registration: Registration | None = None


PROBLEMS = {
    "render_failed": "Render failed",
    "empty_placeholder": "Placeholder left empty",
    "invalid_address": "Invalid email address",
    "already_invited": "Already invited",
    "opted_out": "Unsubscribed",
}


@dataclass
class Preflight:
    event_slug: str
    template_name: str
    status: str
    checks: list[Check] = field(default_factory=list)
    template_missing: bool = False  # no English version (the one every language falls back to)
    template_exists: bool = True  # in any language
    # Event texts the Chinese template uses that have no Chinese version: Chinese invitations
    # show them in English (placeholder names, e.g. "hosts", "place").
    english_in_chinese: list[str] = field(default_factory=list)

    @property
    def chinese_ready(self) -> int:
        return sum(1 for c in self.ready if c.language == "zh-Hans")

    def missing_reason(self) -> str:
        """Why nothing can be sent, when :attr:`template_missing`."""
        if not self.template_exists:
            return (f"the event has no invitation template “{self.template_name}” yet: make "
                    "one on its Invitations page (“Start from the standard welcome "
                    "invitation”)")
        return f"the template “{self.template_name}” has no English version"

    @property
    def ready(self) -> list[Check]:
        return [c for c in self.checks if not c.problem]

    def with_problem(self, problem: str) -> list[Check]:
        return [c for c in self.checks if c.problem == problem]

    def counts(self) -> dict[str, int]:
        counts = {"selected": len(self.checks), "ready": len(self.ready)}
        counts.update({p: len(self.with_problem(p)) for p in PROBLEMS})
        return counts

    def samples(self, problem: str = "", limit: int = SAMPLES) -> list[Check]:
        rows = self.ready if not problem else self.with_problem(problem)
        return rows[:limit]


# Registrations no invitation goes to, whatever the selection: the registrant withdrew, or the
# organizers declined them.
NEVER_INVITED = (RegistrationStatus.WITHDRAWN.value, RegistrationStatus.DECLINED.value)
ANY_STATUS = "any but declined or withdrawn"  # what a selection without a status means


def _selection(event: Event, status: str | None) -> Any:
    """Registrations of ``event`` a send selects: with ``status`` (any when None), never
    withdrawn or declined ones (:data:`NEVER_INVITED`) nor those whose personal data was
    erased."""
    where = [Registration.event_id == event.id, Registration.erased_at.is_(None),
             Registration.status.not_in(NEVER_INVITED)]
    if status:
        where.append(Registration.status == status)
    return where


def select_recipients(event: Event, *, status: str | None = RegistrationStatus.APPROVED,
                      registration_ids: Iterable[int] | None = None) -> list[Registration]:
    query = select(Registration).where(*_selection(event, status))
    if registration_ids is not None:
        query = query.where(Registration.id.in_(list(registration_ids)))
    return list(db.session.scalars(query.order_by(Registration.id)))


def recipient_ids(event: Event, *, status: str | None = RegistrationStatus.APPROVED) -> list[int]:
    """Ids of the registrations a send selects, in order (for sending in chunks)."""
    return list(db.session.scalars(
        select(Registration.id).where(*_selection(event, status)).order_by(Registration.id)))


def _opted_out(emails: Sequence[str]) -> set[str]:
    if not emails:
        return set()
    return set(db.session.scalars(select(MailOptOut.email_normalized).where(
        MailOptOut.email_normalized.in_(list(emails)))))


def _check(reg: Registration, event: Event, templates: dict[str, InvitationTemplate],
           links: dict[str, str] | None) -> Check:
    language = reg.language if reg.language in templates else "en"
    check = Check(reg.id, reg.full_name, reg.email, language)
    try:
        check.address = format_address(reg.full_name, normalize_email(reg.email))
    except (ValueError, HeaderInjectionError) as exc:
        check.problem, check.detail = "invalid_address", str(exc)
        return check
    row = templates.get(language)
    if row is None:
        check.problem = "render_failed"
        check.detail = "no English version of the template" if templates else "no template"
        return check
    check.template = row
    try:
        check.rendered = render_for(row, reg, event, links)
    except RenderError as exc:
        check.problem, check.detail = "render_failed", str(exc)
        return check
    if check.rendered.empty_placeholders:
        check.problem = "empty_placeholder"
        check.detail = ", ".join(check.rendered.empty_placeholders)
    return check


_EVENT_PLACEHOLDER = re.compile(r"\bevent\.(\w+)")
_TRANSLATED = {"name": ("name",), "summary": ("summary",), "venue": ("venue",),
               "city": ("city",), "hosts": ("hosts",), "organizers": ("organizers",),
               "place": PLACE_FIELDS}


def english_in_chinese(event: Event, row: InvitationTemplate) -> list[str]:
    """The event placeholders of the Chinese template ``row`` that would come out in English:
    filled in English, empty in Chinese (a scale walkthrough sent 500 invitations reading
    "Shanghai Municipal Commission of Commerce携手World Trade Center Los Angeles…", and
    preflight reported nothing)."""
    used = set(_EVENT_PLACEHOLDER.findall(" ".join((row.subject, row.body_html, row.body_text))))
    return [placeholder for placeholder, fields in _TRANSLATED.items()
            if placeholder in used and _in_english(event, fields)]


def _in_english(event: Event, fields: Sequence[str]) -> bool:
    """Whether Chinese readers would see one of the event's ``fields`` in English: filled in
    English, empty in Chinese."""
    return any(text_in(event, name, "en") and not getattr(event, f"{name}_zh", "")
               for name in fields)


@dataclass
class EnglishInChinese:
    """Chinese invitees a message would show event texts to in English (no Chinese text)."""

    invitees: int
    texts: list[str]  # placeholder names: "hosts", "place"...


def chinese_fallbacks(event: Event) -> dict[str, EnglishInChinese]:
    """For the dashboard: what the schedule update (``"update"``, its place line) and the
    next reminders (``"remind"``, their templates) would show Chinese invitees in English.
    Preflight says it before a send; this says it before the messages that follow."""
    notes: dict[str, EnglishInChinese] = {}
    chinese = [Invitation.event_id == event.id, Registration.language == "zh-Hans",
               *_writable_registration()]
    if _in_english(event, PLACE_FIELDS) and event.schedule_revision:
        due = db.session.scalar(
            select(func.count(Invitation.id))
            .join(Registration, Registration.id == Invitation.registration_id)
            .where(*chinese, Invitation.schedule_revision < event.schedule_revision)) or 0
        if due:
            notes["update"] = EnglishInChinese(due, ["place"])
    texts: set[str] = set()
    invitees = 0
    for name, n in db.session.execute(
            select(Invitation.template_name, func.count())
            .join(Registration, Registration.id == Invitation.registration_id)
            .where(*chinese, Invitation.rsvp == RsvpAnswer.PENDING.value)
            .group_by(Invitation.template_name)):
        row = templates_of(event, name).get("zh-Hans")
        missing = english_in_chinese(event, row) if row is not None else []
        if missing:
            texts.update(missing)
            invitees += n
    if invitees:
        notes["remind"] = EnglishInChinese(invitees, [t for t in _TRANSLATED if t in texts])
    return notes


def invited_registration_ids(event: Event) -> set[int]:
    """Registrations of ``event`` that have an invitation."""
    return set(db.session.scalars(select(Invitation.registration_id).where(
        Invitation.event_id == event.id)))


def preflight(event: Event, template_name: str, *, status: str | None = "approved",
              registration_ids: Iterable[int] | None = None,
              with_tokens: bool = False) -> Preflight:
    """Render the invitation for every selected recipient (strictly) and report problems.

    ``with_tokens`` (used by sending) renders each recipient with their real RSVP links, from a
    fresh token kept on the check, so that what preflight approved is exactly what is sent.
    """
    report = Preflight(event.slug, template_name, status or ANY_STATUS)
    templates = templates_of(event, template_name)
    if "en" not in templates:
        report.template_missing, report.template_exists = True, bool(templates)
    if "zh-Hans" in templates:
        report.english_in_chinese = english_in_chinese(event, templates["zh-Hans"])
    regs = select_recipients(event, status=status, registration_ids=registration_ids)
    invited = invited_registration_ids(event)
    opted_out = _opted_out([r.email_normalized for r in regs])
    secret = current_app.config["SECRET_KEY"]
    for reg in regs:
        if reg.id in invited:
            check = Check(reg.id, reg.full_name, reg.email, reg.language,
                          problem="already_invited")
        elif reg.email_normalized in opted_out:
            check = Check(reg.id, reg.full_name, reg.email, reg.language, problem="opted_out")
        elif with_tokens:
            nonce = secrets.token_hex(16)
            token = derived_token(secret, TOKEN_PURPOSE, nonce)
            check = _check(reg, event, templates, links_for(token))
            check.nonce, check.token, check.registration = nonce, token, reg
        else:
            check = _check(reg, event, templates, None)
        report.checks.append(check)
    return report


# --- sending ------------------------------------------------------------------------------------


@dataclass
class SendResult:
    preflight: Preflight
    outbox_ids: list[int | None] = field(default_factory=list)
    invited: int = 0
    skipped: int = 0
    remaining: int = 0  # recipients left for another run (:mod:`.batches`' time budget)


def sender_of(event: Event) -> tuple[str, str | None]:
    """(From, Reply-To) for ``event``'s mail: its own, else the service's."""
    sender = event.mail_from or current_app.config["MAIL_FROM"]
    reply_to = event.mail_reply_to or current_app.config.get("MAIL_REPLY_TO") or None
    return sender, reply_to


def _calendar(event: Event, reg: Registration, nonce: str, token: str, language: str,
              sequence: int, rsvp: str = RsvpAnswer.PENDING.value) -> bytes:
    """The invitation's .ics; its UID comes from the invitation's nonce, so a reminder or a
    download updates the same calendar entry. The attendee's PARTSTAT is the ``rsvp`` answer."""
    sender, reply_to = sender_of(event)
    name, email = parseaddr(reply_to or sender)
    return event_ics(event, uid=f"invitation-{nonce}@{email.rpartition('@')[2] or 'ciie-rsvp'}",
                     organizer=Person(name or email, email),
                     attendee=Person(reg.full_name, reg.email),
                     summary=event_data(event, language)["name"],
                     url=f"{current_app.config['BASE_URL']}/rsvp/{token}", sequence=sequence,
                     partstat=PARTSTATS.get(rsvp, "NEEDS-ACTION"), language=language)


def _compose(nonce: str, token: str, reg: Registration, event: Event, check: Check,
             round_: int) -> BuiltMessage:
    assert check.rendered is not None and check.template is not None
    ics = _calendar(event, reg, nonce, token, check.language,
                    calendar_sequence(round_, event.schedule_revision))
    return _invitation_mail(event, check.address, token, check.language, check.rendered, ics)


def _invitation_mail(event: Event, to: str, token: str, language: str, content: Rendered,
                     ics: bytes) -> BuiltMessage:
    """A message of the invitation ``token`` (invitation, reminder or update): the event's
    From and Reply-To, one-click unsubscribe, and the calendar entry ``ics``."""
    sender, reply_to = sender_of(event)
    unsubscribe = f"{current_app.config['BASE_URL']}/unsubscribe/{token}"
    try:
        return build_message_bytes(
            sender=sender, to=to, reply_to=reply_to, subject=content.subject,
            text=content.text, html=content.html,
            headers={"List-Unsubscribe": f"<{unsubscribe}>",
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                     "Content-Language": language},
            # charset: the calendar holds Chinese names and titles, and a text part without
            # one is US-ASCII to mail clients
            attachments=[Attachment(ics, "text", "calendar", "invitation.ics",
                                    {"method": "REQUEST", "charset": "utf-8"})],
        )
    except HeaderInjectionError as exc:  # stored before the settings checked for it
        raise InvitationError(f"The invitation mail cannot be written ({exc}): correct the "
                              "event's name, sender or reply-to address in its settings."
                              ) from exc


def idempotency_key(invitation_id: int, version: int, round_: int) -> str:
    return f"invitation:{invitation_id}:v{version}:r{round_}"


@dataclass
class Prepared:
    """One invitation ready to record: plain values only, valid across transactions."""

    registration_id: int
    nonce: str
    token_hash: str
    template_version: int
    outbox: dict[str, Any]  # an outbox row, less its invitation id and idempotency key
    schedule_revision: int  # the event's, as the message states it
    told_schedule: str  # what the message states (schedule_snapshot)


def prepare_invitations(event: Event, template_name: str, *, status: str | None = "approved",
                        registration_ids: Iterable[int] | None = None
                        ) -> tuple[Preflight, list[Prepared]]:
    """Preflight, and build the finished message of everyone who passes (reads only).

    This is the costly part of sending (rendering, calendar, MIME); it writes nothing, so a
    caller may run it before taking the database's write lock.
    """
    report = preflight(event, template_name, status=status, registration_ids=registration_ids,
                       with_tokens=True)
    prepared = []
    for check in report.ready:
        assert check.registration is not None and check.template is not None
        message = _compose(check.nonce, check.token, check.registration, event, check, 1)
        prepared.append(Prepared(check.registration_id, check.nonce, hash_token(check.token),
                                 check.template.version,
                                 outbox_row(message, kind="invitation",
                                            registration_id=check.registration_id),
                                 event.schedule_revision, schedule_snapshot(event)))
    return report, prepared


def record_invitations(event_id: int, template_name: str, prepared: list[Prepared], *,
                       organizer_id: int | None = None) -> tuple[list[int], int]:
    """Write the invitations and queue their messages; return (outbox ids, invited).

    Recipients invited meanwhile are skipped (``ON CONFLICT DO NOTHING`` on (event,
    registration)), so a double-clicked send or a repeated CLI run queues nothing twice, and
    the outbox's idempotency key (invitation, template version, round) backs that up.
    """
    now = utcnow()
    # Erased, withdrawn, declined or unsubscribed while the part was built: not invited.
    writable = set(db.session.scalars(select(Registration.id).where(
        Registration.id.in_([p.registration_id for p in prepared]),
        *_writable_registration()))) if prepared else set()
    prepared = [p for p in prepared if p.registration_id in writable]
    by_reg = {p.registration_id: p for p in prepared}
    inserted = insert_ignore_many(Invitation, [{
        "event_id": event_id, "registration_id": p.registration_id,
        "template_name": template_name, "token_nonce": p.nonce, "token_hash": p.token_hash,
        "rounds": 1, "rsvp": RsvpAnswer.PENDING.value, "guests": 0, "invited_at": now,
        "invited_by": organizer_id, "schedule_revision": p.schedule_revision,
        "told_schedule": p.told_schedule,
    } for p in prepared], ["event_id", "registration_id"], returning=["id", "registration_id"])
    rows = []
    for inv_id, reg_id in sorted(inserted, key=lambda pair: pair[0]):
        p = by_reg[reg_id]
        rows.append({**p.outbox, "invitation_id": inv_id,
                     "idempotency_key": idempotency_key(inv_id, p.template_version, 1)})
    outbox_ids = enqueue_many(rows)
    if rows:
        db.session.add(AuditEntry(actor="organizer", organizer_id=organizer_id,
                                  event_id=event_id, action="invitations_sent",
                                  detail=f"template {template_name}: {len(rows)} invitation(s)"))
    return outbox_ids, len(rows)


def send_invitations(event: Event, template_name: str, *, status: str | None = "approved",
                     registration_ids: Iterable[int] | None = None,
                     organizer_id: int | None = None) -> SendResult:
    """Invite every selected recipient that passes preflight, in the caller's transaction."""
    report, prepared = prepare_invitations(event, template_name, status=status,
                                           registration_ids=registration_ids)
    outbox_ids, invited = record_invitations(event.id, template_name, prepared,
                                             organizer_id=organizer_id)
    return SendResult(report, list(outbox_ids), invited, len(prepared) - invited)


def next_round(event: Event) -> int:
    """The round a new reminder gets: one more than any invitation of the event has had."""
    return (db.session.scalar(select(func.max(Invitation.rounds)).where(
        Invitation.event_id == event.id)) or 1) + 1


@dataclass
class ReminderPlan:
    """What the dashboard's remind button would do, and when the latest round went out."""

    round: int  # the round to offer: the lowest one a non-responder has not had yet
    due: int  # non-responders who have not had it (what a remind to all queues, about)
    latest_round: int  # the highest round sent so far (1: no reminder yet)
    latest_at: dt.datetime | None  # when its last message was queued (UTC)


def _writable_registration() -> list[Any]:
    """SQL conditions on ``Registration``: it may still be written to (not erased, withdrawn
    or declined, its address not unsubscribed). Checked again by every batch write, since
    any of these can happen while a part is being built."""
    return [Registration.erased_at.is_(None), Registration.status.not_in(NEVER_INVITED),
            ~select(MailOptOut.email_normalized).where(
                MailOptOut.email_normalized == Registration.email_normalized).exists()]


def _writable(registration_id: Any) -> Any:
    """SQL: the registration ``registration_id`` may still be written to."""
    return (select(Registration.id)
            .where(Registration.id == registration_id, *_writable_registration())
            .exists())


def reminder_plan(event: Event) -> ReminderPlan:
    """The round a remind to everyone should be: the one that brings the non-responders who
    had the fewest reminders up, so that a round first sent to a few hand-picked invitees is
    completed for the others instead of the button moving on to the next round (which then
    reached those few twice within minutes)."""
    # Only invitees a reminder can reach: one who unsubscribed stays at their round for good
    # and would otherwise hold the button on it (a code review found round 3 unreachable).
    behind = (select(Invitation.rounds, func.count())
              .where(Invitation.event_id == event.id,
                     Invitation.rsvp == RsvpAnswer.PENDING.value,
                     _writable(Invitation.registration_id))
              .group_by(Invitation.rounds))
    by_rounds: dict[int, int] = {r: n for r, n in db.session.execute(behind)}
    latest = next_round(event) - 1
    round_ = (min(by_rounds) + 1) if by_rounds else latest + 1
    latest_at = None
    if latest > 1:
        latest_at = db.session.scalar(
            select(func.max(OutboxMessage.created_at))
            .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
            .where(Invitation.event_id == event.id,
                   OutboxMessage.kind == "invitation_reminder"))
    return ReminderPlan(round_, sum(n for r, n in by_rounds.items() if r < round_), latest,
                        latest_at)


@dataclass
class RemindResult:
    outbox_ids: list[int | None] = field(default_factory=list)
    reminded: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    remaining: int = 0  # invitees left for another run (:mod:`.batches`' time budget)


@dataclass
class PreparedMail:
    """One message of an existing invitation (reminder or update), ready to record: plain
    values only, valid across transactions."""

    invitation_id: int
    outbox: dict[str, Any]  # the whole outbox row
    schedule_revision: int  # the event's, as the message states it
    told_schedule: str  # what the message states (schedule_snapshot)
    rsvp: str | None = None  # the answer the message states (updates), still to hold


@dataclass
class PreparedBatch:
    """What a prepare step found for part of a batch: messages to record, and who was passed
    by and why."""

    mails: list[PreparedMail] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def check_round(event: Event, round_: int) -> None:
    """Refuse a reminder round that is not the next one or an earlier one."""
    if round_ < 2:
        raise InvitationError("reminders start at round 2")
    latest = next_round(event)
    if round_ > latest:
        # A round past the next one would mark invitations as reminded more often than they
        # were, and hold back the rounds in between.
        raise InvitationError(f"Round {round_} cannot be sent: the next reminder round is "
                              f"{latest}. Reload the page and try again.")


def reminder_candidates(event: Event, invitation_ids: Iterable[int] | None = None
                        ) -> list[tuple[int, int]]:
    """(id, rounds had) of the invitations of ``event`` (all, or ``invitation_ids``) still
    unanswered."""
    query = select(Invitation.id, Invitation.rounds).where(
        Invitation.event_id == event.id, Invitation.rsvp == RsvpAnswer.PENDING.value)
    if invitation_ids is not None:
        query = query.where(Invitation.id.in_(list(invitation_ids)))
    return [(i, n) for i, n in db.session.execute(query.order_by(Invitation.id))]


def prepare_reminders(event: Event, *, round_: int, invitation_ids: Iterable[int]
                      ) -> PreparedBatch:
    """Build reminder ``round_`` for those of ``invitation_ids`` who have not answered (reads
    only: the costly part, run before taking the write lock)."""
    invitations = list(db.session.scalars(
        select(Invitation).options(selectinload(Invitation.registration))
        .where(Invitation.event_id == event.id, Invitation.rsvp == RsvpAnswer.PENDING.value,
               Invitation.id.in_(list(invitation_ids)))
        .order_by(Invitation.id)))
    batch = PreparedBatch()
    opted_out = _opted_out([i.registration.email_normalized for i in invitations])
    secret = current_app.config["SECRET_KEY"]
    template_cache: dict[str, dict[str, InvitationTemplate]] = {}
    told = schedule_snapshot(event)
    for inv in invitations:
        reg = inv.registration
        if reg.email_normalized in opted_out:
            batch.skipped.append((inv.id, "opted_out"))
            continue
        if reg.status in NEVER_INVITED:  # withdrew, or declined by the organizers since
            batch.skipped.append((inv.id, reg.status))
            continue
        if inv.rounds >= round_:
            batch.skipped.append((inv.id, "already_reminded"))
            continue
        templates = template_cache.setdefault(inv.template_name,
                                              templates_of(event, inv.template_name))
        token = derived_token(secret, TOKEN_PURPOSE, inv.token_nonce)
        check = _check(reg, event, templates, links_for(token))
        if check.problem:
            batch.skipped.append((inv.id, check.problem))
            continue
        assert check.template is not None and check.rendered is not None
        prefix = "【提醒】" if check.language == "zh-Hans" else "Reminder: "
        check.rendered.subject = prefix + check.rendered.subject
        message = _compose(inv.token_nonce, token, reg, event, check, round_)
        batch.mails.append(PreparedMail(inv.id, outbox_row(
            message, kind="invitation_reminder", registration_id=reg.id, invitation_id=inv.id,
            idempotency_key=idempotency_key(inv.id, check.template.version, round_)),
            event.schedule_revision, told))
    return batch


def _record_mails(prepared: list[PreparedMail], guard: Any, values: dict[str, Any]
                  ) -> tuple[list[int], list[int]]:
    """Mark the invitations of ``prepared`` that still meet ``guard`` with ``values`` (and
    the schedule their message states) and queue their messages; (outbox ids, invitation ids
    passed by because they no longer meet it: they answered, were sent to, erased or
    unsubscribed meanwhile)."""
    taken: set[int] = set()
    for (revision, told, rsvp), group in _by_schedule(prepared).items():
        conditions = [Invitation.id.in_([m.invitation_id for m in group]), guard,
                      _writable(Invitation.registration_id),
                      # never a message stating an older schedule than one already told
                      Invitation.schedule_revision <= revision]
        if rsvp is not None:
            conditions.append(Invitation.rsvp == rsvp)
        taken.update(db.session.scalars(
            update(Invitation).where(*conditions)
            .values(**values, schedule_revision=revision, told_schedule=told)
            .returning(Invitation.id)))
    outbox_ids = enqueue_many([m.outbox for m in prepared if m.invitation_id in taken])
    return outbox_ids, [m.invitation_id for m in prepared if m.invitation_id not in taken]


def _by_schedule(prepared: list[PreparedMail]
                 ) -> dict[tuple[int, str, str | None], list[PreparedMail]]:
    groups: dict[tuple[int, str, str | None], list[PreparedMail]] = {}
    for mail in prepared:
        key = (mail.schedule_revision, mail.told_schedule, mail.rsvp)
        groups.setdefault(key, []).append(mail)
    return groups


def record_reminders(round_: int, batch: PreparedBatch) -> RemindResult:
    """Write what :func:`prepare_reminders` built: each invitation that is still unanswered
    and below ``round_`` moves to it, and its reminder is queued."""
    outbox_ids, passed = _record_mails(
        batch.mails, (Invitation.rsvp == RsvpAnswer.PENDING.value) & (Invitation.rounds < round_),
        {"rounds": round_})
    return RemindResult(list(outbox_ids), len(outbox_ids),
                        batch.skipped + [(i, "changed_meanwhile") for i in passed])


def remind(event: Event, *, round_: int, invitation_ids: Iterable[int] | None = None,
           organizer_id: int | None = None) -> RemindResult:
    """Queue reminder ``round_`` to invitees who have not answered (all, or ``invitation_ids``),
    in the caller's transaction (:mod:`.batches` sends a big one in parts).

    Those who answered, opted out or already got this round are left out: the key
    (invitation, template version, round) makes a repeated click queue nothing.
    """
    check_round(event, round_)
    ids = [i for i, _rounds in reminder_candidates(event, invitation_ids)]
    return record_reminders(round_, prepare_reminders(event, round_=round_, invitation_ids=ids))


@dataclass
class ResendResult:
    outbox_ids: list[int]  # queued again
    unsubscribed: int  # left failed: the address unsubscribed


def resend_failed(event: Event, invitation_ids: Iterable[int] | None = None) -> ResendResult:
    """Queue failed invitation messages again (same Message-ID)."""
    query = (select(OutboxMessage.id).join(Invitation, Invitation.id == OutboxMessage.invitation_id)
             .where(Invitation.event_id == event.id,
                    OutboxMessage.status == OutboxStatus.FAILED.value))
    if invitation_ids is not None:
        query = query.where(Invitation.id.in_(list(invitation_ids)))
    ids = list(db.session.scalars(query))
    opted = set(db.session.scalars(
        select(OutboxMessage.id).join(MailOptOut,
                                      MailOptOut.email_normalized == func.lower(
                                          OutboxMessage.recipient))
        .where(OutboxMessage.id.in_(ids)))) if ids else set()
    return ResendResult(requeue([i for i in ids if i not in opted]), len(opted))


# --- schedule changes -------------------------------------------------------------------------


def schedule_snapshot(event: Event) -> str:
    """The event's days, times, zone and place (:data:`SCHEDULE_FIELDS`, and the place in
    Chinese) as JSON, as a message states them; :func:`event_as_told` reads it back."""
    return json.dumps({name: _plain(getattr(event, name))
                       for name in (*SCHEDULE_FIELDS, *PLACE_FIELDS_ZH)}, sort_keys=True)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.time) else value


def event_as_told(snapshot: str | None, current: Event | None = None) -> Event | None:
    """A transient event holding only the schedule ``snapshot`` states (None without one),
    for formatting what an invitee was told.

    Where the message stated no Chinese name (a snapshot from before they were kept, or the
    event had none then), it takes the ``current`` event's Chinese name if the English one is
    still the one told: a translation added since is not a move.
    """
    if not snapshot:
        return None
    values = json.loads(snapshot)
    for name in ("start_date", "end_date"):
        values[name] = dt.date.fromisoformat(values[name])
    for name in ("start_time", "end_time"):
        values[name] = dt.time.fromisoformat(values[name]) if values[name] else None
    for name in PLACE_FIELDS_ZH:
        english = name.removesuffix("_zh")
        if not values.get(name) and current is not None \
                and getattr(current, english) == values.get(english):
            values[name] = getattr(current, name)
    return Event(**{name: values.get(name) for name in (*SCHEDULE_FIELDS, *PLACE_FIELDS_ZH)})


def calendar_sequence(rounds: int, schedule_revision: int) -> int:
    """The ``SEQUENCE`` of an invitee's calendar entry after ``rounds`` messages of the
    invitation and ``schedule_revision`` changes of the event's days, times or place.

    Both only grow, so every later message (or download) carries at least the SEQUENCE of
    any earlier one, and one with a change carries a higher one: calendar apps then replace
    the entry instead of ignoring the message as out of date (RFC 5546, 2.1.5).
    """
    return rounds - 1 + schedule_revision


def _update_recipients(event: Event) -> Any:
    """Invitations of ``event`` whose latest message gave an earlier schedule and who may be
    written to: registration neither withdrawn, declined nor erased, address not
    unsubscribed."""
    return (select(Invitation).join(Registration, Registration.id == Invitation.registration_id)
            .where(Invitation.event_id == event.id,
                   Invitation.schedule_revision < event.schedule_revision,
                   *_writable_registration()))


def schedule_update_count(event: Event) -> int:
    """How many invitees would get :func:`send_schedule_update` now (0 when none is due)."""
    if not event.schedule_revision:
        return 0
    return db.session.scalar(select(func.count()).select_from(
        _update_recipients(event).subquery())) or 0


@dataclass
class UpdateResult:
    outbox_ids: list[int | None] = field(default_factory=list)
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    remaining: int = 0  # invitees left for another run (:mod:`.batches`' time budget)


def update_candidates(event: Event) -> list[int]:
    """Ids of the invitations :func:`send_schedule_update` would write to now."""
    if not event.schedule_revision:
        return []
    return list(db.session.scalars(_update_recipients(event).with_only_columns(Invitation.id)
                                   .order_by(Invitation.id)))


def prepare_updates(event: Event, invitation_ids: Iterable[int]) -> PreparedBatch:
    """Build the update of those of ``invitation_ids`` still due one (reads only)."""
    batch = PreparedBatch()
    if not event.schedule_revision:
        return batch
    invitations = list(db.session.scalars(
        _update_recipients(event).options(selectinload(Invitation.registration))
        .where(Invitation.id.in_(list(invitation_ids))).order_by(Invitation.id)))
    secret = current_app.config["SECRET_KEY"]
    told = schedule_snapshot(event)
    for inv in invitations:
        reg = inv.registration
        try:
            address = format_address(reg.full_name, normalize_email(reg.email))
        except (ValueError, HeaderInjectionError):
            batch.skipped.append((inv.id, "invalid_address"))
            continue
        token = derived_token(secret, TOKEN_PURPOSE, inv.token_nonce)
        message = _update_message(inv, event, address, token)
        batch.mails.append(PreparedMail(inv.id, outbox_row(
            message, kind="invitation_update", registration_id=reg.id, invitation_id=inv.id,
            idempotency_key=f"invitation:{inv.id}:schedule:r{event.schedule_revision}"),
            event.schedule_revision, told, inv.rsvp))
    return batch


def record_updates(event_id: int, batch: PreparedBatch, *, organizer_id: int | None = None
                   ) -> UpdateResult:
    """Write what :func:`prepare_updates` built: each invitation still behind the revision
    its update states moves to it, and the update is queued."""
    revision = max((m.schedule_revision for m in batch.mails), default=0)
    outbox_ids, passed = _record_mails(
        batch.mails, Invitation.schedule_revision < revision, {})
    result = UpdateResult(list(outbox_ids), len(outbox_ids),
                          batch.skipped + [(i, "changed_meanwhile") for i in passed])
    if result.updated:
        db.session.add(AuditEntry(actor="organizer", organizer_id=organizer_id,
                                  event_id=event_id, action="schedule_update_sent",
                                  detail=f"schedule revision {revision}: "
                                         f"{result.updated} update(s)"))
    return result


def send_schedule_update(event: Event, *, organizer_id: int | None = None) -> UpdateResult:
    """Tell every invitee who was given an earlier date, time or place what it is now, in the
    caller's transaction (:mod:`.batches` sends a big one in parts).

    One message per invitee, in their language, with the RSVP link, their answer so far and
    the updated calendar entry (same UID, higher SEQUENCE, their answer as PARTSTAT). The key
    (invitation, schedule revision) makes a repeated click queue nothing; those who
    unsubscribed, withdrew or were erased are not written to.
    """
    return record_updates(event.id, prepare_updates(event, update_candidates(event)),
                          organizer_id=organizer_id)


def _when_and_where(event: Event, language: str) -> str:
    """The event's days, hours and place in one line, as an update states them."""
    place = event.place(language)
    when = format_event_when(event, language)
    return f"{when} · {place}" if place else when


def _what_changed(told: Event | None, event: Event) -> str:
    """``place``, ``time`` (days, times or zone) or ``both`` (also when nothing says what
    the invitee was told) between ``told`` and ``event``."""
    if told is None:
        return "both"
    moved = {name for name in SCHEDULE_FIELDS if getattr(told, name) != getattr(event, name)}
    if moved and moved <= set(PLACE_FIELDS):
        return "place"
    if moved and not moved & set(PLACE_FIELDS):
        return "time"
    return "both"


def _update_message(inv: Invitation, event: Event, address: str, token: str) -> BuiltMessage:
    """The "date, time or place changed" email of ``inv``, in the invitee's language."""
    reg = inv.registration
    language = reg.language if reg.language in LANGUAGES else "en"
    data = event_data(event, language)
    told = event_as_told(inv.told_schedule, event)
    context = {
        "name": reg.full_name,
        "event_name": data["name"],
        "changed": _what_changed(told, event),
        "now": _when_and_where(event, language),
        # what their latest message said, when it is known
        "before": _when_and_where(told, language) if told is not None else "",
        "answer": inv.rsvp,
        "guests": inv.guests,
        "rsvp_url": f"{current_app.config['BASE_URL']}/rsvp/{token}",
    }
    with force_locale(locale_for(language)):
        try:
            subject = clean_header(_("Changed: %(event)s", event=data["name"]))
        except HeaderInjectionError as exc:
            raise InvitationError(f"The update cannot be written ({exc}): correct the "
                                  "event's name in its settings.") from exc
        content = Rendered(subject=subject,
                           text=render_template("email/schedule_changed.txt", **context),
                           html=render_template("email/schedule_changed.html", **context))
    ics = _calendar(event, reg, inv.token_nonce, token, language,
                    calendar_sequence(inv.rounds, event.schedule_revision), inv.rsvp)
    return _invitation_mail(event, address, token, language, content, ics)


# --- RSVP -----------------------------------------------------------------------------------------


def find_invitation(token: str) -> Invitation | None:
    """The invitation an RSVP link points to; None for unknown or malformed tokens, and for
    a registration whose personal data was erased."""
    if not looks_like_token(token):
        return None
    return db.session.scalar(
        select(Invitation).join(Registration, Registration.id == Invitation.registration_id)
        .where(Invitation.token_hash == hash_token(token), Registration.erased_at.is_(None)))


def mark_opened(inv: Invitation, now: dt.datetime | None = None) -> bool:
    """Record the first visit of the RSVP page (the answer itself never changes on a GET)."""
    if inv.opened_at is not None:
        return False
    inv.opened_at = now or utcnow()
    return True


def respond(inv: Invitation, answer: str, *, guests: int = 0,
            now: dt.datetime | None = None) -> bool:
    """Record an answer; True when something changed. Idempotent for the same answer."""
    now = now or utcnow()
    if answer not in (RsvpAnswer.ACCEPTED, RsvpAnswer.DECLINED):
        raise InvitationError(_("Choose accept or decline."))
    event = inv.event
    if not event.rsvp_open(now):
        raise RsvpClosed(_("The RSVP deadline has passed."))
    if inv.registration.status == RegistrationStatus.WITHDRAWN:
        raise RsvpClosed(_("This registration was withdrawn; restore it from your "
                           "registration page to answer."))
    guests = guests if answer == RsvpAnswer.ACCEPTED else 0
    if not 0 <= guests <= event.guest_limit:
        raise TooManyGuests(_("You may bring up to %(limit)s guests.", limit=event.guest_limit))
    if inv.opened_at is None:
        inv.opened_at = now
    if (inv.rsvp, inv.guests) == (answer, guests):
        return False
    db.session.add(AuditEntry(registration_id=inv.registration_id, actor="registrant",
                              action=f"rsvp_{answer}", from_status=inv.rsvp, to_status=answer,
                              detail=f"guests={guests}"))
    inv.rsvp, inv.guests, inv.responded_at = answer, guests, now
    return True


def unsubscribe(inv: Invitation) -> bool:
    """Opt the invitee's address out of further invitation mail (idempotent)."""
    email = inv.registration.email_normalized
    created = insert_ignore(MailOptOut, {"email_normalized": email, "at": utcnow(),
                                         "source": "list-unsubscribe"}, ["email_normalized"])
    if created is not None:
        db.session.add(AuditEntry(registration_id=inv.registration_id, actor="registrant",
                                  action="unsubscribed", detail="invitation mail"))
    return created is not None


def issue_manage_link(inv: Invitation) -> str:
    """A fresh manage-link token for the invitee's registration (the older link stops working)."""
    token, token_hash = new_token()
    inv.registration.manage_token_hash = token_hash
    db.session.add(AuditEntry(registration_id=inv.registration_id, actor="registrant",
                              action="manage_link_from_invitation"))
    return token


def calendar_for(inv: Invitation) -> bytes:
    reg = inv.registration
    token = derived_token(current_app.config["SECRET_KEY"], TOKEN_PURPOSE, inv.token_nonce)
    language = reg.language if reg.language in LANGUAGES else "en"
    return _calendar(inv.event, reg, inv.token_nonce, token, language,
                     calendar_sequence(inv.rounds, inv.event.schedule_revision), inv.rsvp)


# --- dashboard and exports ---------------------------------------------------------------------


def dashboard_counts(event: Event) -> dict[str, int]:
    """invited / opened / accepted / declined / no answer / withdrawn, and delivery states.

    An invitee whose registration is withdrawn counts as withdrawn, whatever they answered:
    they are not coming, and reminders pass them by."""
    withdrawn = Registration.status == RegistrationStatus.WITHDRAWN.value
    rows = db.session.execute(
        select(Invitation.rsvp, withdrawn, func.count(), func.count(Invitation.opened_at))
        .join(Registration, Registration.id == Invitation.registration_id)
        .where(Invitation.event_id == event.id).group_by(Invitation.rsvp, withdrawn)).all()
    counts = {"invited": 0, "opened": 0, "accepted": 0, "declined": 0, "no_answer": 0,
              "withdrawn": 0}
    for rsvp, is_withdrawn, n, opened in rows:
        counts["invited"] += n
        counts["opened"] += opened
        key = "no_answer" if rsvp == RsvpAnswer.PENDING else rsvp
        counts["withdrawn" if is_withdrawn else key] += n
    delivery = db.session.execute(
        select(OutboxMessage.status, func.count())
        .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .where(Invitation.event_id == event.id).group_by(OutboxMessage.status)).all()
    for status, n in delivery:
        counts[f"mail_{status}"] = n
    return counts


@dataclass
class InvitationRow:
    invitation_id: int
    registration_id: int
    name: str
    email: str
    company: str
    language: str
    rsvp: str
    guests: int
    opened_at: dt.datetime | None
    responded_at: dt.datetime | None
    rounds: int
    invited_at: dt.datetime
    delivery: str
    delivery_error: str
    sent_at: dt.datetime | None
    withdrawn: bool = False  # the registration was withdrawn after the invitation


def _invitations_query(event: Event, *, rsvp: str | None, delivery: str | None,
                       q: str) -> Any:
    latest = (select(OutboxMessage.invitation_id, func.max(OutboxMessage.id).label("last_id"))
              .where(OutboxMessage.invitation_id.is_not(None))
              .group_by(OutboxMessage.invitation_id).subquery())
    query = (select(Invitation, Registration, OutboxMessage)
             .join(Registration, Registration.id == Invitation.registration_id)
             .outerjoin(latest, latest.c.invitation_id == Invitation.id)
             .outerjoin(OutboxMessage, OutboxMessage.id == latest.c.last_id)
             .where(Invitation.event_id == event.id))
    if rsvp:
        query = query.where(Invitation.rsvp == rsvp)
    if delivery:
        query = query.where(OutboxMessage.status == delivery)
    if q:  # the registration list's search: every word in the company, a name or the email
        from ..organizer.services import ListFilters, filter_conditions

        query = query.where(*filter_conditions(event.id, ListFilters(q=q)))
    return query


def invitation_page(event: Event, *, rsvp: str | None, delivery: str | None, q: str,
                    page: int, per_page: int) -> Page[InvitationRow]:
    """Page ``page`` (the last one when past the end) of :func:`invitation_rows`."""
    from ..organizer.services import Page, page_within

    query = _invitations_query(event, rsvp=rsvp, delivery=delivery, q=q)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = page_within(page, total, per_page)
    return Page(invitation_rows(event, rsvp=rsvp, delivery=delivery, q=q, limit=per_page,
                                offset=(page - 1) * per_page), total, page, per_page)


def invitation_rows(event: Event, *, rsvp: str | None = None, delivery: str | None = None,
                    q: str = "", limit: int | None = None, offset: int = 0
                    ) -> list[InvitationRow]:
    """The invitations of ``event`` (all, or a page) with the state of their latest message."""
    query = _invitations_query(event, rsvp=rsvp, delivery=delivery, q=q).order_by(Invitation.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [
        InvitationRow(inv.id, reg.id, reg.full_name, reg.email, reg.company, reg.language,
                      inv.rsvp, inv.guests, inv.opened_at, inv.responded_at, inv.rounds,
                      inv.invited_at, msg.status if msg else "none", msg.last_error if msg else "",
                      msg.sent_at if msg else None,
                      reg.status == RegistrationStatus.WITHDRAWN)
        for inv, reg, msg in db.session.execute(query)
    ]
