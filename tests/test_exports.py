"""Attendee-list exports: CSV, XLSX and JSON read back with csv, openpyxl and json; formula
injection; filters; streaming; the export log; the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import openpyxl
import pytest
from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations.exports import ATTENDEE_COLUMNS
from ciie_rsvp.models import ExportRecord
from ciie_rsvp.organizer import exports
from ciie_rsvp.organizer.exports import defuse, undefuse
from tests.conftest import csrf_from

EVIL = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
        "\tTAB", "\rCR", "  =1+1", "＝1+1"]
CREATED = dt.datetime(2030, 5, 4, 3, 2, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), (" =1", "' =1"), ("\n=1", "'\n=1"), ("＝1", "'＝1"),
    ("+12135550142", "+12135550142"), ("+8613800138000", "+8613800138000"), ("-5", "-5"),
    ("+3.5", "+3.5"), ("+1 213 555", "'+1 213 555"), ("王晓明", "王晓明"), ("a=b", "a=b"),
    ("", ""), ("Acme, Inc.", "Acme, Inc."),
])
def test_defuse(value, expected):
    assert defuse(value) == expected
    assert undefuse(defuse(value)) == value  # what the CSV import reads back


@pytest.mark.parametrize("value", ["'Tis the Season Co", "'", "''=1", "O'Brien Trading"])
def test_undefuse_keeps_an_apostrophe_it_did_not_add(value):
    assert undefuse(value) == value


@pytest.fixture
def event_with_rows(make_event, make_registration):
    slug = make_event(slug="meet-in-shanghai-2030")
    ids = {
        "wang": make_registration(slug, company="上海进出口贸易有限公司", first_name="晓明",
                                  last_name="王", email="wang@example.cn", status="approved",
                                  phone="+8613800138000", created_at=CREATED,
                                  interests=["exhibit", "matchmaking"], language="zh-Hans",
                                  notes="第一行\n\"quoted\", comma"),
        "evil": make_registration(slug, company=EVIL[0], first_name=EVIL[1], last_name=EVIL[2],
                                  job_title=EVIL[3], notes=EVIL[4], website="",
                                  email="evil@example.com", status="approved",
                                  created_at=CREATED + dt.timedelta(hours=1)),
        "other": make_registration(slug, company="Sierra Solar", status="submitted",
                                   created_at=CREATED + dt.timedelta(hours=2)),
    }
    return slug, ids


def _export(client, slug, fmt, **filters):
    html = client.get(f"/organizer/events/{slug}/registrations",
                      query_string=filters).get_data(as_text=True)
    return client.post(f"/organizer/events/{slug}/export",
                       data={"csrf_token": csrf_from(html), "format": fmt, **filters})


def test_csv_export_reads_back(app, client, login_organizer, event_with_rows):
    slug, ids = event_with_rows
    login_organizer()
    resp = _export(client, slug, "csv", status="approved", sort="created", direction="asc")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="meet-in-shanghai-2030-registrations-approved-{today}.csv"')
    assert resp.headers["Cache-Control"] == "no-store"
    raw = resp.get_data()
    # a list narrowed by more than its status is not named like the whole list
    narrowed = _export(client, slug, "csv", status="approved", county="Fresno")
    assert narrowed.headers["Content-Disposition"] == (
        f'attachment; filename="meet-in-shanghai-2030-registrations-approved-filtered-{today}'
        '.csv"')
    narrowed.close()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, wang, evil = rows
    assert header[:4] == ["Registration ID", "Status", "Company", "Website"]
    assert header == [c.header for c in ATTENDEE_COLUMNS]
    cell = dict(zip(header, wang, strict=True))
    assert (cell["Company"], cell["First name"], cell["Last name"]) == (
        "上海进出口贸易有限公司", "晓明", "王")
    assert cell["Phone"] == "+8613800138000"  # E.164 intact
    assert cell["Registrant notes"] == "第一行\n\"quoted\", comma"  # RFC 4180 round trip
    assert cell["Interests"] == "Exhibit at CIIE; B2B matchmaking"
    assert cell["Registered at (UTC)"] == "2030-05-04 03:02:01"
    assert cell["Status"] == "Approved" and cell["Preferred language"].startswith("简体中文")
    bad = dict(zip(header, evil, strict=True))
    assert bad["Company"] == "'" + EVIL[0]
    assert bad["First name"] == "'" + EVIL[1]
    assert bad["Last name"] == "'" + EVIL[2]
    assert bad["Job title"] == "'" + EVIL[3]
    assert bad["Registrant notes"] == "'" + EVIL[4]
    assert bad["Phone"] == "+12135550142"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) or v == bad["Phone"]
               for v in evil)


def test_xlsx_export_reads_back(app, client, login_organizer, event_with_rows):
    slug, ids = event_with_rows
    login_organizer()
    resp = _export(client, slug, "xlsx", sort="created", direction="asc")
    assert resp.status_code == 200
    assert resp.mimetype == exports.FORMATS["xlsx"]
    assert resp.headers["Content-Disposition"].endswith(".xlsx")
    assert resp.headers["Cache-Control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(resp.get_data()))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == [c.header for c in ATTENDEE_COLUMNS]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:AA{sheet.max_row}"  # 21 + 6 RSVP columns
    rows = {r[0].value: {h: c for h, c in zip(header, r, strict=True)}
            for r in sheet.iter_rows(min_row=2)}
    wang = rows[ids["wang"]]
    assert wang["First name"].value == "晓明" and wang["Company"].value == "上海进出口贸易有限公司"
    assert wang["Phone"].value == "+8613800138000" and wang["Phone"].data_type == "s"
    assert wang["Registered at (UTC)"].value == dt.datetime(2030, 5, 4, 3, 2, 1)
    assert wang["Registered at (UTC)"].is_date
    assert wang["Delegates"].value == 1 and wang["Registration ID"].data_type == "n"
    evil = rows[ids["evil"]]
    for header_name, value in zip(["Company", "First name", "Last name", "Job title"], EVIL,
                                  strict=False):
        assert evil[header_name].value == value  # exact text...
        assert evil[header_name].data_type == "s"  # ...in a string cell, never a formula
    assert len(rows) == 3


def test_json_export(client, login_organizer, event_with_rows):
    slug, ids = event_with_rows
    login_organizer()
    resp = _export(client, slug, "json", q="上海")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Type"] == "application/json"
    [item] = json.loads(resp.get_data(as_text=True))
    assert item["id"] == ids["wang"] and item["first_name"] == "晓明"
    assert item["created_at"] == "2030-05-04T03:02:01+00:00"
    assert item["delegates"] == 1
    assert list(item) == [c.key for c in ATTENDEE_COLUMNS]


def test_every_export_is_logged_and_listed_for_admins(app, client, make_organizer,
                                                      event_with_rows):
    from tests.conftest import sign_in

    slug, _ = event_with_rows
    staff = make_organizer("staff")
    sign_in(client, staff)
    _export(client, slug, "csv", status="approved").get_data()
    _export(client, slug, "xlsx").get_data()
    with app.app_context():
        records = db.session.scalars(select(ExportRecord).order_by(ExportRecord.id)).all()
        summary = [(r.actor, r.event_slug, r.format, json.loads(r.filters), r.row_count,
                    r.completed_at is not None) for r in records]
    assert summary == [(staff, slug, "csv", {"status": "approved"}, 2, True),
                       (staff, slug, "xlsx", {}, 3, True)]
    assert client.get("/organizer/admin/exports").status_code == 403
    admin_client = app.test_client()
    sign_in(admin_client, make_organizer("admin"))
    page = admin_client.get("/organizer/admin/exports").get_data(as_text=True)
    assert page.count(staff) == 2 and "{&#34;status&#34;: &#34;approved&#34;}" in page


def test_export_needs_post_and_csrf_and_valid_input(client, login_organizer, event_with_rows):
    slug, _ = event_with_rows
    login_organizer()
    assert client.get(f"/organizer/events/{slug}/export").status_code == 405
    resp = client.post(f"/organizer/events/{slug}/export", data={"format": "csv"})
    assert resp.status_code == 400
    token = csrf_from(client.get("/organizer/").get_data(True))
    assert client.post(f"/organizer/events/{slug}/export",
                       data={"csrf_token": token, "format": "pdf"}).status_code == 400
    assert client.post(f"/organizer/events/{slug}/export",
                       data={"csrf_token": token, "format": "csv",
                             "status": "nope"}).status_code == 400
    assert client.post("/organizer/events/no-such-event/export",
                       data={"csrf_token": token, "format": "csv"}).status_code == 404


def test_csv_is_streamed_in_chunks(app, make_event, make_registration):
    slug = make_event()
    for i in range(5):
        make_registration(slug, company=f"Company {i}")
    with app.test_request_context():
        event = exports.Event.query.filter_by(slug=slug).one()  # type: ignore[attr-defined]
        table = exports.registration_table(event.id, exports.ListFilters(sort="company",
                                                                         direction="asc"))
        chunks = list(exports.csv_chunks(table, rows_per_chunk=2))
    assert len(chunks) == 3 and table.count == 5
    text = b"".join(chunks).decode("utf-8-sig")
    assert [r[2] for r in csv.reader(io.StringIO(text))][1:] == [f"Company {i}" for i in range(5)]


def test_cli_export(app, runner, tmp_path, event_with_rows):
    slug, ids = event_with_rows
    out = tmp_path / "list.xlsx"
    result = runner.invoke(args=["export", "registrations", "--event", slug, "--format", "xlsx",
                                 "--status", "approved", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 registrations" in result.output and "Exporting 2 registrations" in result.output
    sheet = openpyxl.load_workbook(out).active
    assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == sorted(
        [ids["wang"], ids["evil"]])
    csv_out = tmp_path / "list.csv"
    result = runner.invoke(args=["export", "registrations", "--event", slug, "-o", str(csv_out)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.reader(csv_out.open(encoding="utf-8-sig", newline="")))) == 4
    result = runner.invoke(args=["export", "registrations", "--event", "nope", "-o",
                                 str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "no event" in result.output
    with app.app_context():
        actors = db.session.scalars(select(ExportRecord.actor)).all()
    assert len(actors) == 2 and all(a.startswith("cli:") for a in actors)


TRICKY = ["", "plain", "+12135550142", "+1", "-5", "+3.5", "+12a", "+123\n", "1+1", "=1",
          " =1", "\n+1", " +1", "@x", "\tx", "\rx", "＝x", "＋1", "a\x1f=b", "+1\x1fx", "-",
          "+", "王", "x=1", "+1.", "+.5", "- 5"]


@pytest.mark.parametrize("seed", range(3))
def test_csv_fast_path_matches_defuse_cell_by_cell(seed):
    """The one-scan-per-row fast path never lets through a cell that defuse() would change."""
    import random

    rng = random.Random(seed)
    columns = [exports.Column(f"c{i}", f"C{i}", exports.TEXT, (None,)) for i in range(4)]
    rows = [tuple(rng.choice(TRICKY) for _ in columns) for _ in range(400)]
    table = exports.Table(columns, iter(rows))
    text = b"".join(exports.csv_chunks(table)).decode("utf-8-sig")
    got = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert got == [[defuse(v) for v in row] for row in rows]


def test_csv_from_driver_cursor_matches_row_path(app, event_with_rows, make_registration):
    """The CSV path reads batches straight from the DBAPI cursor (a named server-side cursor
    on PostgreSQL); it writes exactly what the SQLAlchemy row path writes, filters and bound
    parameters (dates, LIKE patterns) included, NULL cells (RSVP columns) too."""
    slug, ids = event_with_rows
    for i in range(7):
        make_registration(slug, company=f"=Co {i}", email=f"x{i}@example.com",
                          created_at=CREATED + dt.timedelta(days=i))
    filter_sets = [
        exports.ListFilters(sort="created", direction="asc"),
        exports.ListFilters(q="co", date_from=CREATED.date() + dt.timedelta(days=1),
                            date_to=CREATED.date() + dt.timedelta(days=4), sort="company",
                            direction="desc"),
        exports.ListFilters(status="approved", sort="created", direction="asc"),
    ]
    with app.app_context():
        event_id = exports.Event.query.filter_by(slug=slug).one().id  # type: ignore[attr-defined]
        postgres = db.engine.dialect.name == "postgresql"
        for filters in filter_sets:
            table = exports.registration_table(event_id, filters, ATTENDEE_COLUMNS)
            assert table.batches is not None
            cursors = []
            chunks = []
            for chunk in exports.csv_chunks(table, rows_per_chunk=2):
                chunks.append(chunk)
                if postgres and not cursors:
                    cursors = db.session.execute(db.text(
                        "SELECT name FROM pg_cursors WHERE name LIKE 'ciie_export_%'")).all()
            fast = b"".join(chunks)
            rows_path = exports.Table(table.columns, table.rows, naive_datetimes=True)
            slow = b"".join(exports.csv_chunks(rows_path, rows_per_chunk=2))
            assert fast == slow and table.count == rows_path.count
            assert not postgres or len(cursors) == 1
            db.session.rollback()
        assert table.count == 2  # the last filter set: the approved ones


def test_columns_not_scanned_for_formulas_only_hold_harmless_values():
    """The CSV writer skips the scan for columns marked ``free_text=False``: each can only
    hold values that defuse() leaves alone (its codes are CHECK-constrained and labelled by
    the database, or it lists fixed labels)."""
    from ciie_rsvp.choices import INTERESTS, LANGUAGES, STATUSES
    from ciie_rsvp.models import Registration

    closed = {c.key for c in exports.REGISTRATION_COLUMNS if not c.free_text}
    assert closed == {"status", "language", "interests"}
    checks = " ".join(str(c.sqltext) for c in Registration.__table__.constraints
                      if hasattr(c, "sqltext"))
    assert "status IN (" in checks and "language IN (" in checks
    for code, label in [*STATUSES, *LANGUAGES, *INTERESTS]:
        assert defuse(code) == code and defuse(str(label)) == str(label)
