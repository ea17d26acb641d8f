"""Review workflow: dashboard, list (search, filters, sort, paging), detail, decisions, notes,
duplicate warnings, and registrations added or corrected on someone's behalf."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, Registration
from ciie_rsvp.organizer.duplicates import canonical_email, company_key, registrable_domain
from tests.conftest import csrf_from, valid_registration

DAY = dt.timedelta(days=1)


def _status(app, reg_id):
    with app.app_context():
        return db.session.get(Registration, reg_id).status


def _ids_on(html):
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)]


def test_event_dashboard_counts_and_svg_chart(client, login_organizer, make_event,
                                              make_registration):
    slug = make_event()
    start = dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC)
    make_registration(slug, created_at=start, county="Los Angeles", status="approved",
                      interests=["exhibit", "delegation"])
    make_registration(slug, created_at=start + 2 * DAY, sector="automobile",
                      interests=["delegation"])
    make_registration(slug, created_at=start + 2 * DAY, county="Los Angeles",
                      interests=["matchmaking"])
    login_organizer()
    resp = client.get(f"/organizer/events/{slug}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<strong>3</strong> registrations" in html
    assert "<svg" in html and html.count('class="bar"') == 3  # 3 days, the gap day drawn as 0
    assert "2030-03-02: 0" in html and "2030-03-03: 2" in html
    assert 'style="' not in html and "<script" not in html  # CSP: no inline style or script
    counts = dict(re.findall(r"(Los Angeles|Fresno)\s*</a></th><td class=\"num\">(\d+)", html))
    assert counts == {"Los Angeles": "2", "Fresno": "1"}
    assert re.search(r"Join the California delegation\s*</a></th><td class=\"num\">2", html)
    assert re.search(r"Approved\s*</a></th><td class=\"num\">1", html)



def _day_counts(html):
    return dict(re.findall(r"(\d{4}-\d{2}-\d{2}): (\d+)", html))


def test_dashboard_counts_days_in_the_event_time_zone(client, login_organizer, make_event,
                                                      make_registration):
    """An evening registration in Los Angeles counts for that evening's day, on both sides
    of the change from daylight saving time (2030-11-03), on SQLite and PostgreSQL."""
    slug = make_event()  # America/Los_Angeles
    for at in (dt.datetime(2030, 11, 2, 6, 30, tzinfo=dt.UTC),   # Nov 1, 23:30 PDT
               dt.datetime(2030, 11, 2, 7, 30, tzinfo=dt.UTC),   # Nov 2, 00:30 PDT
               dt.datetime(2030, 11, 4, 7, 30, tzinfo=dt.UTC),   # Nov 3, 23:30 PST
               dt.datetime(2030, 11, 4, 8, 30, tzinfo=dt.UTC)):  # Nov 4, 00:30 PST
        make_registration(slug, created_at=at)
    shanghai = make_event(timezone="Asia/Shanghai")
    make_registration(shanghai, created_at=dt.datetime(2030, 3, 1, 17, tzinfo=dt.UTC))
    login_organizer()

    html = client.get(f"/organizer/events/{slug}").get_data(as_text=True)
    assert "Registrations per day (America/Los_Angeles)" in html
    assert _day_counts(html) == {"2030-11-01": "1", "2030-11-02": "1", "2030-11-03": "1",
                                 "2030-11-04": "1"}
    html = client.get(f"/organizer/events/{shanghai}").get_data(as_text=True)
    assert "Registrations per day (Asia/Shanghai)" in html
    assert _day_counts(html) == {"2030-03-02": "1"}  # 01:00 in Shanghai


def test_dashboard_days_fall_back_to_utc_for_an_unknown_zone(app, client, login_organizer,
                                                             make_event, make_registration):
    slug = make_event(timezone="Mars/Olympus_Mons")
    make_registration(slug, created_at=dt.datetime(2030, 3, 1, 23, 30, tzinfo=dt.UTC))
    login_organizer()
    resp = client.get(f"/organizer/events/{slug}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Registrations per day (UTC)" in html and _day_counts(html) == {"2030-03-01": "1"}


@pytest.mark.parametrize(("zone", "start", "end", "spans"), [
    ("America/Los_Angeles", dt.datetime(2030, 10, 1, tzinfo=dt.UTC),
     dt.datetime(2030, 12, 1, tzinfo=dt.UTC),
     [(dt.datetime(2030, 11, 3, 9, 0, tzinfo=dt.UTC), -420), (None, -480)]),
    ("America/Los_Angeles", dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
     dt.datetime(2030, 12, 31, tzinfo=dt.UTC),
     [(dt.datetime(2030, 3, 10, 10, 0, tzinfo=dt.UTC), -480),
      (dt.datetime(2030, 11, 3, 9, 0, tzinfo=dt.UTC), -420), (None, -480)]),
    ("Australia/Adelaide", dt.datetime(2030, 3, 1, tzinfo=dt.UTC),
     dt.datetime(2030, 5, 1, tzinfo=dt.UTC),  # half-hour offsets; the change on Apr 7
     [(dt.datetime(2030, 4, 6, 16, 30, tzinfo=dt.UTC), 630), (None, 570)]),
    ("Asia/Shanghai", dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
     dt.datetime(2030, 12, 31, tzinfo=dt.UTC), [(None, 480)]),
    ("America/Los_Angeles", dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC),
     dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC), [(None, -420)]),
])
def test_utc_offset_spans(zone, start, end, spans):
    from ciie_rsvp.organizer.services import utc_offset_spans

    assert utc_offset_spans(zone, start, end) == spans


def test_list_search_filter_sort_paginate(client, login_organizer, make_event, make_registration):
    slug = make_event()
    base = dt.datetime(2030, 1, 10, tzinfo=dt.UTC)
    a = make_registration(slug, company="Pacific Robotics LLC", first_name="Ann",
                          last_name="Zhou", email="ann@pacbot.example.com", created_at=base,
                          sector="intelligent_industry_it", county="San Diego")
    b = make_registration(slug, company="上海进出口贸易有限公司", first_name="晓明",
                          last_name="王", email="wang@example.cn", created_at=base + DAY,
                          interests=["matchmaking"])
    c = make_registration(slug, company="Central Valley Growers", email="cv_100%@grow.example",
                          created_at=base + 5 * DAY, status="approved")
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"

    def ids(**params):
        resp = client.get(url, query_string=params)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return _ids_on(resp.get_data(as_text=True))

    assert ids() == [c, b, a]  # newest first
    assert ids(q="robotics") == [a]  # company, case-insensitive
    assert ids(q="ann zhou") == [a]  # contact name, every word must match
    assert ids(q="WANG@EXAMPLE") == [b]  # email
    assert ids(q="进出口") == [b]
    assert ids(q="王晓明") == [b]  # a Chinese name as the list writes it (console review)
    assert ids(q="100%") == [c] and ids(q="%") == [c] and ids(q="_") == [c]  # LIKE escaped
    assert ids(status="approved") == [c]
    assert ids(sector="intelligent_industry_it") == [a]
    assert ids(county="San Diego") == [a]
    assert ids(interest="matchmaking") == [b]
    assert ids(date_from="2030-01-11", date_to="2030-01-11") == [b]
    assert ids(date_from="2030-01-11") == [c, b]
    assert ids(sort="company", direction="asc") == [c, a, b]
    assert ids(sort="name", direction="asc", per_page="25") == [c, a, b]  # Lopez, Zhou, 王
    first = ids(per_page="25", page="1")
    assert first == [c, b, a]
    assert ids(page="99") == [c, b, a]  # clamped to the last page
    # A header's first click sorts words A to Z and dates newest first; the next reverses.
    html = client.get(url).get_data(as_text=True)
    heads = dict(re.findall(r'sort=(\w+)&amp;direction=(\w+)', html))
    assert heads["company"] == heads["name"] == heads["email"] == "asc"
    assert heads["created"] == "asc"  # the list is sorted by it, newest first: now reversed
    html = client.get(url, query_string={"sort": "company", "direction": "asc"}).get_data(True)
    heads = dict(re.findall(r'sort=(\w+)&amp;direction=(\w+)', html))
    assert heads["company"] == "desc" and heads["created"] == "desc"


def test_invalid_filters_show_their_errors_beside_them_and_no_list(client, login_organizer,
                                                                   make_event,
                                                                   make_registration):
    from html.parser import HTMLParser

    slug = make_event()
    make_registration(slug, company="Pacific Robotics LLC")
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"
    resp = client.get(url, query_string={"q": "robotics", "date_from": "2030-02-30",
                                         "date_to": "2030-01-01", "status": "approved"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)

    class Fields(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inputs: dict[str, dict[str, str | None]] = {}
            self.errors: dict[str, str] = {}
            self._error: str | None = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag in ("input", "select") and a.get("name"):
                self.inputs.setdefault(a["name"], a)
            if tag == "p" and a.get("class") == "error":
                self._error = a["id"]

        def handle_data(self, data):
            if self._error:
                self.errors[self._error] = data
                self._error = None

    page = Fields()
    page.feed(html)
    # The bad day is marked on its own field, and the rest of the query is kept as typed.
    assert page.inputs["date_from"]["aria-invalid"] == "true"
    assert page.inputs["date_from"]["aria-describedby"] == "date_from-error"
    assert page.errors["date_from-error"] == "Not a valid date value."
    assert page.inputs["date_from"]["value"] == "2030-02-30"
    assert page.inputs["q"]["value"] == "robotics"
    assert "aria-invalid" not in page.inputs["q"]
    assert "The list is not shown because this filter is not valid" in html
    # No rows, and no export or bulk decision to apply to a list that is not there.
    assert "Pacific Robotics" not in html and "Apply to all" not in html
    assert "Download the" not in html
    resp = client.get(url, query_string={"date_from": "2030-02-01", "date_to": "2030-01-01",
                                         "per_page": "7"})
    assert resp.status_code == 400
    page = Fields()
    page.feed(resp.get_data(as_text=True))
    assert page.errors == {"date_to-error": "The end date is before the start date.",
                           "per_page-error": "Not a valid choice."}
    assert "these filters are not valid" in resp.get_data(as_text=True)
    page = Fields()
    page.feed(client.get(url, query_string={"page": "x"}).get_data(as_text=True))
    assert "page-error" in page.errors
    # Corrected, the list is back.
    assert "Pacific Robotics" in client.get(url, query_string={"q": "robotics"}).get_data(True)


def test_list_pagination_pages(client, login_organizer, make_event, make_registration):
    slug = make_event()
    made = [make_registration(slug, created_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + i * DAY)
            for i in range(30)]
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"
    p1 = client.get(url, query_string={"per_page": 25}).get_data(as_text=True)
    p2 = client.get(url, query_string={"per_page": 25, "page": 2}).get_data(as_text=True)
    assert _ids_on(p1) == made[::-1][:25] and _ids_on(p2) == made[::-1][25:]
    assert "page 1 of 2" in p1 and 'rel="next"' in p1 and 'rel="prev"' in p2


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"date_from": "yesterday"},
                                    {"page": "-3"}, {"per_page": "100000"}, {"sort": "password"},
                                    {"date_from": "2030-02-02", "date_to": "2030-01-01"},
                                    {"q": "x" * 300}])
def test_bad_list_parameters_are_400(client, login_organizer, make_event, params):
    slug = make_event()
    login_organizer()
    resp = client.get(f"/organizer/events/{slug}/registrations", query_string=params)
    assert resp.status_code == 400
    assert "not valid" in resp.get_data(as_text=True)


def test_list_page_is_a_fixed_number_of_queries(app, client, login_organizer, make_event,
                                                make_registration):
    slug = make_event()
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"

    def queries():
        statements = []
        with app.app_context():
            engine = db.engine

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(url, query_string={"per_page": 100}).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    make_registration(slug)
    few = queries()
    for _ in range(20):
        make_registration(slug)
    assert queries() == few <= 5


def test_detail_single_decision_and_audit(app, client, login_organizer, make_event,
                                          make_registration):
    slug = make_event()
    reg_id = make_registration(slug, company="Pacific Robotics LLC")
    login_organizer()
    page = client.get(f"/organizer/registrations/{reg_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pacific Robotics LLC" in html and "Olivia Organizer" in html
    resp = client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"csrf_token": csrf_from(html), "status": "waitlisted"})
    assert resp.status_code == 303 and _status(app, reg_id) == "waitlisted"
    html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    client.post(f"/organizer/registrations/{reg_id}/status",
                data={"csrf_token": csrf_from(html), "status": "approved"})
    html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert re.search(r"Olivia Organizer</td>\s*<td>status changed</td>\s*<td>submitted</td>"
                     r"<td>waitlisted</td>", html)
    assert re.search(r"<td>waitlisted</td><td>approved</td>", html)
    with app.app_context():
        rows = db.session.execute(select(AuditEntry.from_status, AuditEntry.to_status,
                                         AuditEntry.organizer_id).where(
            AuditEntry.registration_id == reg_id).order_by(AuditEntry.id)).all()
    assert [(f, t) for f, t, _ in rows] == [("submitted", "waitlisted"), ("waitlisted", "approved")]
    assert all(o is not None for _, _, o in rows)


def test_decisions_need_post_csrf_and_a_known_status(app, client, login_organizer, make_event,
                                                     make_registration):
    slug = make_event()
    reg_id = make_registration(slug)
    login_organizer()
    assert client.get(f"/organizer/registrations/{reg_id}/status").status_code == 405
    assert client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"status": "approved"}).status_code == 400
    token = csrf_from(client.get(f"/organizer/registrations/{reg_id}").get_data(True))
    assert client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"csrf_token": token, "status": "withdrawn"}).status_code == 400
    assert client.get("/organizer/registrations/999999").status_code == 404
    assert _status(app, reg_id) == "submitted"


def test_withdrawn_registration_cannot_be_approved(app, client, login_organizer, make_event,
                                                   make_registration):
    slug = make_event()
    reg_id = make_registration(slug, status="withdrawn")
    login_organizer()
    token = csrf_from(client.get(f"/organizer/registrations/{reg_id}").get_data(True))
    resp = client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"csrf_token": token, "status": "approved"})
    assert resp.status_code == 409
    assert "withdrawn by the registrant" in resp.get_data(as_text=True)
    assert _status(app, reg_id) == "withdrawn"


def test_bulk_decision_on_selected_and_on_filtered_set(app, client, login_organizer, make_event,
                                                       make_registration):
    slug = make_event()
    la = [make_registration(slug, county="Los Angeles") for _ in range(3)]
    fresno = [make_registration(slug, county="Fresno") for _ in range(2)]
    gone = make_registration(slug, county="Los Angeles", status="withdrawn")
    other_event = make_event()
    foreign = make_registration(other_event, county="Los Angeles")
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"
    html = client.get(url).get_data(as_text=True)
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(html), "decision": "declined",
                                            "scope": "selected", "ids": [fresno[0], foreign]})
    assert resp.status_code == 303
    assert _status(app, fresno[0]) == "declined" and _status(app, foreign) == "submitted"

    html = client.get(url, query_string={"county": "Los Angeles"}).get_data(as_text=True)
    assert sorted(_ids_on(html)) == sorted([*la, gone])
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(html), "decision": "approved",
                                            "scope": "filtered", "county": "Los Angeles"})
    assert resp.status_code == 303 and "county=Los+Angeles" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "3 registrations approved; 1 left unchanged." in page
    assert [_status(app, i) for i in la] == ["approved"] * 3
    assert _status(app, gone) == "withdrawn" and _status(app, fresno[1]) == "submitted"
    assert _status(app, foreign) == "submitted"
    with app.app_context():
        audited = db.session.scalars(select(AuditEntry.registration_id).where(
            AuditEntry.to_status == "approved", AuditEntry.detail == "bulk")).all()
    assert sorted(audited) == sorted(la)
    # nothing ticked, or nonsense: the list again with a clear message, nothing changed
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(html), "decision": "approved",
                                            "scope": "selected"})
    assert resp.status_code == 422
    assert "Tick at least one registration" in resp.get_data(as_text=True)
    for bad in ({"ids": "abc"}, {"ids": str(2**31)}, {"ids": str(la[0]), "decision": "bogus"},
                {"ids": str(la[0]), "scope": "bogus"}):
        data = {"csrf_token": csrf_from(html), "decision": "declined", "scope": "selected", **bad}
        assert client.post(f"{url}/bulk", data=data).status_code == 422, bad
    assert [_status(app, i) for i in la] == ["approved"] * 3


def test_approving_past_the_capacity_warns_and_the_dashboard_counts_places(
        app, client, login_organizer, make_event, make_registration):
    """Capacity is people: the delegates of approved registrations count against it."""
    slug = make_event(capacity=5)
    three, two, four = (make_registration(slug, delegates=n) for n in (3, 2, 4))
    make_registration(slug, delegates=7, status="waitlisted")
    login_organizer()
    html = client.get(f"/organizer/registrations/{three}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{three}/status",
                       data={"csrf_token": csrf_from(html), "status": "approved"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Registration approved." in page and "flash-warning" not in page
    url = f"/organizer/events/{slug}/registrations"
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(html), "decision": "approved",
                                            "scope": "selected", "ids": [two]})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "flash-warning" not in page  # 5 of 5: full, not over
    dashboard = client.get(f"/organizer/events/{slug}").get_data(as_text=True)
    assert re.search(r"Approved: <strong>2</strong>, bringing <strong>5</strong>\s*delegates "
                     r"of <strong>5</strong> places\.", dashboard)
    assert "over-capacity" not in dashboard
    # past it: approved all the same (the organizers decide), with a warning
    resp = client.post(f"{url}/bulk", data={"csrf_token": csrf_from(html), "decision": "approved",
                                            "scope": "selected", "ids": [four]})
    assert resp.status_code == 303 and _status(app, four) == "approved"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert ("Approved registrations now bring 9 delegates, 4 more than this event&#39;s "
            "capacity of 5.") in page
    dashboard = client.get(f"/organizer/events/{slug}").get_data(as_text=True)
    assert re.search(r'id="over-capacity">4 delegates over capacity', dashboard)
    # waitlisting one brings it back within the capacity; the warning goes
    html = client.get(f"/organizer/registrations/{four}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{four}/status",
                       data={"csrf_token": csrf_from(html), "status": "waitlisted"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "flash-warning" not in page
    assert "over-capacity" not in client.get(f"/organizer/events/{slug}").get_data(True)


def test_without_a_capacity_approving_never_warns(client, login_organizer, make_event,
                                                  make_registration):
    slug = make_event()
    reg_id = make_registration(slug, delegates=20)
    login_organizer()
    html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{reg_id}/status",
                       data={"csrf_token": csrf_from(html), "status": "approved"})
    assert "flash-warning" not in client.get(resp.headers["Location"]).get_data(True)
    dashboard = client.get(f"/organizer/events/{slug}").get_data(as_text=True)
    assert re.search(r"Approved: <strong>1</strong>, bringing <strong>20</strong>\s*delegates\.",
                     dashboard)


def test_notes(app, client, login_organizer, make_event, make_registration):
    slug = make_event()
    reg_id = make_registration(slug)
    login_organizer()
    html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{reg_id}/notes",
                       data={"csrf_token": csrf_from(html), "body": "Called her; <b>keen</b>.\nOK"})
    assert resp.status_code == 303
    html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert "Called her; &lt;b&gt;keen&lt;/b&gt;.\nOK" in html
    resp = client.post(f"/organizer/registrations/{reg_id}/notes",
                       data={"csrf_token": csrf_from(html), "body": "   "})
    assert resp.status_code == 422 and "The note is empty." in resp.get_data(as_text=True)


def test_email_and_company_keys():
    assert canonical_email("Maria.Lopez+ciie@GMail.com") == "marialopez@gmail.com"
    assert canonical_email("m.a.r.i.a.lopez@googlemail.com") == "marialopez@gmail.com"
    assert canonical_email("maria.lopez+x@almonds.com") == "maria.lopez@almonds.com"
    assert company_key("Golden State Almond Growers, Inc.") == company_key(
        "golden-state almond growers LLC")
    assert company_key("上海进出口贸易有限公司") == company_key("上海进出口贸易")
    assert company_key("The Acme Co.") == company_key("ACME")


@pytest.mark.parametrize(("host", "domain"), [
    ("www.almonds.com", "almonds.com"),
    ("shop.example.co.uk", "example.co.uk"),
    ("www.almonds.myshopify.com", "almonds.myshopify.com"),
    ("pacificalmond.example.com", "pacificalmond.example.com"),
    ("Bay-Robotics.GitHub.io.", "bay-robotics.github.io"),
    ("myshopify.com", "myshopify.com"),
])
def test_registrable_domain_keeps_shared_hosts_customers_apart(host, domain):
    assert registrable_domain(host) == domain


def test_duplicate_warnings_on_detail_page(client, login_organizer, make_event,
                                           make_registration):
    slug = make_event()
    me = make_registration(slug, company="Golden State Almond Growers, Inc.",
                           email="maria.lopez@gmail.com", website="")
    plus = make_registration(slug, company="Other Co", email="Maria.Lopez+ciie@gmail.com")
    spelled = make_registration(slug, company="Golden-State Almond Growers LLC",
                                email="sales@gsag.com")
    domain_me = make_registration(slug, company="GSAG", email="a@gsag.com",
                                  website="https://www.gsag.com")
    domain_other = make_registration(slug, company="Unrelated Widgets",
                                     email="b@widgets.org",
                                     website="https://shop.gsag.com/about")
    unrelated = make_registration(slug, company="Sierra Solar", email="x@sierrasolar.com")
    login_organizer()
    html = client.get(f"/organizer/registrations/{me}").get_data(as_text=True)
    assert "Possible duplicates" in html
    linked = {int(i) for i in re.findall(r'/organizer/registrations/(\d+)"', html)}
    assert plus in linked and spelled in linked and unrelated not in linked
    assert "reaches the same mailbox" in html and "looks like the same company" in html
    html = client.get(f"/organizer/registrations/{domain_me}").get_data(as_text=True)
    linked = {int(i) for i in re.findall(r'/organizer/registrations/(\d+)"', html)}
    assert domain_other in linked and spelled in linked  # gsag.com web domain
    assert "same company web domain (gsag.com)" in html
    html = client.get(f"/organizer/registrations/{unrelated}").get_data(as_text=True)
    assert "Possible duplicates" not in html


def test_many_possible_duplicates_show_the_likeliest_ten(client, login_organizer, make_event,
                                                        make_registration):
    """A walkthrough's 90 look-alike companies pushed the decision buttons 4,600 px down."""
    slug = make_event()
    me = make_registration(slug, company="Pacific Coast Foods", email="maria.lopez@gmail.com")
    for i in range(14):
        make_registration(slug, company=f"Pacific Coast Foods {i}",
                          email=f"buyer{i}@example{i}.com")
    same_mailbox = make_registration(slug, company="Zeta Holdings",
                                     email="Maria.Lopez+ciie@gmail.com")  # made last
    login_organizer()
    html = client.get(f"/organizer/registrations/{me}").get_data(as_text=True)
    section = html[html.index("Possible duplicates"):html.index("</section>")]
    assert "Possible duplicates (15)" in section
    assert section.count("<li>") == 11  # ten, and the line saying how many more
    assert "… and 5 more, less likely" in section
    assert "q=Pacific+Coast+Foods" in section
    first = re.search(r'/organizer/registrations/(\d+)"', section).group(1)
    assert int(first) == same_mailbox  # the same mailbox before look-alike names


def _form_data(html, **overrides):
    data = valid_registration(**overrides)
    data.pop("consent", None)
    data["csrf_token"] = csrf_from(html)
    return data


def test_add_on_behalf_uses_public_validation_and_refuses_duplicates(
        app, client, login_organizer, make_event, mailbox):
    slug = make_event(registration_closes_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    login_organizer()
    url = f"/organizer/events/{slug}/registrations/new"
    html = client.get(url).get_data(as_text=True)
    bad = client.post(url, data=_form_data(html, phone="12", consent_given=None))
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "phone number" in text and "agreed to the privacy notice" in text
    resp = client.post(url, data={**_form_data(html, first_name="晓明", last_name="王"),
                                  "consent": "y", "send_mail": "y"})
    assert resp.status_code == 303  # even though public registration is closed
    with app.app_context():
        reg = db.session.scalar(select(Registration))
        assert (reg.source, reg.first_name, reg.phone) == ("organizer", "晓明", "+12135550142")
        assert db.session.scalar(select(AuditEntry.organizer_id)) is not None
    [msg] = mailbox()
    assert "maria.lopez@almonds.example.com" in msg["To"]
    again = client.post(url, data={**_form_data(html, email="MARIA.LOPEZ@almonds.example.com"),
                                   "consent": "y"})
    assert again.status_code == 409 and "already registered" in again.get_data(as_text=True)


def test_correct_on_behalf(app, client, login_organizer, make_event, make_registration):
    slug = make_event()
    reg_id = make_registration(slug, email="typo@exmaple.com")
    taken = make_registration(slug, email="taken@example.com")
    login_organizer()
    url = f"/organizer/registrations/{reg_id}/edit"
    html = client.get(url).get_data(as_text=True)
    assert 'value="typo@exmaple.com"' in html
    resp = client.post(url, data=_form_data(html, email="taken@example.com"))
    assert resp.status_code == 422 and "already registered" in resp.get_data(as_text=True)
    resp = client.post(url, data=_form_data(html, email="fixed@example.com",
                                            company="Golden State Almonds"))
    assert resp.status_code == 303
    with app.app_context():
        reg = db.session.get(Registration, reg_id)
        assert (reg.email, reg.email_normalized, reg.company) == (
            "fixed@example.com", "fixed@example.com", "Golden State Almonds")
        details = db.session.scalars(select(AuditEntry.detail).where(
            AuditEntry.registration_id == reg_id)).all()
    assert "changed: email" in details and any("company" in d for d in details)
    assert taken
    # a change of letter case alone is stored and audited as a change too
    html = client.get(url).get_data(as_text=True)
    resp = client.post(url, data=_form_data(html, email="Fixed@example.com",
                                            company="Golden State Almonds"))
    assert resp.status_code == 303
    with app.app_context():
        reg = db.session.get(Registration, reg_id)
        assert (reg.email, reg.email_normalized) == ("Fixed@example.com", "fixed@example.com")
        details = db.session.scalars(select(AuditEntry.detail).where(
            AuditEntry.registration_id == reg_id)).all()
    assert details.count("changed: email") == 2


def test_bad_bulk_input_and_empty_dashboard_are_not_500s(app, client, login_organizer,
                                                         make_event, make_registration):
    slug = make_event()
    login_organizer()
    html = client.get(f"/organizer/events/{slug}").get_data(as_text=True)
    assert "No registrations yet." in html and "<strong>0</strong>" in html
    reg_id = make_registration(slug)
    url = f"/organizer/events/{slug}/registrations"
    token = csrf_from(client.get(url).get_data(as_text=True))
    for data in ({"decision": "approved", "scope": "selected", "ids": ["abc"]},
                 {"decision": "promoted", "scope": "filtered"},
                 {"decision": "approved", "scope": "everything"},
                 {"decision": "approved", "scope": "filtered", "date_from": "soon"}):
        resp = client.post(f"{url}/bulk", data={"csrf_token": token, **data})
        assert resp.status_code in (400, 422), (data, resp.status_code)
    assert _status(app, reg_id) == "submitted"
    assert client.get("/organizer/events/no-such-event").status_code == 404
    assert client.get("/organizer/events/no-such-event/registrations").status_code == 404


def test_more_delegates_on_an_approved_registration_warn_like_an_approval(
        app, client, login_organizer, make_event, make_registration):
    """Correcting 4 delegates to 20 passed the capacity silently (console review)."""
    slug = make_event(capacity=10)
    reg = make_registration(slug, delegates=4, status="approved")
    login_organizer()
    url = f"/organizer/registrations/{reg}/edit"
    resp = client.post(url, data=_form_data(client.get(url).get_data(as_text=True),
                                            delegates="20"))
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Saved: [^<]*delegates", page)
    assert "flash-warning" in page and "10 more than this event&#39;s capacity of 10" in page


def test_a_bulk_decision_returns_to_the_same_page_of_the_list(client, login_organizer,
                                                               make_event, make_registration):
    """It went back to page 1 at 50 a page (console review)."""
    slug = make_event()
    ids = [make_registration(slug, email=f"r{i}@example.com") for i in range(30)]
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"
    html = client.get(url, query_string={"per_page": "25", "page": "2"}).get_data(as_text=True)
    assert 'name="page" value="2"' in html and 'name="per_page" value="25"' in html
    resp = client.post(f"{url}/bulk", data={
        "csrf_token": csrf_from(html), "decision": "waitlisted", "scope": "selected",
        "ids": [ids[0]], "page": "2", "per_page": "25", "sort": "created",
        "direction": "desc"})
    assert resp.status_code == 303
    assert "page=2" in resp.headers["Location"] and "per_page=25" in resp.headers["Location"]


def test_the_list_and_its_export_filter_by_invitation_answer(app, client, login_organizer,
                                                             make_event, make_registration,
                                                             tmp_path):
    """Who is coming: the accepted invitees, listed and exported, without sorting a full
    export by hand (a scale walkthrough found no other way)."""
    import csv
    import io

    from ciie_rsvp.invitations import services as invitations

    slug = make_event()
    with app.app_context():
        from ciie_rsvp.models import Event, Invitation

        invitations.seed_templates(db.session.scalar(select(Event).where(Event.slug == slug)))
        db.session.commit()
    ids = {name: make_registration(slug, company=f"{name} Co", email=f"{name}@example.com",
                                   status="approved")
           for name in ("yes", "no", "silent", "later")}
    assert app.test_cli_runner().invoke(
        args=["invitations", "send", "--event", slug]).exit_code == 0
    later = make_registration(slug, company="Late Co", email="late@example.com",
                              status="approved")
    with app.app_context():
        for name, answer in (("yes", "accepted"), ("no", "declined")):
            inv = db.session.scalar(select(Invitation).where(
                Invitation.registration_id == ids[name]))
            inv.rsvp = answer
        db.session.commit()
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"

    def listed(**params) -> set[int]:
        resp = client.get(url, query_string=params)
        assert resp.status_code == 200
        return set(_ids_on(resp.get_data(as_text=True)))

    assert listed(rsvp="accepted") == {ids["yes"]}
    assert listed(rsvp="declined") == {ids["no"]}
    assert listed(rsvp="pending") == {ids["silent"], ids["later"]}
    assert listed(rsvp="not_invited") == {later}
    assert listed() == {*ids.values(), later}
    assert client.get(url, query_string={"rsvp": "maybe"}).status_code == 400
    html = client.get(url, query_string={"rsvp": "accepted"}).get_data(as_text=True)
    assert '<input type="hidden" name="rsvp" value="accepted">' in html  # export, bulk
    resp = client.post(f"/organizer/events/{slug}/export", data={
        "csrf_token": csrf_from(html), "format": "csv", "rsvp": "accepted"})
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert [row["Company"] for row in rows] == ["yes Co"]
    assert "registrations-accepted-20" in resp.headers["Content-Disposition"]
    # and from the command line
    out = tmp_path / "coming.csv"
    done = app.test_cli_runner().invoke(args=[
        "export", "registrations", "--event", slug, "--format", "csv", "--rsvp", "accepted",
        "-o", str(out), "--quiet"])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert [row["Company"] for row in rows] == ["yes Co"]


def test_a_registration_leads_back_to_the_list_as_it_was_left(client, login_organizer,
                                                               make_event, make_registration):
    """The menu's Registrations link starts afresh; the walkthrough lost its filters and page
    after every registration it opened."""
    slug = make_event()
    reg = make_registration(slug, company="Pacific Robotics LLC", county="San Diego")
    other_event = make_event()
    other = make_registration(other_event)
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"

    def back_link(reg_id: int) -> str:
        html = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
        return re.search(r'<a href="([^"]+)" id="back-to-list">', html).group(1)

    assert back_link(reg) == url  # never listed: the plain list
    client.get(url, query_string={"county": "San Diego", "q": "robotics", "sort": "company",
                                  "direction": "asc", "per_page": "25"})
    link = back_link(reg).replace("&amp;", "&")
    assert link.startswith(url + "?")
    assert {"county=San+Diego", "q=robotics", "sort=company", "direction=asc",
            "per_page=25"} <= set(link.split("?", 1)[1].split("&"))
    # still there after a decision on the registration's page
    html = client.get(f"/organizer/registrations/{reg}").get_data(as_text=True)
    assert client.post(f"/organizer/registrations/{reg}/status", data={
        "csrf_token": csrf_from(html), "status": "approved"}).status_code == 303
    assert "county=San+Diego" in back_link(reg)
    # another event's registration goes back to its own list, unfiltered
    assert back_link(other) == f"/organizer/events/{other_event}/registrations"
    # an invalid filter is not remembered over the last good one
    client.get(url, query_string={"date_from": "2030-02-30"})
    assert "county=San+Diego" in back_link(reg)
