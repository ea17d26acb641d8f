"""Benchmark: personalized invitations rendered and delivered, against plain smtplib.

    python bench/invitations.py [--n 10000] [--relay-latency-ms 0] [--database-url URL]

In one run, against an aiosmtpd sink on loopback (one server process per connection open at
once, like a relay that serves connections in parallel):

- baseline: the same N messages, already rendered (the exact bytes the service queued), sent
  with plain ``smtplib`` over one connection;
- service, end to end: what ``ciie-rsvp invitations send`` does (in chunks of 500:
  preflight, render and build the messages, then record them in a short write transaction)
  while one ``ciie-rsvp mail worker`` process delivers (claims, one SMTP connection per
  batch, one status write per message), until the last is sent;
- delivery only, by one and by two worker processes (the same messages queued again).

Worker processes are started while the queue is paused, so their start-up is not timed. It
prints throughputs and the ratios the issue asks for (target: >= 0.5x the baseline with one
worker, near-linear gain with two). ``--relay-latency-ms`` makes the sink take that long per
message, like a real relay. With 0 each sink server costs more CPU per message than a worker
does: when two workers shared one sink process, that process was the ceiling (1.2-1.3x with
two workers while the machine's cores were a third idle), so each worker has its own server.

The end of each timed phase is seen on the sink's shared counter (what it accepted, read from
shared memory) and then confirmed once in the database (every row ``sent``), so the benchmark
does not compete with the workers it times. It also prints the CPU time per message of the
baseline client, the worker processes and the sink (from ``/proc``, Linux only).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ciie_rsvp import create_app  # noqa: E402
from ciie_rsvp.database import immediate_transactions  # noqa: E402
from ciie_rsvp.extensions import db  # noqa: E402
from ciie_rsvp.invitations import services  # noqa: E402
from ciie_rsvp.models import (  # noqa: E402
    Event,
    MailQueueState,
    OutboxMessage,
    Registration,
)


def _serve_sink(port: int, latency: float, count: Any, ready: Any, stop: Any) -> None:
    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802,ANN001
            if latency:
                await asyncio.sleep(latency)
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            data_size_limit=10_000_000)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """aiosmtpd servers, each in its own process (so they compete with nobody's GIL), that
    count what they accept together.

    One server per SMTP connection the run opens at once (``servers``): the baseline and one
    worker use the first, a second worker the second. A real relay serves connections in
    parallel; one asyncio process serving two busy connections would measure itself, not the
    workers.
    """

    def __init__(self, latency: float, servers: int = 2) -> None:
        self.ports = [free_port() for _ in range(servers)]
        self._count = multiprocessing.Value("i", 0)
        self._ready = [multiprocessing.Event() for _ in self.ports]
        self._stop = multiprocessing.Event()
        self._processes = [multiprocessing.Process(
            target=_serve_sink, args=(port, latency, self._count, ready, self._stop),
            daemon=True) for port, ready in zip(self.ports, self._ready, strict=True)]

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def count(self) -> int:
        return int(self._count.value)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self._processes)

    def __enter__(self) -> Sink:
        for process in self._processes:
            process.start()
        for ready in self._ready:
            ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(app, n: int, slug: str) -> Event:
    """An event with the welcome template and n approved registrants (bulk insert)."""
    with app.app_context():
        event = Event(slug=slug, name_en="Meet in Shanghai, Share the Future",
                      name_zh="相约上海，共享未来", start_date=dt.date(2030, 10, 13),
                      end_date=dt.date(2030, 10, 13), start_time=dt.time(9, 0),
                      end_time=dt.time(17, 0), venue="Downtown Los Angeles",
                      city="Los Angeles", hosts="Shanghai Municipal Commission of Commerce",
                      mail_from="CIIE Office <invitations@trade-office.example.org>",
                      mail_reply_to="Organizers <team@wtcla.example.org>")
        db.session.add(event)
        db.session.flush()
        now = dt.datetime.now(dt.UTC)
        rows = [{
            "event_id": event.id, "status": "approved", "source": "bench",
            "manage_token_hash": f"{slug}-{i:058d}"[-64:], "company": f"Pacific Trade Co. {i}",
            "website": "", "sector": "food_agriculture", "company_size": "10-49",
            "county": "Los Angeles", "first_name": "Delegate", "last_name": f"Number {i}",
            "job_title": "Export Manager", "email": f"d{i}@{slug}.example.com",
            "email_normalized": f"d{i}@{slug}.example.com", "phone": "+12135550100",
            "interest_exhibit": False, "interest_delegation": True,
            "interest_conference": True, "interest_matchmaking": False, "delegates": 1,
            "language": "zh-Hans" if i % 5 == 0 else "en", "notes": "", "consent_at": now,
            "consent_notice_version": "bench", "created_at": now, "updated_at": now,
        } for i in range(n)]
        for start in range(0, n, 2000):
            db.session.execute(insert(Registration), rows[start:start + 2000])
        services.seed_templates(event)
        db.session.commit()
        db.session.expunge(event)
        return event


def set_paused(app, paused: bool) -> None:
    # read-then-write: take SQLite's write lock up front (a deferred transaction fails with
    # "database is locked" when a worker commits in between)
    with app.app_context(), immediate_transactions():
        db.session.rollback()
        row = db.session.get(MailQueueState, 1)
        if row is None:
            row = MailQueueState(id=1, reason="")
            db.session.add(row)
        row.paused_until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) if paused else None
        row.reason = "bench: workers warming up" if paused else ""
        db.session.commit()


def unsent(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status != "sent"))
        db.session.remove()
        return n or 0


def start_workers(env: dict[str, str], workers: int,
                  sink: Sink) -> list[subprocess.Popen[bytes]]:
    """Worker processes, started while the queue is paused so start-up is not timed; worker
    i sends to the sink's server i."""
    cli = shutil.which("ciie-rsvp", path=str(Path(sys.executable).parent))
    if cli is None:
        raise SystemExit("install the project first: pip install -e '.[test]'")
    procs = [subprocess.Popen(
        [cli, "mail", "worker", "--batch", "200", "--poll", "0.02"],
        env={**env, "CIIE_RSVP_MAIL_URL": f"smtp://127.0.0.1:{sink.ports[i % len(sink.ports)]}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    time.sleep(3.0)  # let them import and start polling
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=60)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent busy so far (``/proc/stat``; 0
    elsewhere): every process counts, the PostgreSQL server's included."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_all_sent(app, sink: Sink, target: int) -> None:
    """Until the sink has accepted ``target`` messages in all and the database shows every row
    sent. The sink's shared counter is the truth of delivery and costs nothing to read, so the
    workers being timed do not share the CPU and the database with a busy ``count(*)`` poll;
    the database is asked only at the end, for the last outcome commits."""
    seen, moved = sink.count, time.monotonic()
    while seen < target:
        time.sleep(0.002)
        if sink.count != seen:
            seen, moved = sink.count, time.monotonic()
        elif time.monotonic() - moved > 60:
            raise SystemExit(f"no message delivered for 60 s ({seen} of {target} in the sink, "
                             f"{unsent(app)} rows not sent)")
    while unsent(app):
        time.sleep(0.01)


def deliver_with_processes(app, env: dict[str, str], workers: int, sink: Sink,
                           cpu: dict[str, float]) -> float:
    """Seconds for ``workers`` worker processes to send everything queued; adds the CPU
    seconds the workers and the sink used meanwhile to ``cpu``."""
    set_paused(app, True)
    queued = unsent(app)
    procs = start_workers(env, workers, sink)
    try:
        target = sink.count + queued
        before = [cpu_seconds(p.pid) for p in procs], sink.cpu_seconds()
        busy = machine_busy_seconds()
        start = time.perf_counter()
        set_paused(app, False)
        wait_all_sent(app, sink, target)
        elapsed = time.perf_counter() - start
        cpu["workers"] = sum(cpu_seconds(p.pid) for p in procs) - sum(before[0])
        cpu["sink"] = sink.cpu_seconds() - before[1]
        cpu["cores_busy"] = (machine_busy_seconds() - busy) / elapsed
        return elapsed
    finally:
        stop_workers(procs)


def requeue_all(app) -> None:
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(
            status="queued", attempts=0, sent_at=None, lease_until=None, claimed_by=None,
            next_attempt_at=dt.datetime.now(dt.UTC)))
        db.session.commit()


def baseline(raws: list[tuple[str, str, bytes]], sink: Sink, cpu: dict[str, float]) -> float:
    before = time.process_time(), sink.cpu_seconds()
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as conn:
        for sender, recipient, raw in raws:
            conn.sendmail(sender, [recipient], raw)
    elapsed = time.perf_counter() - start
    cpu["client"] = time.process_time() - before[0]
    cpu["sink"] = sink.cpu_seconds() - before[1]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--relay-latency-ms", type=float, default=0.0)
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()
    n = args.n
    folder = Path(tempfile.mkdtemp(prefix="ciie-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    with Sink(args.relay_latency_ms / 1000) as sink:
        mail_url = f"smtp://127.0.0.1:{sink.port}"
        config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder),
                  "SECRET_KEY": "bench", "MAIL_URL": mail_url, "MAIL_DELIVERY": "none",
                  "BASE_URL": "https://rsvp.example.org"}
        app = create_app(config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        env = {**os.environ, "CIIE_RSVP_DATABASE_URL": url, "CIIE_RSVP_INSTANCE_PATH": str(folder),
               "CIIE_RSVP_SECRET_KEY": "bench", "CIIE_RSVP_MAIL_URL": mail_url,
               "CIIE_RSVP_SEED_ON_START": "0"}

        # 1. the service end to end, as `ciie-rsvp invitations send` does it (chunks of 500
        #    rendered, queued and committed) while one worker process delivers
        event = seed(app, n, "bench-one")
        set_paused(app, True)
        procs = start_workers(env, 1, sink)
        try:
            with app.app_context():
                ids = services.recipient_ids(db.session.merge(event))
            start = time.perf_counter()
            set_paused(app, False)
            with app.app_context():
                event = db.session.merge(event)
                for first in range(0, n, 500):
                    _report, prepared = services.prepare_invitations(
                        event, "welcome", registration_ids=ids[first:first + 500])
                    db.session.rollback()
                    with immediate_transactions():
                        _ids, count = services.record_invitations(event.id, "welcome", prepared)
                        db.session.commit()
                    assert count == len(ids[first:first + 500])
                t_queue = time.perf_counter() - start
            wait_all_sent(app, sink, n)
            t_e2e = time.perf_counter() - start
        finally:
            stop_workers(procs)
        assert sink.count == n, sink.count
        with app.app_context():
            raws = [tuple(row) for row in db.session.execute(
                select(OutboxMessage.sender, OutboxMessage.recipient, OutboxMessage.raw)
                .order_by(OutboxMessage.id))]

        # 2. baseline: the same bytes, plain smtplib, one connection
        cpu_base: dict[str, float] = {}
        t_base = baseline(raws, sink, cpu_base)  # type: ignore[arg-type]

        # 3. delivery only: the same messages queued again, one then two worker processes
        cpu_one: dict[str, float] = {}
        cpu_two: dict[str, float] = {}
        requeue_all(app)
        t_one = deliver_with_processes(app, env, 1, sink, cpu_one)
        requeue_all(app)
        t_two = deliver_with_processes(app, env, 2, sink, cpu_two)
        with app.app_context():
            db.engine.dispose()

    base_rate = n / t_base
    print(f"invitations: N={n}, database={url.split(':')[0]}, "
          f"relay latency {args.relay_latency_ms} ms")
    print(f"  baseline: pre-rendered, plain smtplib, 1 connection : {t_base:7.2f} s  "
          f"{base_rate:7.0f} msg/s")
    print(f"  service end to end (render+queue | 1 worker delivers): {t_e2e:7.2f} s  "
          f"{n / t_e2e:7.0f} msg/s  (queueing done after {t_queue:.2f} s)")
    print(f"  delivery only, 1 worker process                      : {t_one:7.2f} s  "
          f"{n / t_one:7.0f} msg/s")
    print(f"  delivery only, 2 worker processes                    : {t_two:7.2f} s  "
          f"{n / t_two:7.0f} msg/s")
    print(f"  ratio service end to end, 1 worker / baseline: {(n / t_e2e) / base_rate:.2f}x "
          f"(target >= 0.5x)")
    print(f"  ratio delivery only, 1 worker / baseline     : {(n / t_one) / base_rate:.2f}x")
    print(f"  gain with 2 worker processes (delivery)      : {t_one / t_two:.2f}x "
          f"(linear = 2.00x)")
    ms = 1000 / n
    print(f"  CPU ms/msg: baseline client {cpu_base['client'] * ms:.2f}, sink "
          f"{cpu_base['sink'] * ms:.2f} | 1 worker {cpu_one['workers'] * ms:.2f}, sink "
          f"{cpu_one['sink'] * ms:.2f} | 2 workers {cpu_two['workers'] * ms:.2f}, sink "
          f"{cpu_two['sink'] * ms:.2f}")
    print(f"  cores busy while delivering (whole machine): 1 worker "
          f"{cpu_one['cores_busy']:.2f}, 2 workers {cpu_two['cores_busy']:.2f} of "
          f"{os.cpu_count()}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
