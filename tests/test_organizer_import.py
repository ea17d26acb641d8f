"""CSV import: preview with per-row errors, duplicates reported not doubled, all-or-nothing."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, ImportBatch, Registration
from tests.conftest import csrf_from

HEADER = ["company", "website", "sector", "company_size", "county", "first_name", "last_name",
          "job_title", "email", "phone", "interests", "delegates", "language", "notes"]


def _row(**overrides):
    row = {"company": "Pacific Robotics LLC", "website": "pacbot.example.com",
           "sector": "Intelligent industry and information technology", "company_size": "10-49",
           "county": "san diego", "first_name": "Ann", "last_name": "Zhou", "job_title": "CEO",
           "email": "ann@pacbot.example.com", "phone": "(619) 555-0101",
           "interests": "exhibit; B2B matchmaking", "delegates": "2", "language": "English",
           "notes": ""}
    row.update(overrides)
    return row


def _csv(rows, header=HEADER, bom=True):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def _upload(client, slug, content, name="people.csv"):
    url = f"/organizer/events/{slug}/import"
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Registration.id)))


def test_preview_then_import_with_duplicates_skipped(app, client, login_organizer, make_event,
                                                     make_registration, mailbox):
    slug = make_event()
    make_registration(slug, email="existing@example.com")
    login_organizer()
    content = _csv([
        _row(),
        _row(email="晓明@example.cn".replace("晓明", "wang"), first_name="晓明", last_name="王",
             company="上海进出口贸易有限公司", county="Los Angeles County",
             phone="+86 21 5555 0100", language="zh-Hans", sector="consumer_goods",
             interests="delegation"),
        _row(email="EXISTING@example.com"),  # already registered
        _row(email="Ann@PacBot.example.com"),  # same as row 2 of this file
    ])
    resp = _upload(client, slug, content)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "2 new, 2 duplicates (skipped), 0 with errors." in html
    assert "already registered for this event" in html and "Same email as row 2" in html
    assert "<td>王晓明</td>" in html  # as the list will write it, family name first
    assert _count(app) == 1  # nothing written by the preview
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    # Each row will record consent to the privacy notice: the organizer has to say so.
    resp = client.post(f"/organizer/events/{slug}/import/confirm",
                       data={"csrf_token": csrf_from(html), "token": token})
    assert resp.status_code == 422 and _count(app) == 1
    page = resp.get_data(as_text=True)
    assert 'id="consent-error"' in page and "agreed to the privacy notice" in page
    assert 'name="token" type="hidden" value="' + token in page  # the same file, still staged
    resp = client.post(f"/organizer/events/{slug}/import/confirm",
                       data={"csrf_token": csrf_from(html), "token": token, "consent": "y"})
    assert resp.status_code == 303
    assert "Imported 2 registrations; 2 duplicates skipped." in client.get(
        resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        regs = db.session.scalars(select(Registration).where(Registration.source == "import")
                                  .order_by(Registration.id)).all()
        assert [(r.first_name, r.county, r.phone, r.language) for r in regs] == [
            ("Ann", "San Diego", "+16195550101", "en"),
            ("晓明", "Los Angeles", "+862155550100", "zh-Hans")]
        assert regs[0].sector == "intelligent_industry_it"
        assert regs[0].interests == ["exhibit", "matchmaking"]
        assert regs[0].website == "https://pacbot.example.com" and regs[0].delegates == 2
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.detail == "source=import")) == 2
        assert db.session.scalar(select(func.count(ImportBatch.id))) == 0
    assert mailbox() == []
    # the same confirmation again does nothing
    again = client.post(f"/organizer/events/{slug}/import/confirm",
                        data={"csrf_token": csrf_from(html), "token": token, "consent": "y"})
    assert again.status_code == 404 and _count(app) == 3


def test_rows_with_errors_block_the_whole_import(app, client, login_organizer, make_event):
    slug = make_event()
    login_organizer()
    content = _csv([_row(), _row(email="not-an-email", phone="12", sector="weapons"),
                    _row(email="b@example.com", first_name="", interests="spying")])
    resp = _upload(client, slug, content)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "1 new, 0 duplicates (skipped), 2 with errors." in html
    assert "Nothing can be imported" in html and 'name="token"' not in html
    assert "Enter a valid email address" in html and "phone number" in html
    assert "Industry sector (CIIE exhibition area):" in html  # the public form's own checks
    assert "First name: Enter your first name." in html and "I am interested in:" in html
    assert _count(app) == 0


def test_errors_come_first_numbered_as_a_spreadsheet_numbers_rows_and_name_the_value(
        app, client, login_organizer, make_event):
    """A walkthrough with 2,000 rows found the first error 70,000 px down the page, its
    "line 1503" on Excel's row 1501 (a note with line breaks came before it), and "Not a
    valid choice." without the value."""
    slug = make_event()
    login_organizer()
    rows = [_row(email=f"p{i}@example.com") for i in range(30)]
    rows[1]["notes"] = "first line\nsecond line\nthird line"
    rows[20] = _row(email="p20@example.com", county="Los Angles", sector="Agriculture")
    rows[25] = _row(email="p25@example.com", interests="exhibit;golf", delegates="many")
    resp = _upload(client, slug, _csv(rows))
    html = resp.get_data(as_text=True)
    assert "28 new, 0 duplicates (skipped), 2 with errors." in html
    errors_at = html.index("<caption>Rows with errors (2)</caption>")
    assert errors_at < html.index("<caption>Every row (30)</caption>")
    first_row = re.search(r'<tr class="row-error"><td>(\d+)</td>', html[errors_at:])
    assert first_row.group(1) == "22"  # header row 1, then rows 2..31 as Excel shows them
    assert "California county: “Los Angles” is not one of the accepted values" in html
    assert "“Agriculture” is not one of the accepted values" in html
    assert "“golf” is not one of the accepted values" in html  # the item, not the cell
    assert "“many”: Not a valid integer value." in html


def test_a_file_whose_rows_were_all_registered_since_its_preview_imports_nothing(
        app, client, login_organizer, make_event):
    """The same file previewed in two tabs and confirmed twice: the second confirmation
    inserted an empty list of audit rows and answered 500, every time until it expired."""
    slug = make_event()
    login_organizer()
    content = _csv([_row()])
    first, second = (_upload(client, slug, content).get_data(as_text=True) for _ in range(2))

    def confirm(html: str):
        token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
        return client.post(f"/organizer/events/{slug}/import/confirm",
                           data={"csrf_token": csrf_from(html), "token": token, "consent": "y"})

    assert confirm(first).status_code == 303
    resp = confirm(second)
    assert resp.status_code == 303
    assert "Imported 0 registrations; 1 duplicates skipped." in client.get(
        resp.headers["Location"]).get_data(as_text=True)
    assert _count(app) == 1
    assert confirm(second).status_code == 404  # done: the staged file is gone


def test_export_file_reads_back_as_import(app, client, login_organizer, make_event,
                                          make_registration):
    """A CSV export of one event imports into another (human headers, labels, BOM)."""
    source = make_event()
    make_registration(source, company="=Formula Co", first_name="晓明", email="w@example.cn")
    target = make_event()
    login_organizer()
    html = client.get(f"/organizer/events/{source}/registrations").get_data(as_text=True)
    exported = client.post(f"/organizer/events/{source}/export",
                           data={"csrf_token": csrf_from(html), "format": "csv"}).get_data()
    resp = _upload(client, target, exported)
    html = resp.get_data(as_text=True)
    assert "1 new, 0 duplicates (skipped), 0 with errors." in html, html
    assert "Registration ID" in html  # listed among the ignored columns
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    assert client.post(f"/organizer/events/{target}/import/confirm",
                       data={"csrf_token": csrf_from(html), "token": token,
                             "consent": "y"}).status_code == 303
    with app.app_context():
        # the export's "'=Formula Co" (defused for spreadsheets) comes back as it was stored
        assert db.session.scalar(select(Registration.company).where(
            Registration.source == "import")) == "=Formula Co"


def test_bad_files_get_clear_messages(app, client, login_organizer, make_event):
    slug = make_event()
    login_organizer()
    cases = [
        ("Company,Email\r\nA,b@c.com\r\n".encode("utf-16"), "not UTF-8"),
        (b"", "The file is empty"),
        (b"company,email\r\nA,a@example.com\r\n", "lacks the columns"),
        (_csv([]), "no rows"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ]
    for content, message in cases:
        resp = _upload(client, slug, content)
        assert resp.status_code == 422, (message, resp.status_code)
        assert message in resp.get_data(as_text=True), message
    assert _count(app) == 0


def test_import_upload_limit_and_csrf(app, client, login_organizer, make_event):
    slug = make_event()
    login_organizer()
    url = f"/organizer/events/{slug}/import"
    resp = client.post(url, data={"file": (io.BytesIO(_csv([_row()])), "a.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400  # no CSRF token
    big = _csv([_row(notes="x" * 1000, email=f"p{i}@example.com") for i in range(2500)])
    assert len(big) > app.config["IMPORT_MAX_BYTES"]
    assert _upload(client, slug, big).status_code == 413
    # bigger than the app-wide request limit, within the import limit: accepted
    medium = _csv([_row(email=f"p{i}@example.com") for i in range(1500)])
    assert app.config["MAX_CONTENT_LENGTH"] < len(medium) < app.config["IMPORT_MAX_BYTES"]
    resp = _upload(client, slug, medium)
    assert resp.status_code == 200 and "1500 new" in resp.get_data(as_text=True)


def test_the_upload_page_lists_the_values_coded_columns_accept(client, login_organizer,
                                                               make_event):
    slug = make_event()
    login_organizer()
    html = client.get(f"/organizer/events/{slug}/import").get_data(as_text=True)
    for value in ("food_agriculture", "Food and agricultural products", "50-249", "matchmaking",
                  "zh-Hans", "San Luis Obispo"):
        assert value in html, value
