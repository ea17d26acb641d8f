"""Instructions per registration: the service against the bare Flask baseline, without noise.

One command, loopback only, needs valgrind (Debian's package)::

    python bench/register_instructions.py                 # SQLite, 200 registrations each (~3 min)
    python bench/register_instructions.py --db postgresql --requests 100

``register_load.py`` measures throughput, which on these shared machines moves by tens of
percent within a minute, so a change worth a few percent cannot be seen in one run. This
counts what the servers execute instead: both run under the same gunicorn settings as in
``register_load.py`` (sync workers, access log) inside valgrind's callgrind, and a client
makes the same full registrations one at a time (GET the form, POST it). After a warm-up the
workers' counters are zeroed; the instructions they then execute (Python, SQLite, the C
libraries; not the kernel and not a PostgreSQL server) are read back per phase: first GETs of
the form alone, then whole registrations. With one worker (the default) the same code gives
the same count to about one part in a thousand, on a busy machine or an idle one. With
``--workers 2`` (as in ``register_load.py``) a SQLite worker also re-reads the pages the
other one changed, which depends on how requests fall on the two: the service's POST moved by
3% between two runs.

It prints millions of instructions per form GET, per POST (registration minus GET) and per
registration for each server, and the baseline/service ratio: the throughput ratio the
service would reach if both were bound by the CPU of their own code (kernel work, which is
about the same for both, pulls the measured ratios up a little). Nothing here is a target;
``register_load.py`` checks the targets.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import register_load as load

_THREAD_TOTAL = re.compile(r"^\s*Th \d+\s+([\d,]+)\s*$", re.MULTILINE)


def worker_pids(master: int) -> list[int]:
    """The gunicorn worker processes of ``master`` (its children)."""
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def callgrind(action: str, pid: int) -> str:
    """Run ``callgrind_control <action> <pid>``; its output (fails loudly)."""
    done = subprocess.run(["callgrind_control", action, str(pid)], capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0 or "No active callgrind runs" in done.stdout:
        raise RuntimeError(f"callgrind_control {action} {pid} failed:\n{done.stdout}"
                           f"{done.stderr}")
    return done.stdout


def instructions(pids: list[int]) -> int:
    """Instructions the processes ``pids`` executed since their counters were zeroed."""
    total = 0
    for pid in pids:
        counts = _THREAD_TOTAL.findall(callgrind("-e", pid))
        if not counts:
            raise RuntimeError(f"no instruction count for process {pid}")
        total += sum(int(c.replace(",", "")) for c in counts)
    return total


def gets(base: str, n: int) -> None:
    parts = urllib.parse.urlsplit(base)
    for _ in range(n):
        status, _html, _cookie = load.http_get(parts.hostname or "127.0.0.1", parts.port or 80,
                                               f"/events/{load.SLUG}/register")
        if status != 200:
            raise RuntimeError(f"form GET answered {status}")


def registrations(base: str, n: int, tag: str) -> None:
    for i in range(n):
        status, _seconds = load.register_once(base, f"{tag}{i}@example.com")
        if status != 303:
            raise RuntimeError(f"registration answered {status}")


def count_server(kind: str, db_url: str, folder: Path, args: argparse.Namespace
                 ) -> dict[str, float]:
    """Millions of instructions per GET, POST and registration of one server."""
    wrap = ("valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={folder / 'callgrind.%p'}")
    with load.server(kind, db_url, folder, workers=args.workers, wrap=wrap,
                     start_timeout=600) as base:
        registrations(base, args.warmup, f"warmup-{kind}-")  # every worker's first requests
        pids = worker_pids(load.SERVER_PIDS[base])
        counts = {}
        for phase, run in (("get", lambda: gets(base, args.requests)),
                           ("registration",
                            lambda: registrations(base, args.requests, f"count-{kind}-"))):
            for pid in pids:
                callgrind("-z", pid)
            run()
            counts[phase] = instructions(pids) / args.requests / 1e6
    counts["post"] = counts["registration"] - counts["get"]
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--requests", type=int, default=200,
                   help="form GETs, then registrations, counted per server")
    p.add_argument("--warmup", type=int, default=30, help="registrations before counting")
    p.add_argument("--workers", type=int, default=1,
                   help="gunicorn workers per server (register_load.py runs 2)")
    args = p.parse_args(argv)
    missing = [tool for tool in ("valgrind", "callgrind_control", "pgrep")
               if shutil.which(tool) is None]
    if missing:
        print(f"needs {', '.join(missing)} (Debian: apt-get install valgrind procps)",
              file=sys.stderr)
        return 2
    if args.db == "postgresql" and (reason := load.postgres_reachable()):
        print(f"PostgreSQL is not reachable: {reason}", file=sys.stderr)
        return 2
    os.environ["PYTHONHASHSEED"] = "0"  # the same dict and set layouts in every run
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ciie-instructions-") as tmp:
        folder = Path(tmp)
        with load.databases(args.db, folder) as (svc_url, base_url):
            figures = {kind: count_server(kind, url, folder / kind, args)
                       for kind, url in (("service", svc_url), ("baseline", base_url))}
    print(f"\n== {args.db}: millions of instructions in the gunicorn workers ({args.workers}), "
          f"{args.requests} form GETs then {args.requests} registrations per server, "
          f"after {args.warmup} to warm up ({time.monotonic() - started:.0f} s)")
    print("server       form GET      POST  registration")
    for kind, c in figures.items():
        print(f"{kind:<9} {c['get']:11.3f} {c['post']:9.3f} {c['registration']:13.3f}")
    svc, base = figures["service"], figures["baseline"]
    print("ratio     " + "  ".join(f"{base[k] / svc[k]:9.2f}x"
                                   for k in ("get", "post", "registration"))
          + "   (baseline / service)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(load.ROOT))
    sys.exit(main())
