"""The issue's "done when", end to end: an organizer created from the CLI signs in, finds a
registration by company name, approves it, bulk-approves a filtered set, and downloads CSV and
XLSX lists that open correctly."""

from __future__ import annotations

import csv
import io
import re

import openpyxl

from tests.conftest import ORGANIZER_PASSWORD, csrf_from, sign_in


def test_organizer_campaign_end_to_end(app, client, runner, make_event, register):
    slug = make_event()
    register(slug, company="上海进出口贸易有限公司", first_name="晓明", last_name="王",
             email="wang@example.cn", language="zh-Hans", county="Los Angeles")
    register(slug, company="=HYPERLINK(\"http://evil.example\")", email="x@evil.example",
             county="Los Angeles")
    register(slug, company="Sierra Solar", email="s@sierra.example", county="Fresno")
    register(slug, company="Bay Biotech", email="b@bay.example", county="Fresno")

    result = runner.invoke(args=["organizer", "create", "chen@wtcla.example.org", "--name",
                                 "Chen Wei", "--role", "staff", "--password-stdin"],
                           input=ORGANIZER_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert sign_in(client, "chen@wtcla.example.org").status_code == 303

    url = f"/organizer/events/{slug}/registrations"
    found = client.get(url, query_string={"q": "sierra"}).get_data(as_text=True)
    [reg_id] = re.findall(r'name="ids" value="(\d+)"', found)
    detail = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert "Sierra Solar" in detail
    resp = client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"csrf_token": csrf_from(detail), "status": "approved"})
    assert resp.status_code == 303

    listing = client.get(url, query_string={"county": "Los Angeles"}).get_data(as_text=True)
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(listing),
                                            "decision": "approved", "scope": "filtered",
                                            "county": "Los Angeles"})
    assert resp.status_code == 303
    assert "2 registrations approved" in client.get(resp.headers["Location"]).get_data(True)

    approved = client.get(url, query_string={"status": "approved"}).get_data(as_text=True)
    token = csrf_from(approved)
    csv_resp = client.post(f"/organizer/events/{slug}/export",
                           data={"csrf_token": token, "format": "csv", "status": "approved",
                                 "sort": "company", "direction": "asc"})
    rows = list(csv.reader(io.StringIO(csv_resp.get_data().decode("utf-8-sig"), newline="")))
    companies = [r[2] for r in rows[1:]]
    assert companies == ["'=HYPERLINK(\"http://evil.example\")", "Sierra Solar",
                         "上海进出口贸易有限公司"]
    assert rows[3][7:9] == ["晓明", "王"]

    xlsx_resp = client.post(f"/organizer/events/{slug}/export",
                            data={"csrf_token": token, "format": "xlsx", "status": "approved"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_resp.get_data())).active
    values = {r[2].value: r for r in sheet.iter_rows(min_row=2)}
    assert set(values) == {"=HYPERLINK(\"http://evil.example\")", "Sierra Solar",
                           "上海进出口贸易有限公司"}
    assert values["=HYPERLINK(\"http://evil.example\")"][2].data_type == "s"
    assert values["上海进出口贸易有限公司"][11].value == "+12135550142"
