"""The transactional outbox: queue messages with the change that caused them, deliver later.

``enqueue`` adds a row in the caller's transaction; ``queue_row(composed_row(...))`` adds one
whose body the delivery worker writes (and stores) when it first claims it. Delivery
(``deliver_due``/``deliver_ids``) claims rows in a short transaction of its own, so two
workers never hold the same row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), sends them over one transport connection and records each outcome in
its own commit. A worker killed mid-batch leaves its rows in ``sending`` with a lease; once
the lease runs out another worker takes them again. A live worker renews the lease of the
rows it still holds while it sends. Only the message in flight at the kill can go out twice,
and with the same Message-ID.

Each outcome is one ``UPDATE`` by primary key, committed before the next message is sent
(that commit is what bounds a killed worker to one duplicate). On PostgreSQL it is committed
asynchronously (``synchronous_commit = off`` on the batch's outcome connection only; claims,
leases and every other write stay synchronous): a commit is visible to all sessions at once,
so a killed worker and a second worker behave exactly as with a synchronous commit, and it
saves waiting for the WAL flush on every message. The trade: if the PostgreSQL server itself
crashes (or its machine loses power), the outcomes of the last fraction of a second (up to
three times ``wal_writer_delay``, 0.6 s by default) may be lost. Those rows are back in
``sending`` with the lease of their claim, so once it runs out they are sent again, with the
same Message-ID, which receiving servers and clients use to recognise duplicates.

Two limits apply to every worker at once, because they live in the database:

- the queue pauses (``mail_queue_state``) when the relay refuses authentication or TLS: the
  claimed rows go back without using an attempt, organizers see the reason, and delivery
  tries again after ``MAIL_RELAY_PAUSE_SECONDS`` or when an organizer resumes it;
- ``MAIL_RATE_PER_MINUTE`` caps the messages sent (or being sent) in any rolling minute.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, bindparam, func, or_, select, text, update
from sqlalchemy.sql.dml import Update

from .database import (
    immediate_transactions,
    insert_ignore,
    insert_ignore_many,
    insert_returning_id,
)
from .emails import BuiltMessage, domain_of, make_message_id
from .extensions import db
from .mailer import (
    PermanentMailError,
    RelayMailError,
    TransientMailError,
    Transport,
    transport_from_url,
)
from .models import MailQueueState, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

DUE_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.RETRYING)
_OUTBOX = OutboxMessage.__table__


def outbox_row(
    message: Message | BuiltMessage,
    *,
    kind: str,
    registration_id: int | None = None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    invitation_id: int | None = None,
) -> dict[str, Any]:
    """The outbox row (column values) that queues ``message``."""
    if isinstance(message, BuiltMessage):  # already bytes (the bulk invitation path)
        message_id, sender, recipient = message.message_id, message.sender, message.recipient
        subject, raw = message.subject, message.raw
    else:
        message_id = str(message["Message-ID"])
        sender = getaddresses([str(message["From"])])[0][1]
        recipient = getaddresses([str(message["To"])])[0][1]
        subject = str(message["Subject"] or "")
        # CRLF line ends, as SMTP wants (smtplib does not convert them in bytes)
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return _queued_row(kind=kind, message_id=message_id, sender=sender, recipient=recipient,
                       subject=subject, raw=raw, registration_id=registration_id,
                       idempotency_key=idempotency_key, max_attempts=max_attempts,
                       invitation_id=invitation_id)


def _queued_row(*, kind: str, message_id: str, sender: str, recipient: str, subject: str,
                raw: bytes | None, compose: str | None = None,
                registration_id: int | None = None, idempotency_key: str | None = None,
                max_attempts: int | None = None,
                invitation_id: int | None = None) -> dict[str, Any]:
    """Column values of a new, due outbox row (``sender`` and ``recipient``: addresses only)."""
    now = utcnow()
    return {
        "message_id": message_id,
        "idempotency_key": idempotency_key,
        "kind": kind,
        "registration_id": registration_id,
        "invitation_id": invitation_id,
        "sender": sender,
        "recipient": recipient,
        "subject": subject[:500],
        "raw": raw,
        "compose": compose,
        "status": OutboxStatus.QUEUED.value,
        "attempts": 0,
        "max_attempts": max_attempts or current_app.config.get("MAIL_MAX_ATTEMPTS", 8),
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def enqueue(message: Message | BuiltMessage, **fields: Any) -> int | None:
    """Queue ``message`` in the current transaction; return the outbox id.

    ``fields`` as for :func:`outbox_row`. With an ``idempotency_key`` that was queued before,
    nothing is added and None is returned.
    """
    values = outbox_row(message, **fields)
    if values["idempotency_key"] is not None:
        return insert_ignore(OutboxMessage, values, ["idempotency_key"])
    return insert_returning_id(OutboxMessage, values)


def enqueue_many(rows: list[dict[str, Any]]) -> list[int]:
    """Queue many :func:`outbox_row` rows (each with an idempotency key) in a few statements;
    return the ids of those not queued before."""
    assert all(row["idempotency_key"] for row in rows), "bulk queueing needs idempotency keys"
    return list(insert_ignore_many(OutboxMessage, rows, ["idempotency_key"]))


# --- messages written at delivery -------------------------------------------------------------


@dataclass(frozen=True)
class ComposeJob:
    """What a composer gets: the queued row's identity and what it was asked to write."""

    outbox_id: int
    kind: str
    message_id: str
    registration_id: int | None
    params: dict[str, Any]


class ComposeError(Exception):
    """The message cannot be written (its registration is gone, say); it fails with this."""


Composer = Callable[[ComposeJob], BuiltMessage]
_composers: dict[str, Composer] = {}


def register_composer(kind: str, composer: Composer) -> None:
    """Let delivery write messages of ``kind`` queued with :func:`composed_row`."""
    _composers[kind] = composer


def composed_row(kind: str, *, sender: str, recipient: str, subject: str,
                 params: dict[str, Any], registration_id: int | None = None) -> dict[str, Any]:
    """A message the delivery worker writes (``register_composer``), as an outbox row.

    Made without touching the database, so a caller can make it before its write
    transaction begins and queue it with :func:`queue_row`. The row gets its Message-ID,
    envelope and subject now; the composer writes the body when a worker first claims it
    (off the web request), and that ``raw`` is stored before the first attempt, so retries
    send the same bytes.
    """
    address, domain = _parsed_sender(sender)
    return _queued_row(
        kind=kind, message_id=make_message_id(domain), sender=address, recipient=recipient,
        subject=subject, raw=None, compose=json.dumps(params), registration_id=registration_id)


def queue_row(values: dict[str, Any]) -> int:
    """Insert an outbox row made by :func:`composed_row`, in the caller's transaction."""
    return insert_returning_id(OutboxMessage, values)


@functools.lru_cache(maxsize=16)
def _parsed_sender(sender: str) -> tuple[str, str]:
    """The address and Message-ID domain of a configured From value, parsed once per value."""
    return getaddresses([sender])[0][1], domain_of(sender)


def _compose_unwritten(rows: dict[int, _Row], report: DeliveryReport) -> None:
    """Write the claimed rows that have no ``raw`` yet and store them (one transaction).

    A row whose composer fails is failed with the reason and dropped from ``rows``.
    """
    todo = [row for row in rows.values() if row.raw is None]
    if not todo:
        return
    written: list[dict[str, Any]] = []
    for row in todo:
        try:
            composer = _composers.get(row.kind)
            if composer is None:
                raise ComposeError(f"no composer for messages of kind {row.kind!r}")
            built = composer(ComposeJob(row.id, row.kind, row.message_id, row.registration_id,
                                        json.loads(row.compose or "{}")))
        except Exception as exc:
            # Writing it again would fail the same way: fail it now with the reason (an
            # organizer can send it again after fixing the cause) instead of leaving it to
            # be claimed, and fail, after every lease.
            if not isinstance(exc, ComposeError):
                log.exception("could not write outbox message %s", row.id)
            _finish(row.id, status=OutboxStatus.FAILED.value,
                    last_error=f"could not write the message: {exc}"[:2000])
            report.failed += 1
            del rows[row.id]
            continue
        row.raw, row.compose = built.raw, None
        written.append({"row_id": row.id, "new_raw": built.raw,
                        "new_subject": built.subject[:500]})
    db.session.rollback()  # end the composers' reads before any network I/O
    if written:
        with immediate_transactions():
            db.session.rollback()
            db.session.execute(
                update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
                .values(raw=bindparam("new_raw"), subject=bindparam("new_subject"), compose=None),
                written)
            db.session.commit()


def backoff_seconds(attempt: int, base: float = 30.0, cap: float = 6 * 3600) -> float:
    """Exponential backoff with full jitter: up to base·2^(attempt-1), at most ``cap``."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    relay_error: str | None = None

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.released += other.released
        self.relay_error = other.relay_error or self.relay_error
        return self


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(limit: int, *, ids: Iterable[int] | None = None, lease_seconds: int | None = None,
          worker: str | None = None) -> list[int]:
    """Claim up to ``limit`` due rows (or just ``ids`` when due) for this worker; commits.

    Nothing is claimed while the queue is paused, and no more than the rate limit leaves.
    """
    now = utcnow()
    lease = lease_seconds or current_app.config.get("MAIL_LEASE_SECONDS", 300)
    rate = int(current_app.config.get("MAIL_RATE_PER_MINUTE") or 0)
    due = or_(
        (OutboxMessage.status.in_([s.value for s in DUE_STATUSES]))
        & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING.value) & (OutboxMessage.lease_until < now),
    )
    query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    with immediate_transactions():
        db.session.rollback()  # start a fresh (immediate, on SQLite) transaction
        postgres = db.session.get_bind().dialect.name == "postgresql"
        paused_until = db.session.scalar(
            select(MailQueueState.paused_until).where(MailQueueState.id == 1))
        if paused_until is not None and paused_until > now:
            db.session.rollback()
            return []
        if rate > 0:
            if postgres:  # one claimer at a time, so two cannot both spend the same budget
                db.session.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            limit = min(limit, rate - _spent_this_minute(now))
            if limit <= 0:
                db.session.rollback()
                return []
        query = query.limit(limit)
        if postgres:
            query = query.with_for_update(skip_locked=True)
        claimed = list(db.session.execute(query).scalars())
        if claimed:
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(claimed))
                .values(
                    status=OutboxStatus.SENDING.value,
                    lease_until=now + dt.timedelta(seconds=lease),
                    claimed_by=(worker or worker_name())[:120],
                    attempts=OutboxMessage.attempts + 1,
                )
            )
        db.session.commit()
    return claimed


def _spent_this_minute(now: dt.datetime) -> int:
    """Messages sent in the last minute plus those being sent right now."""
    minute_ago = now - dt.timedelta(seconds=60)
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(or_(
        OutboxMessage.sent_at >= minute_ago,
        (OutboxMessage.status == OutboxStatus.SENDING.value) & (OutboxMessage.lease_until >= now),
    ))) or 0


def _renew(row_ids: list[int], worker: str, lease: int) -> list[int]:
    """Extend the lease of the rows this worker still holds; return those (others took the
    rest after our lease ran out)."""
    if not row_ids:
        return []
    with immediate_transactions():
        db.session.rollback()
        mine = (OutboxMessage.id.in_(row_ids)) & (OutboxMessage.claimed_by == worker[:120]) & (
            OutboxMessage.status == OutboxStatus.SENDING.value)
        db.session.execute(update(OutboxMessage).where(mine).values(
            lease_until=utcnow() + dt.timedelta(seconds=lease)))
        kept = set(db.session.scalars(select(OutboxMessage.id).where(mine)))
        db.session.commit()
    return [i for i in row_ids if i in kept]


# --- the queue's shared state (paused after a relay failure) ---------------------------------


@dataclass
class QueueState:
    paused: bool
    paused_until: dt.datetime | None
    paused_since: dt.datetime | None
    reason: str


def queue_state(now: dt.datetime | None = None) -> QueueState:
    """What organizers see: is delivery paused, since when, until when, and why."""
    now = now or utcnow()
    row = db.session.get(MailQueueState, 1)
    if row is None:
        return QueueState(False, None, None, "")
    paused = row.paused_until is not None and row.paused_until > now
    return QueueState(paused, row.paused_until, row.paused_since, row.reason)


def _pause(reason: str) -> None:
    """Pause every worker's deliveries (own transaction)."""
    seconds = current_app.config.get("MAIL_RELAY_PAUSE_SECONDS", 300)
    now = utcnow()
    with immediate_transactions():
        db.session.rollback()
        row = db.session.get(MailQueueState, 1)
        if row is None:
            row = MailQueueState(id=1, reason="")
            db.session.add(row)
        row.paused_since = row.paused_since or now
        row.paused_until = now + dt.timedelta(seconds=seconds)
        row.reason = reason[:2000]
        db.session.commit()


def _clear_pause() -> None:
    with immediate_transactions():
        db.session.rollback()
        db.session.execute(update(MailQueueState).where(MailQueueState.id == 1).values(
            paused_until=None, paused_since=None, reason=""))
        db.session.commit()


def resume_queue() -> bool:
    """Let delivery try again now (an organizer fixed the relay). The caller commits."""
    row = db.session.get(MailQueueState, 1)
    if row is None or row.paused_until is None:
        return False
    row.paused_until = None
    return True


def requeue(ids: Iterable[int]) -> list[int]:
    """Queue failed messages again, unchanged (same Message-ID), with fresh attempts.

    The caller commits, then dispatches the returned ids.
    """
    ids = list(ids)
    if not ids:
        return []
    requeued = list(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.FAILED.value)))
    if requeued:
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(requeued)).values(
            status=OutboxStatus.QUEUED.value, attempts=0, next_attempt_at=utcnow(),
            last_error="", lease_until=None, claimed_by=None))
    return requeued


def _finish(row_id: int, conn: Connection | None = None, **values: object) -> None:
    """Record one message's outcome in its own transaction (before the next one is sent).

    Sets ``values`` and clears the lease (``lease_until``, ``claimed_by``). With ``conn`` (a
    plain Core connection the batch holds, see :func:`send_claimed`) this is one ``UPDATE``
    by primary key committed on its own, without the ORM session's bookkeeping: it runs once
    per message sent, so its cost is paid thousands of times in a big send. The statement is
    built once per set of columns (:func:`_outcome_statement`); only the parameters change.
    """
    stmt = _outcome_statement(tuple(sorted(values)))
    params = {"row_id": row_id, **{f"v_{name}": value for name, value in values.items()}}
    with immediate_transactions():
        if conn is None:
            db.session.rollback()
            db.session.execute(stmt, params)
            db.session.commit()
        else:
            with conn.begin():
                conn.execute(stmt, params)


@functools.lru_cache(maxsize=8)
def _outcome_statement(columns: tuple[str, ...]) -> Update:
    """``UPDATE outbox SET <columns>, lease_until = NULL, claimed_by = NULL WHERE id = ?``.

    Profiled, building ``update(...).values(**values)`` per message (SQLAlchemy's argument
    coercion and cache key) cost as much as executing and committing it on SQLite.
    """
    return (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
            .values(lease_until=None, claimed_by=None,
                    **{name: bindparam(f"v_{name}", type_=_OUTBOX.c[name].type)
                       for name in columns}))


def _release(row_ids: list[int], delay: float) -> None:
    """Give claimed rows back without counting the attempt (the relay, not they, failed)."""
    if not row_ids:
        return
    with immediate_transactions():
        db.session.rollback()
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(row_ids), OutboxMessage.status == "sending")
            .values(
                status=OutboxStatus.RETRYING.value,
                attempts=OutboxMessage.attempts - 1,
                lease_until=None,
                claimed_by=None,
                next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
            )
        )
        db.session.commit()


def send_claimed(
    row_ids: list[int],
    transport: Transport,
    *,
    before_send: Callable[[], None] | None = None,
    worker: str | None = None,
) -> DeliveryReport:
    """Send claimed rows over one connection of ``transport``, recording each outcome.

    ``worker`` is the name the rows were claimed under; with it, the leases of the rows still
    waiting are renewed as the batch goes on, and rows another worker took over are skipped.
    """
    report = DeliveryReport()
    if not row_ids:
        return report
    pending = list(row_ids)
    lease = current_app.config.get("MAIL_LEASE_SECONDS", 300)
    renewed = time.monotonic()
    had_pause = bool(queue_state().reason)
    rows = _load(pending)
    _compose_unwritten(rows, report)
    with _outcome_connection() as conn:
        _send_rows(pending, rows, transport, report, conn, lease=lease, renewed=renewed,
                   had_pause=had_pause, before_send=before_send, worker=worker)
    return report


@contextlib.contextmanager
def _outcome_connection() -> Iterator[Connection]:
    """The plain connection a batch records its outcomes on (see :func:`_finish`).

    On PostgreSQL it runs in autocommit: each outcome is a single ``UPDATE``, so that makes it
    its own transaction, committed before the call returns, in one round trip instead of three
    (``BEGIN``, ``UPDATE``, ``COMMIT``). It also commits asynchronously
    (``synchronous_commit = off``, this connection only, reset before it goes back to the
    pool): the commit is visible to every session at once, but is flushed to disk by the WAL
    writer a fraction of a second later instead of before the call returns. See the module
    docstring for what that trades.
    """
    with db.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            yield conn
            return
        conn.execution_options(isolation_level="AUTOCOMMIT")  # the pool restores it
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.commit()
        try:
            yield conn
        finally:
            try:
                conn.exec_driver_sql("RESET synchronous_commit")
                conn.commit()
            except Exception:  # unusable: discard it, so the setting cannot reach another user
                log.warning("outcome connection lost; discarding it", exc_info=True)
                conn.invalidate()


def _send_rows(pending: list[int], rows: dict[int, _Row], transport: Transport,
               report: DeliveryReport, conn: Connection, *, lease: int, renewed: float,
               had_pause: bool, before_send: Callable[[], None] | None,
               worker: str | None) -> None:
    try:
        with transport:
            while pending:
                if worker is not None and time.monotonic() - renewed > lease / 3:
                    pending = _renew(pending, worker, lease)
                    renewed = time.monotonic()
                    if not pending:
                        break
                row_id = pending[0]
                row = rows.get(row_id)
                if row is None:
                    pending.pop(0)
                    continue
                if before_send is not None:
                    before_send()
                try:
                    transport.send(row.raw, row.sender, [row.recipient])
                except PermanentMailError as exc:
                    _finish(row_id, conn, status=OutboxStatus.FAILED.value,
                            last_error=str(exc)[:2000])
                    report.failed += 1
                except TransientMailError as exc:
                    _after_transient(row, str(exc), report, conn)
                    pending.pop(0)
                    # The connection may be gone: hand the rest back and let a new pass retry.
                    _release(pending, delay=current_app.config.get("MAIL_BACKOFF_BASE", 30) / 6)
                    report.released += len(pending)
                    return
                else:
                    _finish(row_id, conn, status=OutboxStatus.SENT.value, sent_at=utcnow(),
                            last_error="")
                    report.sent += 1
                    if had_pause:
                        _clear_pause()
                        had_pause = False
                pending.pop(0)
    except RelayMailError as exc:
        _release(pending, delay=0)
        report.released += len(pending)
        report.relay_error = str(exc)
        _pause(str(exc))
        log.error("mail relay refused us; delivery paused for all workers: %s", exc)
    except TransientMailError as exc:
        # Could not even connect: every claimed row counts one attempt.
        for row_id in pending:
            if row_id in rows:
                _after_transient(rows[row_id], str(exc), report, conn)


@dataclass
class _Row:
    id: int
    raw: bytes | None
    sender: str
    recipient: str
    attempts: int
    max_attempts: int
    kind: str
    message_id: str
    registration_id: int | None
    compose: str | None


def _load(row_ids: list[int]) -> dict[int, _Row]:
    """Read the claimed rows as plain values (one query per batch) and end the read
    transaction before any network I/O."""
    found = db.session.execute(
        select(
            OutboxMessage.id, OutboxMessage.raw, OutboxMessage.sender, OutboxMessage.recipient,
            OutboxMessage.attempts, OutboxMessage.max_attempts, OutboxMessage.kind,
            OutboxMessage.message_id, OutboxMessage.registration_id, OutboxMessage.compose,
        ).where(OutboxMessage.id.in_(row_ids))
    ).all()
    db.session.rollback()
    return {row[0]: _Row(*row) for row in found}


def _after_transient(row: _Row, error: str, report: DeliveryReport,
                     conn: Connection | None = None) -> None:
    if row.attempts >= row.max_attempts:
        _finish(row.id, conn, status=OutboxStatus.FAILED.value,
                last_error=f"gave up after {row.attempts} attempts: {error}"[:2000])
        report.failed += 1
    else:
        delay = backoff_seconds(row.attempts, current_app.config.get("MAIL_BACKOFF_BASE", 30.0))
        _finish(row.id, conn, status=OutboxStatus.RETRYING.value, last_error=error[:2000],
                next_attempt_at=utcnow() + dt.timedelta(seconds=delay))
        report.retrying += 1


def get_transport() -> Transport:
    return transport_from_url(current_app.config["MAIL_URL"])


def deliver_due(limit: int = 50, transport: Transport | None = None) -> DeliveryReport:
    """Claim and send up to ``limit`` due messages (the one delivery function: the embedded
    worker, ``ciie-rsvp mail worker`` and the Celery task all run it)."""
    worker = worker_name()
    return send_claimed(claim(limit, worker=worker), transport or get_transport(),
                        worker=worker)


def deliver_ids(ids: list[int], transport: Transport | None = None) -> DeliveryReport:
    """Send the given messages now if they are still due (used right after a request commits)."""
    if not ids:
        return DeliveryReport()
    worker = worker_name()
    return send_claimed(claim(len(ids), ids=ids, worker=worker),
                        transport or get_transport(), worker=worker)


def dispatch(ids: list[int | None]) -> None:
    """Hand freshly committed outbox rows to delivery, as configured.

    With a Celery broker (``BROKER_URL``) a task delivers them. Otherwise ``MAIL_DELIVERY``
    decides: ``auto`` (the default) wakes this process's delivery thread when it has one and
    is ``inline`` otherwise; ``inline`` sends up to ``MAIL_INLINE_MAX`` of them now (after the
    commit, never before) and leaves a bigger batch to the delivery worker; ``worker`` and
    ``none`` leave them all to it. Delivery trouble never fails the request: the rows stay
    queued.
    """
    real = [i for i in ids if i is not None]
    if not real:
        return
    if current_app.config.get("BROKER_URL"):
        try:
            # This Flask app's own Celery app (not Celery's process-wide default), whose
            # publishing is bounded: a broker that is down costs the request a few seconds
            # at most, never a hang.
            current_app.extensions["celery"].send_task("ciie_rsvp.deliver_messages",
                                                       args=(real,))
        except Exception:  # the broker is down: the periodic task or a worker picks them up
            log.exception("could not hand mail to Celery; the outbox keeps it")
        return
    mode = current_app.config.get("MAIL_DELIVERY", "auto")
    if mode == "auto":
        # A delivery thread in this process (``ciie-rsvp serve``) sends it without making the
        # visitor wait on the relay; without one (tests, ``flask run``) send it inline.
        mode = "worker" if _local_workers else "inline"
    inline_max = current_app.config.get("MAIL_INLINE_MAX", 50)
    if mode == "inline":
        try:
            deliver_ids(real[:inline_max])
        except Exception:  # the message is safe in the outbox; a worker will retry it
            log.exception("inline delivery failed; the outbox keeps the message")
            db.session.rollback()
        if len(real) > inline_max:
            wake_worker()
    elif mode == "worker":
        wake_worker()


def deliver_all(ids: list[int | None], batch: int = 50,
                progress: Callable[[DeliveryReport], None] | None = None) -> DeliveryReport:
    """Deliver these rows now, in batches (the CLI's inline delivery of a big send)."""
    total = DeliveryReport()
    real = [i for i in ids if i is not None]
    for start in range(0, len(real), batch):
        report = deliver_ids(real[start:start + batch])
        total += report
        if progress is not None:
            progress(total)
        if report.relay_error:
            break
    return total


_wake = threading.Event()
_local_workers: set[int] = set()  # threads of this process running run_worker


def wake_worker() -> None:
    _wake.set()


def run_worker(
    app: Flask,
    stop: threading.Event,
    *,
    poll_seconds: float = 5.0,
    batch: int = 50,
    on_report: Callable[[DeliveryReport], None] | None = None,
) -> None:
    """Deliver due messages until ``stop`` is set."""
    _local_workers.add(threading.get_ident())
    try:
        _run_worker(app, stop, poll_seconds=poll_seconds, batch=batch, on_report=on_report)
    finally:
        _local_workers.discard(threading.get_ident())


def _run_worker(app: Flask, stop: threading.Event, *, poll_seconds: float, batch: int,
                on_report: Callable[[DeliveryReport], None] | None) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                report = deliver_due(batch)
            except Exception:
                log.exception("outbox worker pass failed")
                db.session.rollback()
                report = DeliveryReport()
            finally:
                db.session.remove()
            if on_report and (report.sent or report.failed or report.retrying):
                on_report(report)
            if report.sent + report.failed + report.retrying == 0 or report.relay_error:
                _wake.wait(poll_seconds)
                _wake.clear()
