"""Registrants' confirmations are queued by the request and written by the delivery worker.

Delivered to a real SMTP server on loopback (aiosmtpd): the message keeps the Message-ID it
got when queued, the bytes the worker wrote are stored before the first attempt (so a retry
sends the same message), and a message whose registration is gone fails with a reason
instead of going out.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import OutboxMessage, Registration
from ciie_rsvp.outbox import deliver_due, get_transport
from tests.conftest import SMTPSink, text_body


@pytest.fixture
def slug(app, make_event, smtp_server: SMTPSink) -> str:
    """An open event whose mail stays queued until a test delivers it to ``smtp_server``."""
    app.config.update(MAIL_DELIVERY="none", MAIL_URL=smtp_server.url)
    return make_event()


def _rows(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def test_request_queues_envelope_and_worker_writes_the_message(
        app, slug, register, smtp_server: SMTPSink) -> None:
    assert register(slug, language="zh-Hans").status_code == 303

    [queued] = _rows(app)
    assert queued.raw is None and queued.compose  # nothing written in the request
    assert queued.recipient == "maria.lopez@almonds.example.com"
    assert queued.sender == "delegation@wtcla.example.org"
    assert queued.subject == "报名已收到：相约上海，共享未来"
    assert queued.message_id.startswith("<") and queued.message_id.endswith(">")

    with app.app_context():
        report = deliver_due(10)
        assert report.sent == 1

    [sent] = _rows(app)
    assert sent.status == "sent" and sent.compose is None
    [(mail_from, rcpt, raw)] = smtp_server.messages
    assert (mail_from, rcpt) == (sent.sender, [sent.recipient])
    assert raw.replace(b"\r\n", b"\n") == sent.raw.replace(b"\r\n", b"\n")
    [msg] = smtp_server.parsed()
    assert msg["Message-ID"] == queued.message_id
    assert str(msg["Subject"]) == queued.subject
    body = text_body(msg)
    assert "Maria Lopez" in body and "https://rsvp.example.org/r/" in body
    assert msg.get_body(preferencelist=("html",)) is not None


def test_retry_after_a_refused_attempt_sends_the_bytes_written_the_first_time(
        app, slug, register, smtp_server: SMTPSink) -> None:
    register(slug)
    smtp_server.reject = lambda _address: "451 4.3.0 try again later"
    with app.app_context():
        assert deliver_due(10).retrying == 1
    [waiting] = _rows(app)
    assert waiting.status == "retrying" and waiting.raw and waiting.compose is None
    written = waiting.raw

    smtp_server.reject = None
    with app.app_context():
        db.session.execute(OutboxMessage.__table__.update().values(
            next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()
        assert deliver_due(10).sent == 1
    [(_, _, raw)] = smtp_server.messages
    assert raw.replace(b"\r\n", b"\n") == written.replace(b"\r\n", b"\n")


def test_message_for_a_registration_that_is_gone_fails_with_the_reason(
        app, slug, register, smtp_server: SMTPSink) -> None:
    register(slug)
    register(slug, email="second@example.com")
    with app.app_context():  # an organizer's purge removed the first one before delivery
        first = db.session.scalar(select(Registration.id).order_by(Registration.id))
        db.session.execute(delete(Registration).where(Registration.id == first))
        db.session.commit()
        report = deliver_due(10, transport=get_transport())
    assert (report.sent, report.failed) == (1, 1)
    failed, sent = _rows(app)
    assert failed.status == "failed" and "no longer exists" in failed.last_error
    assert failed.raw is None
    assert sent.status == "sent"
    assert [rcpt for _, rcpt, _ in smtp_server.messages] == [["second@example.com"]]


def test_repeat_submission_mail_is_written_at_delivery_too(
        app, slug, register, smtp_server: SMTPSink) -> None:
    register(slug)
    register(slug, company="Changed Name Inc.")
    with app.app_context():
        assert deliver_due(10).sent == 2
    received, exists = smtp_server.parsed()
    assert str(received["Subject"]).startswith("Registration received")
    assert str(exists["Subject"]).startswith("You are already registered")
    links = [line for line in text_body(exists).splitlines() if "/r/" in line]
    old = [line for line in text_body(received).splitlines() if "/r/" in line]
    assert links and old and links != old  # the repeat carries the new link


def test_message_that_cannot_be_written_fails_once_with_the_reason(
        app, slug, register, smtp_server: SMTPSink) -> None:
    """A stored name that would smuggle a header (data from before today's checks) is refused
    when the message is written: the row fails with the reason instead of being claimed and
    failing again after every lease, and the other messages of the batch go out."""
    register(slug)
    register(slug, email="second@example.com")
    with app.app_context():
        first = db.session.scalar(select(Registration.id).order_by(Registration.id))
        db.session.execute(Registration.__table__.update()
                           .where(Registration.id == first)
                           .values(first_name="=?UTF-8?Q?=0A?=Bcc: victim@example.net"))
        db.session.commit()
        report = deliver_due(10)
        assert (report.sent, report.failed) == (1, 1)
        assert deliver_due(10).sent == 0  # nothing left to claim
    failed, sent = _rows(app)
    assert failed.status == "failed" and failed.attempts == 1
    assert "could not write the message" in failed.last_error
    assert "control character" in failed.last_error
    assert [rcpt for _, rcpt, _ in smtp_server.messages] == [["second@example.com"]]
    assert all(b"victim@example.net" not in raw for _, _, raw in smtp_server.messages)
