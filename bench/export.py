"""Benchmark: attendee-list exports against plain baselines (not a timed test).

Seeds N registrations (default 100,000) into a temporary SQLite database, then measures in
one run, at 10,000 rows and at N rows:

* CSV: ``exports.csv_chunks(registration_table(...))`` against a baseline reading the same
  columns with plain SQL (``sqlite3``) and writing them with ``csv.writer``;
* XLSX: ``exports.write_xlsx(registration_table(...))`` against a baseline reading the same
  columns with plain SQL and writing them with XlsxWriter (``constant_memory``) directly.

Time is the best of ``--repeat`` runs without tracing; peak memory growth is measured in a
separate run under ``tracemalloc``. Targets: each ratio <= 1.5, memory growth < 50 MB and
about the same at 10,000 and at N rows.

    python bench/export.py [--n 100000] [--repeat 3] [--formats csv,xlsx]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import os
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from ciie_rsvp import create_app  # noqa: E402
from ciie_rsvp.choices import CALIFORNIA_COUNTIES, COMPANY_SIZES, SECTORS  # noqa: E402
from ciie_rsvp.extensions import db  # noqa: E402
from ciie_rsvp.models import Event, Registration  # noqa: E402
from ciie_rsvp.organizer import exports  # noqa: E402
from ciie_rsvp.organizer.services import ListFilters  # noqa: E402

COLUMNS = ("id, status, company, website, sector, company_size, county, first_name, last_name, "
           "job_title, email, phone, interest_exhibit, interest_delegation, interest_conference, "
           "interest_matchmaking, delegates, language, notes, source, created_at, updated_at, "
           "consent_at, consent_notice_version")
FIRST = ["Maria", "晓明", "Ann", "David", "丽华", "José", "Wei", "Sarah", "=cmd", "Li"]
LAST = ["Lopez", "王", "Zhou", "Smith", "陈", "García", "Chen", "Johnson", "+SUM(A1)", "Liu"]


def seed(app: Any, n: int, event_slug: str) -> int:
    """Insert ``n`` registrations for a new event; return the event id.

    Each size gets its own event, so both sides read whole events (no LIMIT, no wrapper).
    """
    rng = random.Random(42)  # noqa: S311 - benchmark data
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        event = Event(slug=event_slug, name_en="Bench", start_date=dt.date(2030, 10, 13),
                      end_date=dt.date(2030, 10, 13))
        db.session.add(event)
        db.session.flush()
        event_id = event.id
        batch = []
        for i in range(n):
            created = start + dt.timedelta(seconds=30 * i)
            batch.append({
                "event_id": event_id, "status": rng.choice(["submitted", "approved"]),
                "source": "web", "manage_token_hash": f"{event_id:08d}{i:056d}",
                "company": f"{rng.choice(['Golden State', '上海进出口', 'Pacific', 'Sierra'])} "
                           f"Trading {i} Inc.",
                "website": f"https://company{i}.example.com", "sector": rng.choice(SECTORS)[0],
                "company_size": rng.choice(COMPANY_SIZES)[0],
                "county": rng.choice(CALIFORNIA_COUNTIES),
                "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
                "job_title": "Export Manager", "email": f"person{i}@company{i}.example.com",
                "email_normalized": f"person{i}@company{i}.example.com",
                "phone": f"+1213555{i % 10000:04d}", "interest_exhibit": i % 2 == 0,
                "interest_delegation": i % 3 == 0, "interest_conference": i % 5 == 0,
                "interest_matchmaking": True, "delegates": 1 + i % 5, "language": "en",
                "notes": "We would like to meet importers, please." if i % 4 == 0 else "",
                "consent_at": created, "consent_notice_version": "2026-11",
                "created_at": created, "updated_at": created,
            })
            if len(batch) == 5000:
                db.session.execute(insert(Registration), batch)
                batch = []
        if batch:
            db.session.execute(insert(Registration), batch)
        db.session.commit()
        return event_id


def baseline_sql(db_path: str, event_id: int) -> tuple[sqlite3.Connection, Any]:
    conn = sqlite3.connect(db_path)
    cur = conn.execute(f"SELECT {COLUMNS} FROM registrations WHERE event_id = ? "  # noqa: S608
                       "ORDER BY created_at, id", (event_id,))
    return conn, cur


def baseline_csv(db_path: str, event_id: int, out: Path) -> int:
    conn, cur = baseline_sql(db_path, event_id)
    n = 0
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.strip() for c in COLUMNS.split(",")])
        while rows := cur.fetchmany(2000):
            writer.writerows(rows)
            n += len(rows)
    conn.close()
    return n


def baseline_xlsx(db_path: str, event_id: int, out: Path) -> int:
    from xlsxwriter import Workbook

    conn, cur = baseline_sql(db_path, event_id)
    # Plain cells, as the export writes them (by default XlsxWriter would turn the websites
    # into hyperlinks and formula-looking names into formulas).
    book = Workbook(str(out), {"constant_memory": True, "strings_to_urls": False,
                               "strings_to_formulas": False, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, [c.strip() for c in COLUMNS.split(",")])
    r = 0
    while rows := cur.fetchmany(2000):
        for row in rows:
            r += 1
            sheet.write_row(r, 0, row)
    book.close()
    conn.close()
    return r


def ours_csv(app: Any, event_id: int, out: Path) -> int:
    with app.app_context():
        table = exports.registration_table(event_id, ListFilters(sort="created",
                                                                 direction="asc"))
        with out.open("wb") as fh:
            for chunk in exports.csv_chunks(table):
                fh.write(chunk)
        db.session.rollback()
        return table.count


def ours_xlsx(app: Any, event_id: int, out: Path) -> int:
    with app.app_context():
        table = exports.registration_table(event_id, ListFilters(sort="created",
                                                                 direction="asc"))
        rows = exports.write_xlsx(table, str(out))
        db.session.rollback()
        return rows


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """Best wall-clock and best CPU time (this process: Python and SQLite) of ``repeat`` runs."""
    best, best_cpu, rows = float("inf"), float("inf"), 0
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        rows = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, rows


def peak_growth_mb(fn: Callable[[], int]) -> float:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="rows to seed (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs, best is kept")
    parser.add_argument("--formats", default="csv,xlsx",
                        help="comma-separated formats to measure (default csv,xlsx)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ciie-bench-") as tmp:
        folder = Path(tmp)
        db_path = str(folder / "bench.sqlite3")
        os.environ.setdefault("CIIE_RSVP_SEED_ON_START", "0")
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
                          "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench"})
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        t0 = time.perf_counter()
        sizes = sorted({min(10_000, args.n), args.n})
        events = {size: seed(app, size, f"bench-{size}") for size in sizes}
        print(f"seeded {sum(sizes)} registrations in {time.perf_counter() - t0:.1f}s "
              f"(SQLite, Python {sys.version.split()[0]})")
        print(f"{'rows':>8} {'format':>6} {'ours s':>8} {'base s':>8} {'ratio':>6} "
              f"{'cpu ratio':>9} {'ours MB':>8} {'base MB':>8}")
        for size in sizes:
            event_id = events[size]
            formats = (("csv", ours_csv, baseline_csv), ("xlsx", ours_xlsx, baseline_xlsx))
            for fmt, ours, base in formats:
                if fmt not in args.formats.split(","):
                    continue
                out_ours, out_base = folder / f"ours.{fmt}", folder / f"base.{fmt}"

                def run_ours(o: Any = ours, p: Path = out_ours, e: int = event_id) -> int:
                    return o(app, e, p)

                def run_base(b: Any = base, p: Path = out_base, e: int = event_id) -> int:
                    return b(db_path, e, p)

                t_ours, c_ours, n_ours = timed(run_ours, args.repeat)
                t_base, c_base, n_base = timed(run_base, args.repeat)
                assert n_ours == n_base == size, (n_ours, n_base, size)
                m_ours, m_base = peak_growth_mb(run_ours), peak_growth_mb(run_base)
                print(f"{size:>8} {fmt:>6} {t_ours:>8.2f} {t_base:>8.2f} "
                      f"{t_ours / t_base:>6.2f} {c_ours / c_base:>9.2f} {m_ours:>8.1f} "
                      f"{m_base:>8.1f}", flush=True)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
