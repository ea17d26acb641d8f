"""Registration load benchmark: the real service against a bare Flask baseline.

One command, bounded, loopback only::

    python bench/register_load.py                 # SQLite and PostgreSQL, concurrency 1, 8, 32
    python bench/register_load.py --quick         # a short smoke run
    python bench/register_load.py --db sqlite --requests 400 --concurrency 8
    python bench/register_load.py --storm-only    # only the duplicate storm

For each database it starts ``ciie-rsvp serve`` (gunicorn, 2 workers) and the baseline app
(``bench/baseline_app.py``, same gunicorn settings) on free 127.0.0.1 ports, each on its own
freshly migrated database (PostgreSQL: temporary databases on 127.0.0.1:5432, user postgres,
dropped at the end). A thread pool then performs full registrations (GET the form, read the
CSRF token and the ``started`` stamp, POST a valid registration with a unique email) — a fixed
number per run (raised so that each client thread makes at least ``--min-per-thread`` per
part), taken in alternating parts (service, baseline, baseline, service: both see the same
machine while its speed drifts), each stopped early by a time cap — and prints throughput
(service/baseline ratio),
p50/p99 latency of a whole registration, errors, and whether the database holds exactly one
row per successful response.

The duplicate storm sends 1,000 registrations for 100 distinct emails at once and checks that
exactly 100 rows exist and nothing answered 5xx.

Targets (issue 5): service ≥ 0.5x baseline throughput, p99 < 5x p50 at concurrency 8, zero
errors, rows == successes. The exit status is 1 when a target is missed. It also prints the
servers' CPU per registration (gunicorn master and workers, from /proc) and its ratio to the
baseline's: on a machine shared with other work that ratio holds still while throughput moves.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SLUG = "bench-meet-in-shanghai"
WORKERS = 2

_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
_STARTED = re.compile(r'<input[^>]*name="started"[^>]*value="([^"]*)"')


# --- databases ------------------------------------------------------------------------------

def prepare_database(url: str, instance: Path) -> None:
    """Migrate ``url`` with the project's Alembic migrations and add an open bench event."""
    from ciie_rsvp import create_app
    from ciie_rsvp.cli import prepare_database as migrate
    from ciie_rsvp.extensions import db
    from ciie_rsvp.models import Event

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench-migrate", "TESTING": True})
    migrate(app, seed=False)
    with app.app_context():
        db.session.add(Event(
            slug=SLUG, name_en="Meet in Shanghai, Share the Future (bench)",
            name_zh="相约上海，共享未来", start_date=dt.date(2030, 10, 13),
            end_date=dt.date(2030, 10, 13), venue="Downtown Los Angeles", city="Los Angeles",
            hosts="Shanghai Municipal Commission of Commerce",
            organizers="World Trade Center Los Angeles"))
        db.session.commit()
        db.engine.dispose()


@contextlib.contextmanager
def databases(kind: str, folder: Path) -> Iterator[tuple[str, str]]:
    """Yield (service URL, baseline URL): two fresh, migrated databases of ``kind``."""
    if kind == "sqlite":
        urls = (f"sqlite:///{folder / 'service.sqlite3'}",
                f"sqlite:///{folder / 'baseline.sqlite3'}")
        for i, url in enumerate(urls):
            prepare_database(url, folder / f"migrate{i}")
        yield urls
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    names = [f"ciie_bench_{uuid.uuid4().hex[:8]}_{role}" for role in ("svc", "base")]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        urls = tuple(make_url(PG_ADMIN).set(database=n).render_as_string(hide_password=False)
                     for n in names)
        for i, url in enumerate(urls):
            prepare_database(url, folder / f"migrate{i}")
        yield urls  # type: ignore[misc]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def count_rows(url: str, prefix: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(
                text("SELECT count(*) FROM registrations WHERE email_normalized LIKE :p"),
                {"p": prefix + "%"}).scalar_one())
    finally:
        engine.dispose()


# --- servers --------------------------------------------------------------------------------

SERVER_PIDS: dict[str, int] = {}  # base URL → gunicorn master pid


def server_cpu_seconds(base: str) -> float:
    """CPU seconds (user + system) used so far by the server at ``base``: its gunicorn master
    and worker processes (Linux ``/proc``; NaN elsewhere).

    On a shared machine wall-clock throughput moves with the other load, while the CPU a
    registration costs the server does not; its ratio to the baseline's is the throughput
    ratio the two would reach on idle cores when CPU-bound.
    """
    master = SERVER_PIDS.get(base)
    if master is None or not Path("/proc/self/stat").exists():
        return float("nan")
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(master) or fields[1] == str(master):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BENCH_ENV = {
    "CIIE_RSVP_RATELIMIT_ENABLED": "0",
    "CIIE_RSVP_FORM_MIN_FILL_SECONDS": "0",
    "CIIE_RSVP_MAIL_DELIVERY": "none",
    "CIIE_RSVP_SEED_ON_START": "0",
    "CIIE_RSVP_SECURE_COOKIES": "0",
    "CIIE_RSVP_BASE_URL": "https://rsvp.example.org",
}


@contextlib.contextmanager
def server(kind: str, database_url: str, folder: Path, *, workers: int = WORKERS,
           wrap: tuple[str, ...] = (), start_timeout: float = 60.0) -> Iterator[str]:
    """Run the service (``ciie-rsvp serve``) or the baseline under gunicorn; yield base URL.

    ``wrap`` goes in front of the command (``register_instructions.py`` runs the servers
    under valgrind), which may then take up to ``start_timeout`` seconds to answer.
    """
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIIE_RSVP_")}
    env.update(BENCH_ENV, CIIE_RSVP_DATABASE_URL=database_url,
               CIIE_RSVP_INSTANCE_PATH=str(folder), CIIE_RSVP_MAIL_URL=f"file://{folder}/mail",
               BASELINE_DATABASE_URL=database_url)
    if kind == "service":
        cmd = [sys.executable, "-m", "ciie_rsvp.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--no-migrate"]
    else:  # the same gunicorn settings as ``ciie-rsvp serve``: sync workers, access log
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
               "--chdir", str(ROOT / "bench"), "baseline_app:app"]
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*wrap, *cmd], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=folder)
        try:
            for _ in range(int(start_timeout / 0.2)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    status, _body, _ = http_get("127.0.0.1", port, f"/events/{SLUG}/register")
                    if status == 200:
                        break
                time.sleep(0.2)
            else:
                proc.kill()
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} did not start:\n{log_path.read_text()[-3000:]}")
            SERVER_PIDS[f"http://127.0.0.1:{port}"] = proc.pid
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the client -----------------------------------------------------------------------------

def http_get(host: str, port: int, path: str, cookie: str = "") -> tuple[int, str, str]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        cookies = [c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []]
        return resp.status, body, "; ".join(cookies)
    finally:
        conn.close()


def http_post(host: str, port: int, path: str, form: dict[str, Any], cookie: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        body = urllib.parse.urlencode(form, doseq=True)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def registration(email: str) -> dict[str, Any]:
    return {
        "company": "Golden State Almond Growers, Inc.", "website": "https://almonds.example.com",
        "sector": "food_agriculture", "company_size": "50-249", "county": "Fresno",
        "first_name": "Maria", "last_name": "Lopez", "job_title": "Export Manager",
        "email": email, "phone": "(213) 555-0142", "interests": ["exhibit", "delegation"],
        "delegates": "3", "language": "en", "notes": "We would like to meet importers of nuts.",
        "consent": "y",
    }


def register_once(base: str, email: str) -> tuple[int, float]:
    """One full registration like a browser; (final status or 0 on a client error, seconds)."""
    parts = urllib.parse.urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = f"/events/{SLUG}/register"
    start = time.perf_counter()
    status, html, cookie = http_get(host, port, path)
    if status != 200:
        return status, time.perf_counter() - start
    csrf, started = _CSRF.search(html), _STARTED.search(html)
    if not csrf or not started:
        return 0, time.perf_counter() - start
    form = {**registration(email), "csrf_token": csrf.group(1), "started": started.group(1)}
    status = http_post(host, port, path, form, cookie)
    return status, time.perf_counter() - start


@dataclass
class RunResult:
    server: str
    database: str
    concurrency: int
    planned: int
    done: int = 0
    ok: int = 0
    errors: int = 0
    server_errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    statuses: dict[str, int] = field(default_factory=dict)
    rows: int = -1
    timed_out: bool = False
    server_cpu: float = 0.0  # server CPU seconds spent on this run (NaN: not measurable)

    @property
    def cpu_ms_per_registration(self) -> float:
        return self.server_cpu / self.ok * 1000 if self.ok else float("nan")

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def add(self, part: RunResult) -> None:
        """Fold in one round of the same server, database and concurrency."""
        for name in ("planned", "done", "ok", "errors", "server_errors", "elapsed",
                     "server_cpu"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.latencies += part.latencies
        for key, count in part.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + count
        self.timed_out |= part.timed_out

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_load(base: str, *, server_kind: str, database: str, concurrency: int, requests: int,
             time_cap: float, emails: list[str]) -> RunResult:
    """``requests`` registrations over ``concurrency`` threads, stopping at ``time_cap``."""
    result = RunResult(server_kind, database, concurrency, requests)
    lock = threading.Lock()
    next_index = iter(range(requests))
    deadline = time.monotonic() + time_cap

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                status, seconds = register_once(base, emails[i % len(emails)])
            except (OSError, http.client.HTTPException) as exc:
                status, seconds = 0, 0.0
                key = type(exc).__name__
            else:
                key = str(status)
            with lock:
                result.done += 1
                result.statuses[key] = result.statuses.get(key, 0) + 1
                if status == 303:
                    result.ok += 1
                    result.latencies.append(seconds)
                else:
                    result.errors += 1
                    result.server_errors += status >= 500

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=time_cap + 120)
    result.elapsed = time.perf_counter() - start
    result.timed_out = result.done < requests
    return result


# --- the benchmark --------------------------------------------------------------------------

def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def bench_database(kind: str, args: argparse.Namespace, report: dict[str, Any]) -> bool:
    """Load runs (and the storm) on one database kind; True when every target is met."""
    met = True
    with tempfile.TemporaryDirectory(prefix=f"ciie-bench-{kind}-") as tmp:
        folder = Path(tmp)
        with databases(kind, folder) as (svc_url, base_url), \
                server("service", svc_url, folder / "service") as svc, \
                server("baseline", base_url, folder / "baseline") as base:
            urls = {"service": (svc, svc_url), "baseline": (base, base_url)}
            for name, (url, _db) in urls.items():  # warm up templates, pools, imports
                run_load(url, server_kind=name, database=kind, concurrency=2, requests=10,
                         time_cap=30, emails=[f"warmup-{name}-{i}@example.com"
                                              for i in range(10)])
            if not args.storm_only:
                print(f"\n== {kind}: {args.requests} registrations per run (at least "
                      f"{args.min_per_thread} per client thread in each of {args.rounds} parts), "
                      f"{WORKERS} gunicorn workers, time cap {args.time_cap:.0f} s")
                print("conc  server     ok  err  5xx   reg/s   p50 ms   p99 ms  p99/p50  "
                      "rows==ok  ratio  cpu ms/reg  cpu ratio")
                for conc in args.concurrency:
                    pair = interleaved_runs(urls, kind, conc, args)
                    ratio = (pair["service"].throughput / pair["baseline"].throughput
                             if pair["baseline"].throughput else float("nan"))
                    cpu_ratio = (pair["baseline"].cpu_ms_per_registration
                                 / pair["service"].cpu_ms_per_registration)
                    for name, r in pair.items():
                        spread = r.pct(0.99) / r.pct(0.5) if r.latencies else float("nan")
                        print(f"{conc:>4}  {name:<9} {r.ok:>4} {r.errors:>4} "
                              f"{r.server_errors:>4} {r.throughput:7.1f} {fmt_ms(r.pct(0.5))}  "
                              f"{fmt_ms(r.pct(0.99))}  {spread:7.2f}  "
                              f"{'yes' if r.rows == r.ok else f'NO ({r.rows})':>8}  "
                              + (f"{ratio:5.2f}x" if name == "service" else "      ")
                              + f"  {r.cpu_ms_per_registration:10.1f}"
                              + (f"  {cpu_ratio:8.2f}x" if name == "service" else ""))
                        if r.errors or r.rows != r.ok or r.timed_out:
                            met = False
                        if name == "service" and conc == 8 and spread >= 5:
                            met = False
                        report["runs"].append({**{k: v for k, v in asdict(r).items()
                                                  if k != "latencies"},
                                               "throughput": r.throughput,
                                               "p50": r.pct(0.5), "p99": r.pct(0.99),
                                               "cpu_ms_per_registration":
                                                   r.cpu_ms_per_registration,
                                               "ratio": ratio if name == "service" else None,
                                               "cpu_ratio":
                                                   cpu_ratio if name == "service" else None})
                    if ratio < 0.5:
                        met = False
            met &= storm(kind, svc, svc_url, args, report)
    return met


def interleaved_runs(urls: dict[str, tuple[str, str]], kind: str, concurrency: int,
                     args: argparse.Namespace) -> dict[str, RunResult]:
    """Each server's run, taken in ``args.rounds`` alternating parts (ABBA...).

    This machine's speed drifts by tens of percent over a minute (other work on the host):
    one whole run of the service followed by one of the baseline compares two different
    machines. Alternating short parts lets both see the same drift.
    """
    tags = {name: f"load-{name}-c{concurrency}-{uuid.uuid4().hex[:6]}-" for name in urls}
    totals = {name: RunResult(name, kind, concurrency, 0) for name in urls}
    names = list(urls)
    requests = run_size(args, concurrency)
    per_round = max(1, -(-requests // args.rounds))
    for i, start in enumerate(range(0, requests, per_round)):
        count = min(per_round, requests - start)
        for name in (names if i % 2 == 0 else names[::-1]):
            url, _db_url = urls[name]
            emails = [f"{tags[name]}{n}@example.com" for n in range(start, start + count)]
            cpu_before = server_cpu_seconds(url)
            part = run_load(url, server_kind=name, database=kind, concurrency=concurrency,
                            requests=count, time_cap=args.time_cap, emails=emails)
            part.server_cpu = server_cpu_seconds(url) - cpu_before
            totals[name].add(part)
    for name, (_url, db_url) in urls.items():
        totals[name].rows = count_rows(db_url, tags[name])
    return totals


def run_size(args: argparse.Namespace, concurrency: int) -> int:
    """Registrations per run: ``--requests``, raised so that every part gives each client
    thread at least ``--min-per-thread`` of them.

    A part in which 32 threads make three registrations each measures mostly its start (all
    threads at once) and its end (threads idle while the slowest finish), not the load; at
    concurrency 32 the 100-registration parts of a 400 run gave the service a third of the
    throughput that a run of 1,500 did on the same machine.
    """
    return max(args.requests, args.rounds * args.min_per_thread * concurrency)


def storm(kind: str, url: str, db_url: str, args: argparse.Namespace,
          report: dict[str, Any]) -> bool:
    """Duplicate storm: many racing registrations for few emails → one row per email."""
    tag = f"storm-{uuid.uuid4().hex[:6]}-"
    emails = [f"{tag}{i}@example.com" for i in range(args.storm_emails)]
    r = run_load(url, server_kind="service", database=kind, concurrency=args.storm_concurrency,
                 requests=args.storm_requests, time_cap=args.time_cap * 3, emails=emails)
    rows = count_rows(db_url, tag)
    ok = rows == len(emails) and r.server_errors == 0 and r.errors == 0 and not r.timed_out
    print(f"-- {kind} duplicate storm: {r.done}/{args.storm_requests} submissions for "
          f"{len(emails)} emails at concurrency {args.storm_concurrency} in {r.elapsed:.1f} s: "
          f"{rows} rows, statuses {dict(sorted(r.statuses.items()))}, 5xx {r.server_errors}"
          f" → {'OK' if ok else 'FAILED'}")
    report["storms"].append({"database": kind, "submissions": r.done, "emails": len(emails),
                             "rows": rows, "statuses": r.statuses,
                             "server_errors": r.server_errors, "ok": ok})
    return ok


def postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not here"; say which
        return f"{type(exc).__name__}: {exc}"
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--requests", type=int, default=400,
                   help="registrations per run (per server and concurrency)")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                   default=[1, 8, 32], help="comma-separated client thread counts")
    p.add_argument("--rounds", type=int, default=4,
                   help="alternating parts each run is taken in (service, baseline, baseline, "
                        "service, ...), so both see the same machine")
    p.add_argument("--min-per-thread", type=int, default=10,
                   help="registrations each client thread makes in every part, at least "
                        "(raises --requests at high concurrency)")
    p.add_argument("--time-cap", type=float, default=60.0,
                   help="seconds per part of a run, at most")
    p.add_argument("--storm-requests", type=int, default=1000)
    p.add_argument("--storm-emails", type=int, default=100)
    p.add_argument("--storm-concurrency", type=int, default=64)
    p.add_argument("--storm-only", action="store_true", help="only the duplicate storm")
    p.add_argument("--quick", action="store_true",
                   help="a short run: 60 registrations per run, storm of 200 for 20 emails")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.requests = min(args.requests, 60)
        args.min_per_thread = min(args.min_per_thread, 2)
        args.storm_requests, args.storm_emails = 200, 20
        args.storm_concurrency = min(args.storm_concurrency, 32)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                              "cpus": os.cpu_count(), "runs": [], "storms": []}
    met = True
    for kind in kinds:
        if kind == "postgresql" and (reason := postgres_reachable()):
            print(f"\n== postgresql: NOT RUN ({reason})")
            met = False
            continue
        met &= bench_database(kind, args, report)
    print("\ntargets (service ≥ 0.5x baseline, p99 < 5x p50 at concurrency 8, zero errors, "
          f"rows == successes, storm exact): {'MET' if met else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if met else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
