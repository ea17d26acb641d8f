"""The transactional outbox: queue messages with the change that caused them, deliver later.

``enqueue`` adds a row in the caller's transaction. Delivery (``deliver_due``/``deliver_ids``)
claims rows in a short transaction of its own, so two workers never hold the same row
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), sends them over one
transport connection and records each outcome in its own commit. A worker killed mid-batch
leaves its rows in ``sending`` with a lease; once the lease runs out another worker takes
them again. Only the message in flight at the kill can go out twice, and with the same
Message-ID.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import getaddresses

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from .database import immediate_transactions, insert_ignore
from .extensions import db
from .mailer import (
    PermanentMailError,
    RelayMailError,
    TransientMailError,
    Transport,
    transport_from_url,
)
from .models import OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

DUE_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.RETRYING)


def enqueue(
    message: EmailMessage,
    *,
    kind: str,
    registration_id: int | None = None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
) -> int | None:
    """Queue ``message`` in the current transaction; return the outbox id.

    With an ``idempotency_key`` that was queued before, nothing is added and None is returned.
    """
    sender = getaddresses([str(message["From"])])[0][1]
    recipient = getaddresses([str(message["To"])])[0][1]
    values = {
        "message_id": str(message["Message-ID"]),
        "idempotency_key": idempotency_key,
        "kind": kind,
        "registration_id": registration_id,
        "sender": sender,
        "recipient": recipient,
        "subject": str(message["Subject"] or "")[:500],
        "raw": message.as_bytes(policy=SMTP_POLICY),  # CRLF line ends, as SMTP wants
        "status": OutboxStatus.QUEUED.value,
        "attempts": 0,
        "max_attempts": max_attempts or current_app.config.get("MAIL_MAX_ATTEMPTS", 8),
        "next_attempt_at": utcnow(),
        "last_error": "",
        "created_at": utcnow(),
    }
    if idempotency_key is not None:
        return insert_ignore(OutboxMessage, values, ["idempotency_key"])
    row = OutboxMessage(**values)
    db.session.add(row)
    db.session.flush()
    return row.id


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
    """Claim up to ``limit`` due rows (or just ``ids`` when due) for this worker; commits."""
    now = utcnow()
    lease = lease_seconds or current_app.config.get("MAIL_LEASE_SECONDS", 300)
    due = or_(
        (OutboxMessage.status.in_([s.value for s in DUE_STATUSES]))
        & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING.value) & (OutboxMessage.lease_until < now),
    )
    query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    with immediate_transactions():
        db.session.rollback()  # start a fresh (immediate, on SQLite) transaction
        if db.session.get_bind().dialect.name == "postgresql":
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


def _finish(row_id: int, **values: object) -> None:
    with immediate_transactions():
        db.session.rollback()
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(lease_until=None, claimed_by=None, **values)
        )
        db.session.commit()


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
) -> DeliveryReport:
    """Send claimed rows over one connection of ``transport``, recording each outcome."""
    report = DeliveryReport()
    if not row_ids:
        return report
    pending = list(row_ids)
    try:
        with transport:
            while pending:
                row_id = pending[0]
                row = _load(row_id)
                if row is None:
                    pending.pop(0)
                    continue
                if before_send is not None:
                    before_send()
                try:
                    transport.send(row.raw, row.sender, [row.recipient])
                except PermanentMailError as exc:
                    _finish(row_id, status=OutboxStatus.FAILED.value, last_error=str(exc)[:2000])
                    report.failed += 1
                except TransientMailError as exc:
                    _after_transient(row, str(exc), report)
                    pending.pop(0)
                    # The connection may be gone: hand the rest back and let a new pass retry.
                    _release(pending, delay=5)
                    report.released += len(pending)
                    return report
                else:
                    _finish(row_id, status=OutboxStatus.SENT.value, sent_at=utcnow(),
                            last_error="")
                    report.sent += 1
                pending.pop(0)
    except RelayMailError as exc:
        _release(pending, delay=60)
        report.released += len(pending)
        report.relay_error = str(exc)
        log.error("mail relay refused us, queue paused for a minute: %s", exc)
    except TransientMailError as exc:
        # Could not even connect: every claimed row counts one attempt.
        for row_id in pending:
            row = _load(row_id)
            if row is not None:
                _after_transient(row, str(exc), report)
    return report


@dataclass
class _Row:
    id: int
    raw: bytes
    sender: str
    recipient: str
    attempts: int
    max_attempts: int


def _load(row_id: int) -> _Row | None:
    """Read one row as plain values and end the read transaction before network I/O."""
    found = db.session.execute(
        select(
            OutboxMessage.id, OutboxMessage.raw, OutboxMessage.sender, OutboxMessage.recipient,
            OutboxMessage.attempts, OutboxMessage.max_attempts,
        ).where(OutboxMessage.id == row_id)
    ).one_or_none()
    db.session.rollback()
    return _Row(*found) if found else None


def _after_transient(row: _Row, error: str, report: DeliveryReport) -> None:
    if row.attempts >= row.max_attempts:
        _finish(row.id, status=OutboxStatus.FAILED.value,
                last_error=f"gave up after {row.attempts} attempts: {error}"[:2000])
        report.failed += 1
    else:
        delay = backoff_seconds(row.attempts, current_app.config.get("MAIL_BACKOFF_BASE", 30.0))
        _finish(row.id, status=OutboxStatus.RETRYING.value, last_error=error[:2000],
                next_attempt_at=utcnow() + dt.timedelta(seconds=delay))
        report.retrying += 1


def get_transport() -> Transport:
    return transport_from_url(current_app.config["MAIL_URL"])


def deliver_due(limit: int = 50, transport: Transport | None = None) -> DeliveryReport:
    """Claim and send up to ``limit`` due messages."""
    return send_claimed(claim(limit), transport or get_transport())


def deliver_ids(ids: list[int], transport: Transport | None = None) -> DeliveryReport:
    """Send the given messages now if they are still due (used right after a request commits)."""
    if not ids:
        return DeliveryReport()
    return send_claimed(claim(len(ids), ids=ids), transport or get_transport())


def dispatch(ids: list[int | None]) -> None:
    """Hand freshly committed outbox rows to delivery, as configured by ``MAIL_DELIVERY``.

    ``inline`` sends them now (after the commit, never before); ``worker`` and ``none`` leave
    them to a delivery worker. Delivery trouble never fails the request: the row stays queued.
    """
    real = [i for i in ids if i is not None]
    if not real:
        return
    mode = current_app.config.get("MAIL_DELIVERY", "inline")
    if mode == "inline":
        try:
            deliver_ids(real)
        except Exception:  # the message is safe in the outbox; a worker will retry it
            log.exception("inline delivery failed; the outbox keeps the message")
            db.session.rollback()
    elif mode == "worker":
        wake_worker()


_wake = threading.Event()


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
