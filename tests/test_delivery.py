"""Delivery guarantees of invitation mail against a real SMTP server on loopback (aiosmtpd).

Exactly once when the relay is up; nothing lost when it goes down mid-batch; at most the
in-flight message twice (same Message-ID) when a worker process is SIGKILLed; never twice with
two workers at once; a relay that refuses our credentials pauses the queue without using up
attempts; the send rate is capped; failed messages can be resent unchanged.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ciie_rsvp import create_app
from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import services
from ciie_rsvp.models import Event, OutboxMessage
from ciie_rsvp.outbox import claim, deliver_due, get_transport, queue_state, send_claimed
from tests.conftest import SMTPSink

EVENT = {
    "slug": "meet-delivery",
    "name_en": "Meet in Shanghai, Share the Future",
    "start_date": dt.date(2030, 10, 13),
    "end_date": dt.date(2030, 10, 13),
    "venue": "Downtown Los Angeles",
    "city": "Los Angeles",
    "hosts": "Shanghai Municipal Commission of Commerce",
}


def queue_invitations(app, make_event, make_invitee, n: int) -> list[str]:
    """n approved registrants invited (queued, not yet delivered); returns their addresses."""
    app.config["MAIL_DELIVERY"] = "none"
    slug = make_event()
    emails = [f"delegate{i}@example.com" for i in range(n)]
    for email in emails:
        make_invitee(slug, email=email)
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        services.seed_templates(event)
        result = services.send_invitations(event, "welcome")
        db.session.commit()
        assert result.invited == n
    return emails


def statuses(app) -> collections.Counter[str]:
    with app.app_context():
        return collections.Counter(db.session.scalars(select(OutboxMessage.status)))


def drain(app, *, passes: int = 400, batch: int = 50) -> None:
    """Run delivery passes until nothing is due or waiting (polls; no time assertions)."""
    with app.app_context():
        for _ in range(passes):
            deliver_due(batch)
            db.session.remove()
            left = statuses(app)
            if left["queued"] + left["retrying"] + left["sending"] == 0:
                return
            time.sleep(0.02)
    raise AssertionError(f"queue did not drain: {statuses(app)}")


def received(sink: SMTPSink) -> collections.Counter[str]:
    return collections.Counter(rcpt[0] for _, rcpt, _ in sink.messages)


@pytest.fixture
def fast_retry(app, smtp_server):
    app.config.update(MAIL_URL=smtp_server.url, MAIL_BACKOFF_BASE=0.05)
    return app


def test_every_queued_message_is_delivered_exactly_once(fast_retry, smtp_server, make_event,
                                                        make_invitee):
    emails = queue_invitations(fast_retry, make_event, make_invitee, 12)
    assert smtp_server.messages == []
    drain(fast_retry, batch=5)
    assert received(smtp_server) == collections.Counter(emails)
    ids = [m["Message-ID"] for m in smtp_server.parsed()]
    assert len(set(ids)) == 12
    assert statuses(fast_retry) == {"sent": 12}


def test_outcome_connection_settings_do_not_reach_other_users(fast_retry, smtp_server,
                                                             make_event, make_invitee):
    """PostgreSQL: outcomes are written in autocommit with ``synchronous_commit = off`` on one
    connection; once the batch is done, every pooled connection is back to the defaults."""
    app = fast_retry
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the outcome connection is only tuned on PostgreSQL")
    queue_invitations(app, make_event, make_invitee, 3)
    drain(app)
    assert statuses(app) == {"sent": 3}
    with app.app_context():
        db.session.remove()
        conns = [db.engine.connect() for _ in range(max(2, db.engine.pool.checkedin()))]
        try:
            for conn in conns:
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
                assert conn.connection.dbapi_connection.autocommit is False
        finally:
            for conn in conns:
                conn.close()


def test_server_down_mid_batch_loses_nothing_and_resumes(fast_retry, smtp_server, make_event,
                                                         make_invitee):
    app = fast_retry
    emails = queue_invitations(app, make_event, make_invitee, 10)
    calls = 0

    def relay_dies_after_four() -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            smtp_server.stop()

    with app.app_context():
        report = send_claimed(claim(50, worker="w1"), get_transport(),
                              before_send=relay_dies_after_four, worker="w1")
        assert report.sent == 4 and report.retrying == 1 and report.released == 5
        # while the relay is down, passes fail but nothing is lost or given up on
        report = deliver_due(50)
    assert len(smtp_server.messages) == 4
    left = statuses(app)
    assert left["sent"] == 4 and left["failed"] == 0 and sum(left.values()) == 10

    smtp_server.start()  # the relay is back on the same port
    drain(app)
    assert received(smtp_server) == collections.Counter(emails)


def test_two_workers_at_once_never_send_the_same_message_twice(fast_retry, smtp_server,
                                                               make_event, make_invitee):
    app = fast_retry
    emails = queue_invitations(app, make_event, make_invitee, 30)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                for _ in range(200):
                    report = deliver_due(3)
                    db.session.remove()
                    if report.sent + report.failed + report.retrying == 0 and \
                            statuses(app)["sent"] == 30:
                        return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert received(smtp_server) == collections.Counter(emails)


def test_concurrent_sends_queue_each_invitation_once(app, make_event, make_invitee):
    app.config["MAIL_DELIVERY"] = "none"
    slug = make_event()
    for _ in range(8):
        make_invitee(slug)
    with app.app_context():
        services.seed_templates(db.session.scalar(select(Event).where(Event.slug == slug)))
        db.session.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def click_send() -> None:
        from ciie_rsvp.database import immediate_transactions

        try:
            with app.app_context(), immediate_transactions():
                barrier.wait()
                event = db.session.scalar(select(Event).where(Event.slug == slug))
                services.send_invitations(event, "welcome")
                db.session.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click_send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 8


def test_relay_auth_failure_pauses_the_queue_without_using_attempts(
        app, smtp_server, make_event, make_invitee):
    bad_relay = SMTPSink(refuse_auth=True)
    bad_relay.start()
    try:
        app.config.update(MAIL_URL=f"smtp://office:old-password@127.0.0.1:{bad_relay.port}",
                          MAIL_RELAY_PAUSE_SECONDS=3600)
        emails = queue_invitations(app, make_event, make_invitee, 3)
        with app.app_context():
            report = deliver_due(50)
            assert report.relay_error and "authentication" in report.relay_error.lower()
            rows = list(db.session.execute(select(OutboxMessage.status, OutboxMessage.attempts)))
            assert rows == [("retrying", 0)] * 3
            state = queue_state()
            assert state.paused and "535" in state.reason
            # paused: no worker claims anything, however often it polls
            assert deliver_due(50).sent == 0 and claim(50) == []
        status = app.test_cli_runner().invoke(args=["mail", "status"])
        assert "PAUSED" in status.output and "retrying: 3" in status.output

        app.config["MAIL_URL"] = smtp_server.url  # the operator fixes the credentials
        resumed = app.test_cli_runner().invoke(args=["mail", "resume"])
        assert "resumed" in resumed.output
        drain(app)
        assert received(smtp_server) == collections.Counter(emails)
        assert bad_relay.messages == []
        with app.app_context():
            assert queue_state().reason == ""
    finally:
        bad_relay.stop()


def test_rate_limit_caps_messages_per_minute(fast_retry, smtp_server, make_event,
                                             make_invitee):
    app = fast_retry
    app.config["MAIL_RATE_PER_MINUTE"] = 3
    queue_invitations(app, make_event, make_invitee, 5)
    with app.app_context():
        assert deliver_due(50).sent == 3
        assert deliver_due(50).sent == 0  # the minute's budget is spent, for every worker
    assert len(smtp_server.messages) == 3
    assert statuses(app) == {"sent": 3, "queued": 2}


def test_permanent_failure_is_shown_and_can_be_resent_unchanged(fast_retry, smtp_server,
                                                                make_event, make_invitee):
    app = fast_retry
    queue_invitations(app, make_event, make_invitee, 3)
    smtp_server.reject = lambda rcpt: "550 5.1.1 Mailbox unavailable" if "1@" in rcpt else None
    drain(app)
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug.like("meet-%")))
        [failed] = services.invitation_rows(event, delivery="failed")
        assert failed.email == "delegate1@example.com" and "550" in failed.delivery_error
        first_id = db.session.scalar(select(OutboxMessage.message_id).where(
            OutboxMessage.recipient == "delegate1@example.com"))
    status = app.test_cli_runner().invoke(args=["invitations", "status", "--event", event.slug])
    assert "failed: #" in status.output and "550" in status.output

    smtp_server.reject = None
    resent = app.test_cli_runner().invoke(
        args=["invitations", "resend-failed", "--event", event.slug])
    assert "queued 1 failed message(s) again" in resent.output
    drain(app)
    last = smtp_server.parsed()[-1]
    assert last["To"].addresses[0].addr_spec == "delegate1@example.com"
    assert last["Message-ID"] == first_id
    assert statuses(app) == {"sent": 3}


def test_temporary_failure_retries_with_backoff(fast_retry, smtp_server, make_event,
                                                make_invitee):
    app = fast_retry
    emails = queue_invitations(app, make_event, make_invitee, 2)
    refused: list[str] = []

    def greylist(rcpt: str) -> str | None:
        if rcpt not in refused:
            refused.append(rcpt)
            return "450 4.2.0 Greylisted, try again"
        return None

    smtp_server.reject = greylist
    with app.app_context():
        report = deliver_due(50)
        assert report.retrying == 1 and report.sent == 0
    drain(app)
    assert received(smtp_server) == collections.Counter(emails)
    with app.app_context():
        assert set(db.session.scalars(select(OutboxMessage.attempts))) == {2}


# --- real worker processes (SQLite file shared by processes) --------------------------------


def _cli() -> str:
    found = shutil.which("ciie-rsvp", path=str(Path(sys.executable).parent))
    assert found, "the ciie-rsvp console script is not installed next to this Python"
    return found


@pytest.fixture
def process_setup(tmp_path):
    """A migrated SQLite file with queued invitations, and a way to start worker processes."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "inst"),
              "SECRET_KEY": "process-test", "TESTING": True, "MAIL_DELIVERY": "none",
              "BASE_URL": "https://rsvp.example.org"}
    app = create_app(config)
    with app.app_context():
        upgrade()
    procs: list[subprocess.Popen[str]] = []

    def start_worker(mail_url: str, *extra: str) -> subprocess.Popen[str]:
        env = {**os.environ, "CIIE_RSVP_DATABASE_URL": url,
               "CIIE_RSVP_INSTANCE_PATH": str(tmp_path / "inst"),
               "CIIE_RSVP_SECRET_KEY": "process-test", "CIIE_RSVP_MAIL_URL": mail_url,
               "CIIE_RSVP_MAIL_LEASE_SECONDS": "2", "CIIE_RSVP_MAIL_BACKOFF_BASE": "1"}
        proc = subprocess.Popen([_cli(), "mail", "worker", "--batch", "4", "--poll", "0.1",
                                 *extra], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield app, start_worker
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with app.app_context():
        db.engine.dispose()


def _queue(app, n: int) -> list[str]:
    from ciie_rsvp.models import Registration

    with app.app_context():
        event = Event(**EVENT)
        db.session.add(event)
        db.session.flush()
        emails = [f"worker{i}@example.com" for i in range(n)]
        for i, email in enumerate(emails):
            db.session.add(Registration(
                event_id=event.id, status="approved", manage_token_hash=f"{i:064d}",
                company="Pacific Trade", sector="automobile", company_size="10-49",
                county="Orange", first_name="Dee", last_name=f"Legate{i}", job_title="CEO",
                email=email, email_normalized=email, phone="+12135550100",
                consent_at=dt.datetime.now(dt.UTC), consent_notice_version="t"))
        services.seed_templates(event)
        assert services.send_invitations(event, "welcome").invited == n
        db.session.commit()
    return emails


def _wait_for(predicate, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit  # a guard against hanging, not a speed assertion
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_worker_killed_mid_batch_and_restarted_delivers_everything(process_setup):
    app, start_worker = process_setup
    emails = _queue(app, 12)
    sink = SMTPSink(delay=0.15)  # a slow relay: the worker is mid-batch most of the time
    sink.start()
    try:
        worker = start_worker(sink.url)
        _wait_for(lambda: len(sink.messages) >= 3, "the first messages")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert statuses(app)["sending"] > 0  # it died holding claimed rows

        restarted = start_worker(sink.url)
        _wait_for(lambda: statuses(app) == {"sent": 12}, "every message to be sent")
        restarted.send_signal(signal.SIGTERM)
        output, _ = restarted.communicate(timeout=30)
        assert restarted.returncode == 0 and "delivery worker stopped" in output
    finally:
        sink.stop()

    counts = received(sink)
    assert set(counts) == set(emails)  # nothing lost
    twice = [rcpt for rcpt, n in counts.items() if n > 1]
    assert len(twice) <= 1 and max(counts.values()) <= 2  # at most the one in flight
    for rcpt in twice:
        ids = {m["Message-ID"] for m in sink.parsed() if m["To"].addresses[0].addr_spec == rcpt}
        assert len(ids) == 1  # ... and then with the same Message-ID


def test_two_worker_processes_never_double_send(process_setup):
    app, start_worker = process_setup
    emails = _queue(app, 16)
    sink = SMTPSink(delay=0.02)
    sink.start()
    try:
        workers = [start_worker(sink.url), start_worker(sink.url)]
        _wait_for(lambda: statuses(app) == {"sent": 16}, "every message to be sent")
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
            assert proc.returncode == 0
    finally:
        sink.stop()
    assert received(sink) == collections.Counter(emails)


def test_tls_failure_at_the_relay_also_pauses(app, smtp_server, make_event, make_invitee):
    """STARTTLS demanded of a relay that does not offer it: a relay problem, not the messages'."""
    app.config.update(MAIL_URL=smtp_server.url.replace("smtp://", "smtp+starttls://"),
                      MAIL_RELAY_PAUSE_SECONDS=3600)
    queue_invitations(app, make_event, make_invitee, 2)
    with app.app_context():
        report = deliver_due(50)
        assert report.relay_error and "TLS" in report.relay_error
        assert queue_state().paused
        assert set(db.session.scalars(select(OutboxMessage.attempts))) == {0}
    assert smtp_server.messages == []
