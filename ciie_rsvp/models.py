"""All database models (SQLAlchemy 2.0, typed). Models never commit; services do."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .choices import INTERESTS
from .extensions import db
from .i18n import text_in
from .zones import day_start, ends_at, known_zone


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class RegistrationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


def written_name(first: str, last: str) -> str:
    """A person's name as the service writes it, in either language: "First Last", or
    "LastFirst" (family name first, no space) for a name written in Chinese characters."""
    if _is_cjk(first) and _is_cjk(last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def _is_cjk(text: str) -> bool:
    return bool(text) and all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
                              for ch in text)


def _in(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def registration_state_at(opens_at: dt.datetime | None, closes_at: dt.datetime | None,
                          now: dt.datetime, event_ends_at: dt.datetime | None = None) -> str:
    """``open``, ``not_yet_open`` or ``closed`` for a registration window at ``now``; an
    event that has ended takes no registrations, closing time or not."""
    if opens_at and now < opens_at:
        return "not_yet_open"
    if (closes_at and now >= closes_at) or (event_ends_at and now >= event_ends_at):
        return "closed"
    return "open"


def accepting_registrations_sql(now: Any) -> Any:
    """SQL twin of ``event.is_open(now)`` (published, and :func:`registration_state_at` says
    ``open``), for statements that must insert only while an event takes registrations.
    ``now`` is a datetime or a bound parameter. tests/test_registration_window.py holds the
    two to the same answers."""
    return and_(
        Event.is_published.is_(True),
        or_(Event.registration_opens_at.is_(None), Event.registration_opens_at <= now),
        or_(Event.registration_closes_at.is_(None), Event.registration_closes_at > now),
        or_(Event.ends_at.is_(None), Event.ends_at > now),
    )


# What a calendar entry of an event says about when and where it is (organizer/events.py
# starts a new schedule revision when one changes; invitations remember what they stated).
SCHEDULE_FIELDS = ("start_date", "end_date", "start_time", "end_time", "timezone", "venue",
                   "city", "country")
# Where the event is, and the same in Chinese, for Chinese readers. A translation does not
# move the event (no new schedule revision), but invitations remember it with the schedule
# to state it as told.
PLACE_FIELDS = ("venue", "city", "country")
PLACE_FIELDS_ZH = tuple(f"{name}_zh" for name in PLACE_FIELDS)


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time | None] = mapped_column(Time)
    end_time: Mapped[dt.time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    venue: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    country: Mapped[str] = mapped_column(String(80), default="")
    hosts: Mapped[str] = mapped_column(Text, default="")
    organizers: Mapped[str] = mapped_column(Text, default="")
    # The same in Chinese; empty: Chinese pages and messages show the English text.
    venue_zh: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city_zh: Mapped[str] = mapped_column(String(120), default="", server_default="")
    country_zh: Mapped[str] = mapped_column(String(80), default="", server_default="")
    hosts_zh: Mapped[str] = mapped_column(Text, default="", server_default="")
    organizers_zh: Mapped[str] = mapped_column(Text, default="", server_default="")
    registration_opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    is_published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Invitation mail: From on the office's own domain (SPF/DMARC), Reply-To the organizer.
    # Empty means the service-wide MAIL_FROM / MAIL_REPLY_TO.
    mail_from: Mapped[str] = mapped_column(String(254), default="", server_default="")
    mail_reply_to: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # Answers can change until then (None: until the event starts).
    rsvp_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # How many guests an invitee may bring along (0: none).
    guest_limit: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the event ends (UTC): its end time on its last day, or that day's end, on its
    # clock. Kept from those columns on every write (see _keep_ends_at); registration closes
    # then at the latest.
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Goes up with every change to the days, times, time zone or place (organizer/events.py):
    # invitations sent before a change are told about it, and calendar files' SEQUENCE grows.
    schedule_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    registrations: Mapped[list[Registration]] = relationship(back_populates="event")

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint("guest_limit BETWEEN 0 AND 50", name="guest_limit_range"),
    )

    def rsvp_open(self, now: dt.datetime | None = None) -> bool:
        """True while invitees may still answer or change their answer: until the RSVP
        deadline, or until the first day begins on the event's clock."""
        now = now or utcnow()
        if self.rsvp_deadline is not None:
            return now < self.rsvp_deadline
        return now < day_start(self.start_date, known_zone(self.timezone))

    def registration_state(self, now: dt.datetime | None = None) -> str:
        """``open``, ``not_yet_open`` or ``closed`` at ``now``."""
        return registration_state_at(self.registration_opens_at, self.registration_closes_at,
                                     now or utcnow(), self.ends_at)

    def is_open(self, now: dt.datetime | None = None) -> bool:
        return self.is_published and self.registration_state(now) == "open"

    def text(self, field: str, language: str) -> str:
        """The event's ``field`` (``name``, ``summary``, ``venue``, ``city``, ``country``,
        ``hosts``, ``organizers``) as read in ``language``: its Chinese text when reading
        Chinese and there is one, else the English."""
        return text_in(self, field, language)

    def place(self, language: str) -> str:
        """Venue, city and country in ``language``, as one line: ``Downtown Los Angeles,
        Los Angeles, United States``. In Chinese from the largest to the smallest, run
        together as addresses are, without a city the venue begins with: ``美国洛杉矶市中心``,
        ``美国旧金山莫斯康展览中心``; a national institution's name keeps a space after the
        region (``中国上海 国家会展中心（上海）``, not ``中国国家…``). With no Chinese text at all,
        Chinese readers get the English line."""
        if language != "zh-Hans" or not any(getattr(self, n) for n in PLACE_FIELDS_ZH):
            return ", ".join(getattr(self, n) for n in PLACE_FIELDS if getattr(self, n))
        venue, city, country = (self.text(n, language) for n in PLACE_FIELDS)
        if city and (city == country or _starts_with_place(venue, city)):
            city = ""  # 新加坡 in 新加坡; 洛杉矶市中心 names 洛杉矶, 上海国际会议中心 上海市
        if country and _starts_with_place(city or venue, country):
            country = ""
        region = _run_together(country, city)
        if not (region and venue):
            return region or venue
        if venue.startswith(_NATIONAL) and _cjk_joint(region, venue):
            return f"{region} {venue}"
        return _run_together(region, venue)

    def column_values(self) -> dict[str, Any]:
        """Every stored value of the event, by attribute name."""
        return {attr.key: getattr(self, attr.key) for attr in self.__mapper__.column_attrs}

    def content_key(self) -> tuple[object, ...]:
        """Every stored value of the event, as a cache key for pages rendered from it."""
        frozen: tuple[object, ...] | None = self.__dict__.get("_frozen_content_key")
        return frozen if frozen is not None else tuple(self.column_values().values())

    def read_only_copy(self) -> Event:
        """A transient copy of this event (never added to a session) whose
        :meth:`content_key` is worked out once, for code that only reads it."""
        values = self.column_values()
        copy = Event(**values)
        copy._frozen_content_key = tuple(values.values())
        return copy


# Names that begin like this would read as part of a longer one after a country (中国国家…).
_NATIONAL = ("国家", "中国", "全国")


def _starts_with_place(name: str, place: str) -> bool:
    """Whether ``name`` begins with ``place`` (with or without its 市 or 省)."""
    return bool(place) and (name.startswith(place) or len(place) > 2
                            and place.endswith(("市", "省")) and name.startswith(place[:-1]))


def _cjk_joint(left: str, right: str) -> bool:
    """Whether ``left`` and ``right`` meet between two Chinese characters (no space)."""
    return not left[-1].isascii() and not right[0].isascii()


def _run_together(*names: str) -> str:
    """Chinese place names from the largest, without spaces between Chinese ones."""
    line = ""
    for name in filter(None, names):
        line += name if not line or _cjk_joint(line, name) else " " + name
    return line


@sa_event.listens_for(Event, "before_insert")
@sa_event.listens_for(Event, "before_update")
def _keep_ends_at(_mapper: Any, _conn: Any, target: Event) -> None:
    """Work out ``ends_at`` from the last day, end time and zone whenever an event is
    written, so the stored instant never disagrees with them."""
    if target.end_date is not None:
        zone = target.timezone or Event.__table__.c.timezone.default.arg  # before defaults
        target.ends_at = ends_at(target.end_date, target.end_time, known_zone(zone))


class Registration(db.Model):
    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.SUBMITTED)
    source: Mapped[str] = mapped_column(String(16), default="web")
    # The manage link's token is never stored; only its SHA-256.
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)

    company: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(300), default="")
    sector: Mapped[str] = mapped_column(String(40))
    company_size: Mapped[str] = mapped_column(String(16))
    county: Mapped[str] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    job_title: Mapped[str] = mapped_column(String(150), default="")
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    interest_exhibit: Mapped[bool] = mapped_column(Boolean, default=False)
    interest_delegation: Mapped[bool] = mapped_column(Boolean, default=False)
    interest_conference: Mapped[bool] = mapped_column(Boolean, default=False)
    interest_matchmaking: Mapped[bool] = mapped_column(Boolean, default=False)
    delegates: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str] = mapped_column(String(8), default="en")
    notes: Mapped[str] = mapped_column(Text, default="")

    consent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consent_notice_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when personal data was erased (a registrant's request or the retention purge).
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="registrations")

    __table_args__ = (
        UniqueConstraint("event_id", "email_normalized", name="uq_registrations_event_email"),
        CheckConstraint(
            f"status IN ({_in([s.value for s in RegistrationStatus])})", name="status_known"
        ),
        CheckConstraint("delegates BETWEEN 1 AND 20", name="delegates_range"),
        CheckConstraint("language IN ('en', 'zh-Hans')", name="language_known"),
        Index("ix_registrations_event_status", "event_id", "status"),
        Index("ix_registrations_event_created", "event_id", "created_at"),
    )

    @property
    def interests(self) -> list[str]:
        return [code for code, _ in INTERESTS if getattr(self, f"interest_{code}")]

    @interests.setter
    def interests(self, codes: list[str]) -> None:
        for code, _ in INTERESTS:
            setattr(self, f"interest_{code}", code in codes)

    @property
    def full_name(self) -> str:
        """The registrant's name as the service writes it (:func:`written_name`)."""
        return written_name(self.first_name, self.last_name)


class Organizer(db.Model):
    """An organizer account of the trade office (sign-in arrives with the console)."""

    __tablename__ = "organizers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped at sign-out and password change: older session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('admin', 'staff')", name="role_known"),)

    # Flask-Login's user protocol. The id carries the session version, so bumping the version
    # (sign-out, password change) invalidates every session cookie issued before.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AuditEntry(db.Model):
    """Who did what, and when: to a registration (status changes, edits, withdrawals) or to
    an event (created, settings changed, invitations or a schedule update sent)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizers.id", ondelete="SET NULL")
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(32))  # "registrant", "organizer", "system"
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class OutboxMessage(db.Model):
    """One email waiting for delivery (the transactional outbox).

    Queued in the same transaction as the change that caused it, with its Message-ID,
    envelope and subject. Most messages are fully built then (``raw``). A registrant's
    confirmation is queued as ``compose`` (what to write: template, manage token) and written
    by the delivery worker when it first claims the row, which stores ``raw`` before sending;
    every attempt after that sends the same bytes.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500), default="")
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    # what the delivery worker writes into ``raw`` (see outbox.register_composer)
    compose: Mapped[str | None] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (
        CheckConstraint(f"status IN ({_in([s.value for s in OutboxStatus])})", name="status_known"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )


class InvitationTemplate(db.Model):
    """An organizer-edited invitation (subject, HTML and text body) of one event and language.

    ``version`` goes up with every saved change; it is part of each message's idempotency key.
    """

    __tablename__ = "invitation_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("organizers.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("event_id", "name", "language", name="uq_invitation_templates_key"),
        CheckConstraint("language IN ('en', 'zh-Hans')", name="language_known"),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class RsvpAnswer(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Invitation(db.Model):
    """One registrant invited to one event; carries the RSVP answer.

    The RSVP link's token is derived from ``token_nonce`` with the secret key (so a reminder can
    carry the same link) and only its SHA-256 is stored for look-up.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    template_name: Mapped[str] = mapped_column(String(40))
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 1 for the invitation itself, +1 for every reminder queued.
    rounds: Mapped[int] = mapped_column(Integer, default=1)
    rsvp: Mapped[str] = mapped_column(String(16), default=RsvpAnswer.PENDING)
    guests: Mapped[int] = mapped_column(Integer, default=0)
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("organizers.id", ondelete="SET NULL"))
    # The event's schedule_revision in the latest message this invitee got, and what that
    # message stated (JSON of SCHEDULE_FIELDS; None for invitations from before it was kept).
    schedule_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    told_schedule: Mapped[str | None] = mapped_column(Text)

    event: Mapped[Event] = relationship()
    registration: Mapped[Registration] = relationship()

    __table_args__ = (
        UniqueConstraint("event_id", "registration_id", name="uq_invitations_event_registration"),
        CheckConstraint(f"rsvp IN ({_in([a.value for a in RsvpAnswer])})", name="rsvp_known"),
        CheckConstraint("guests BETWEEN 0 AND 50", name="guests_range"),
        Index("ix_invitations_event_rsvp", "event_id", "rsvp"),
    )


class MailOptOut(db.Model):
    """An address that unsubscribed (List-Unsubscribe one-click): no more invitation mail."""

    __tablename__ = "mail_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_normalized: Mapped[str] = mapped_column(String(254), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(32), default="list-unsubscribe")


class MailQueueState(db.Model):
    """The delivery queue's shared state (one row): paused after a relay failure, and why."""

    __tablename__ = "mail_queue_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoginThrottle(db.Model):
    """Failed sign-ins counted per account and per client address (shared by every process).

    ``key`` is the SHA-256 of ``"<kind>:<value>"`` so that whatever was typed in the email field
    (sometimes a password) is never stored. A key locked after too many failures opens again
    when ``locked_until`` passes: a real organizer is never locked out for good.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "account" or "address"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("kind IN ('account', 'address')", name="kind_known"),)


class OrganizerNote(db.Model):
    """An internal note on a registration, visible to organizers only."""

    __tablename__ = "organizer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizers.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportRecord(db.Model):
    """One export of personal data: who took which rows of which event out, and how.

    Kept even when the organizer or the event is deleted later (``event_slug`` and ``actor``
    are copies), as the office must be able to answer who exported what.
    """

    __tablename__ = "export_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizers.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(254))  # organizer email, or "cli:<os user>"
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    event_slug: Mapped[str] = mapped_column(String(80))
    format: Mapped[str] = mapped_column(String(8))
    filters: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(200), default="")
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("format IN ('csv', 'xlsx', 'json')", name="format_known"),
        Index("ix_export_log_at", "at"),
    )


class ImportBatch(db.Model):
    """An uploaded CSV waiting for the organizer to confirm its preview (then deleted)."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
