"""End to end with a real Celery worker: the console command (``ciie-rsvp worker`` or
``celery -A ciie_rsvp.tasks worker --beat``) in its own process, on the machine's Redis
(127.0.0.1:6379, database 14, a key prefix and a queue of its own per test, removed
afterwards), delivering to a real aiosmtpd server on loopback.

Every wait is bounded (a guard against hanging, never a speed assertion).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import services
from ciie_rsvp.models import Event, OutboxMessage
from tests.conftest import SMTPSink, free_port, redis_unavailable, require_redis

pytestmark = pytest.mark.slow

REDIS_DB = 14
# CIIE_RSVP_TEST_REDIS (host:port) only to check the skip/fail path against a closed port
REDIS_URL = f"redis://{os.environ.get('CIIE_RSVP_TEST_REDIS', '127.0.0.1:6379')}/{REDIS_DB}"
WAIT = 90  # seconds: the most any wait here may take before the test gives up


@pytest.fixture
def redis_broker() -> Iterator[dict[str, str]]:
    """The broker settings of one test: the real Redis, a prefix and a queue of its own."""
    reason = redis_unavailable(REDIS_URL)
    if reason is not None:
        require_redis(reason)
    import redis

    tag = uuid.uuid4().hex[:10]
    settings = {"url": REDIS_URL, "prefix": f"ciie-rsvp-e2e-{tag}:", "queue": f"mail-{tag}"}
    yield settings
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{settings['prefix']}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def app_config(app_config, smtp_server, redis_broker):
    """The web side: enqueues on the test's queue and prefix (unless a test points it at a
    dead broker)."""
    return {**app_config, "BROKER_URL": redis_broker["url"], "MAIL_URL": smtp_server.url,
            "BROKER_KEY_PREFIX": redis_broker["prefix"], "CELERY_QUEUE": redis_broker["queue"],
            "MAIL_DELIVERY": "auto"}


class Worker:
    """A Celery worker (with beat) run by its console command in a process group of its own."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sweeps(self) -> int:
        """Periodic sweeps this worker has finished (from its log)."""
        return sum(1 for line in self.log().splitlines()
                   if "ciie_rsvp.deliver_due[" in line and " succeeded " in line)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (pool, beat): no clean-up at all."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=WAIT)
        # the pool or beat process may outlive a clean stop by a moment
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def start_worker(app, redis_broker, smtp_server, tmp_path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(command="ciie-rsvp", **env)``: a real worker with beat, sweeping every
    second, on the test's database, Redis queue and SMTP server."""
    started: list[Worker] = []
    bin_dir = Path(sys.executable).parent

    def _start(command: str = "ciie-rsvp", **extra_env: str) -> Worker:
        n = len(started) + 1
        instance = tmp_path / f"worker{n}"
        instance.mkdir()
        env = {**os.environ,
               "CIIE_RSVP_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "CIIE_RSVP_INSTANCE_PATH": str(instance),
               "CIIE_RSVP_SECRET_KEY": app.config["SECRET_KEY"],
               "CIIE_RSVP_BROKER_URL": redis_broker["url"],
               "CIIE_RSVP_BROKER_KEY_PREFIX": redis_broker["prefix"],
               "CIIE_RSVP_CELERY_QUEUE": redis_broker["queue"],
               "CIIE_RSVP_MAIL_URL": smtp_server.url,
               "CIIE_RSVP_MAIL_POLL_SECONDS": "1",
               "CIIE_RSVP_MAIL_BACKOFF_BASE": "1",
               "CIIE_RSVP_MAIL_MAX_ATTEMPTS": "30",
               "CIIE_RSVP_SEED_ON_START": "0",
               **extra_env}
        common = ["--loglevel=INFO", "--pool=solo", "--without-gossip", "--without-mingle",
                  "--without-heartbeat", f"--hostname=e2e{n}-{uuid.uuid4().hex[:6]}@%h"]
        if command == "celery":
            cmd = [str(bin_dir / "celery"), "-A", "ciie_rsvp.tasks", "worker", "--beat",
                   *common]
        else:
            cmd = [str(bin_dir / "ciie-rsvp"), "worker", *common]
        log_path = instance / "worker.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=instance, start_new_session=True)
        worker = Worker(proc, log_path)
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()


def wait_for(predicate: Callable[[], bool], what: str, *workers: Worker) -> None:
    deadline = time.monotonic() + WAIT  # a guard against hanging, not a speed assertion
    while not predicate():
        for worker in workers:
            assert worker.proc.poll() is None, f"the worker exited:\n{worker.log()[-4000:]}"
        if time.monotonic() > deadline:
            logs = "\n".join(w.log()[-4000:] for w in workers)
            pytest.fail(f"gave up waiting for {what}\n{logs}")
        time.sleep(0.1)


def outbox_statuses(app) -> collections.Counter[str]:
    with app.app_context():
        rows = db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        db.session.remove()
    return collections.Counter({status: n for status, n in rows})


def all_sent(app, total: int) -> Callable[[], bool]:
    return lambda: outbox_statuses(app) == collections.Counter({"sent": total})


def recipients(sink: SMTPSink) -> collections.Counter[str]:
    return collections.Counter(rcpt for _, rcpts, _ in sink.messages for rcpt in rcpts)


def message_ids(sink: SMTPSink) -> collections.Counter[str]:
    return collections.Counter(
        str(message_from_bytes(raw, policy=policy.default)["Message-ID"])
        for _, _, raw in sink.messages)


def register(client, slug: str, email: str) -> Any:
    from tests.conftest import form_fields, valid_registration

    page = client.get(f"/events/{slug}/register")
    assert page.status_code == 200
    data = {**form_fields(page.get_data(as_text=True)), **valid_registration(email=email)}
    return client.post(f"/events/{slug}/register", data=data)


def queue_invitations(app, slug: str) -> list[int]:
    """Queue the welcome invitation for every approved invitee, as the send button does
    (records, commits, then hands the new rows to Celery); returns the outbox ids."""
    from ciie_rsvp.outbox import dispatch

    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        services.seed_templates(event)
        db.session.commit()
        result = services.send_invitations(event, "welcome")
        db.session.commit()
        ids = [i for i in result.outbox_ids if i is not None]
        dispatch(ids)
        db.session.remove()
    return ids


def broker_queue_length(redis_broker: dict[str, str]) -> int:
    import redis

    client = redis.Redis.from_url(redis_broker["url"], socket_timeout=5)
    try:
        return int(client.llen(redis_broker["prefix"] + redis_broker["queue"]))
    finally:
        client.close()


# --- (a) web requests only enqueue; the worker delivers exactly once ------------------------


@pytest.mark.parametrize("command", ["ciie-rsvp", "celery"])
def test_web_request_only_enqueues_and_the_worker_delivers_exactly_once(
        app, client, smtp_server, make_event, start_worker, redis_broker, command):
    slug = make_event()
    emails = [f"celery-e2e{i}@example.com" for i in range(3)]
    for email in emails:
        assert register(client, slug, email).status_code == 303
    # No worker yet: the requests sent nothing themselves, the mail waits in the outbox and
    # one task per request waits in the test's Redis queue.
    assert smtp_server.messages == []
    assert outbox_statuses(app) == collections.Counter({"queued": 3})
    assert broker_queue_length(redis_broker) == 3

    worker = start_worker(command)
    wait_for(all_sent(app, 3), "the worker to send the confirmations", worker)
    sweeps = worker.sweeps()
    wait_for(lambda: worker.sweeps() >= sweeps + 2, "two more periodic sweeps", worker)
    assert recipients(smtp_server) == collections.Counter({e: 1 for e in emails})
    assert broker_queue_length(redis_broker) == 0


# --- (b) Redis down: registrations succeed, the outbox keeps the mail -----------------------


@pytest.fixture
def dead_broker_config(app_config):
    """The web side's broker is a closed loopback port (Redis down, as the web sees it)."""
    return {**app_config, "BROKER_URL": f"redis://127.0.0.1:{free_port()}/{REDIS_DB}"}


def test_redis_down_registrations_succeed_and_the_sweep_delivers_later(
        dead_broker_config, smtp_server, make_event, start_worker, tmp_path):
    from ciie_rsvp import create_app

    web = create_app(dead_broker_config)
    # make_event and the worker use the fixture app, on the same database
    slug = make_event()
    emails = [f"no-broker{i}@example.com" for i in range(2)]
    statuses: list[int] = []

    def submit() -> None:
        client = web.test_client()
        for email in emails:
            statuses.append(register(client, slug, email).status_code)

    thread = threading.Thread(target=submit, daemon=True)
    thread.start()
    thread.join(timeout=WAIT)  # bounded: publishing to a dead broker must give up, not hang
    assert not thread.is_alive(), "a registration hung on the unreachable broker"
    assert statuses == [303, 303]  # registered, as with a broker that answers
    assert smtp_server.messages == []
    assert outbox_statuses(web) == collections.Counter({"queued": 2})  # the outbox kept them

    # Redis is reachable again (for the worker): no task names these rows, the sweep finds them.
    worker = start_worker()
    wait_for(all_sent(web, 2), "the periodic sweep to deliver the kept mail", worker)
    assert recipients(smtp_server) == collections.Counter({e: 1 for e in emails})
    with web.app_context():
        db.engine.dispose()


# --- (c) SMTP down mid-batch with the Celery worker: nothing lost ---------------------------


def test_smtp_down_mid_batch_loses_nothing_and_resumes(
        app, smtp_server, make_event, make_invitee, start_worker):
    slug = make_event()
    emails = [f"relay-down{i}@example.com" for i in range(4)]
    for email in emails:
        make_invitee(slug, email=email)
    worker = start_worker()
    smtp_server.delay = 0.5  # a slow relay, so the batch is still going when it dies
    ids = queue_invitations(app, slug)
    assert len(ids) == 4
    wait_for(lambda: len(smtp_server.messages) >= 1, "the first message", worker)
    smtp_server.stop()
    wait_for(lambda: outbox_statuses(app)["retrying"] >= 1,
             "the worker to notice the relay is down", worker)
    assert outbox_statuses(app)["sent"] < 4
    smtp_server.delay = 0
    smtp_server.start()  # the relay is back on the same port
    wait_for(all_sent(app, 4), "delivery to resume", worker)
    got = recipients(smtp_server)
    assert set(got) == set(emails)  # nothing lost
    # a message cut off by the outage may arrive twice, and then with the same Message-ID
    assert len(message_ids(smtp_server)) == 4


# --- (d) a killed worker's row in "sending" is sent by the sweep after its lease ------------


def test_row_left_sending_by_a_killed_worker_is_resent_after_its_lease(
        app, smtp_server, make_event, make_invitee, start_worker):
    slug = make_event()
    emails = [f"killed{i}@example.com" for i in range(3)]
    for email in emails:
        make_invitee(slug, email=email)
    lease = {"CIIE_RSVP_MAIL_LEASE_SECONDS": "3"}
    first = start_worker(**lease)
    smtp_server.delay = 30  # the relay holds the first message: the worker is mid-send
    queue_invitations(app, slug)
    wait_for(lambda: len(smtp_server.messages) >= 1, "the first message to be in flight", first)
    first.kill()
    assert outbox_statuses(app)["sending"] >= 1  # left behind by the killed worker

    smtp_server.stop()
    smtp_server.delay = 0
    smtp_server.start()  # drop the connection the dead worker left hanging
    second = start_worker(**lease)
    wait_for(all_sent(app, 3), "the sweep to send the killed worker's rows", second)
    got = recipients(smtp_server)
    assert set(got) == set(emails)  # everything delivered
    # at most the one message in flight went out twice, with the same Message-ID
    assert sum(got.values()) <= len(emails) + 1
    assert len(message_ids(smtp_server)) == 3
