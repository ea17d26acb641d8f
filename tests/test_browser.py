"""Key pages in a real headless Chromium: register (English, Chinese), fix errors, withdraw,
organizer sign-in; keyboard-only use and a 320 px wide screen. Screenshots are saved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import shot
from tests.conftest import ORGANIZER_PASSWORD, read_mail, text_body
from tests.live import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(app, app_config, tmp_path):
    """The real service (gunicorn) on the test database."""
    with live_server(app_config["SQLALCHEMY_DATABASE_URI"], tmp_path / "srv",
                     extra_env={"CIIE_RSVP_BASE_URL": "http://127.0.0.1",
                                # mail before the response, so the test can open it at once
                                # (serve's default hands it to a delivery thread)
                                "CIIE_RSVP_MAIL_DELIVERY": "inline"}) as base:
        yield base, tmp_path / "srv" / "mail"


def fill_registration(page, *, first="Maria", last="Lopez", email="maria@almonds.example.com",
                      phone="(213) 555-0142", company="Golden State Almond Growers, Inc."):
    page.locator("#company").fill(company)
    page.locator("#website").fill("https://almonds.example.com")
    page.locator("#sector").select_option("food_agriculture")
    page.locator("#company_size").select_option("50-249")
    page.locator("#county").select_option("Fresno")
    page.locator("#first_name").fill(first)
    page.locator("#last_name").fill(last)
    page.locator("#job_title").fill("Export Manager")
    page.locator("#phone").fill(phone)
    page.locator("input[name=interests][value=exhibit]").check()
    page.locator("input[name=interests][value=delegation]").check()
    page.locator("#delegates").fill("3")
    page.locator("#email").fill(email)
    page.locator("#consent").check()


def browser_sign_in(page, base: str, email: str) -> None:
    """Sign in through the login form like a person and land on the console."""
    page.goto(base + "/organizer/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(ORGANIZER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/organizer/$"))


def manage_link(mail_dir: Path) -> str:
    body = text_body(read_mail(mail_dir)[-1])
    return re.search(r"/r/[A-Za-z0-9_-]{40,}", body).group(0)


def test_register_fix_errors_then_withdraw_in_english(server, page, make_event):
    base, mail = server
    slug = make_event()
    page.goto(base + "/")
    shot(page, "01-events-en")
    page.get_by_role("link", name="Register interest").click()
    fill_registration(page, phone="12345")
    page.get_by_role("button", name="Submit registration").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert "phone" in summary.inner_text().lower()
    # the summary has the focus (read out first), and the title says there was an error
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.title().startswith("Error: Register")
    assert page.get_by_role("group", name="Preferred language").get_by_role(
        "radio").count() == 2
    assert page.locator("#phone").get_attribute("aria-invalid") == "true"
    assert "phone-error" in page.locator("#phone").get_attribute("aria-describedby")
    assert page.locator("#company").input_value() == "Golden State Almond Growers, Inc."
    shot(page, "02-register-errors-en")
    page.locator("#phone").fill("+1 213 555 0142")
    page.locator("#consent").check()
    page.get_by_role("button", name="Submit registration").click()
    assert page.get_by_role("heading", name="Thank you").is_visible()
    shot(page, "03-thank-you-en")

    page.goto(base + manage_link(mail))
    assert page.locator("#company").input_value() == "Golden State Almond Growers, Inc."
    shot(page, "04-manage-en")
    page.get_by_role("button", name="Withdraw my registration").click()
    assert page.get_by_text("Your registration is withdrawn").is_visible()
    assert page.get_by_role("button", name="Restore my registration").is_visible()
    shot(page, "05-withdrawn-en")
    assert slug


def test_register_in_chinese(server, page, make_event):
    base, mail = server
    make_event()
    page.goto(base + "/")
    page.get_by_role("button", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.get_by_role("link", name="报名登记").click()
    shot(page, "06-register-zh")
    fill_registration(page, first="晓明", last="王", email="wang@example.cn")
    page.locator("input[name=language][value=zh-Hans]").check()
    page.get_by_role("button", name="提交报名").click()
    assert page.get_by_role("heading", name="感谢您的报名").is_visible()
    shot(page, "07-thank-you-zh")
    msg = read_mail(mail)[-1]
    assert msg["Subject"].startswith("报名已收到")
    page.goto(base + manage_link(mail))
    assert page.get_by_role("button", name="撤回我的报名").is_visible()
    shot(page, "08-manage-zh")


def test_keyboard_only_registration_and_visible_focus(server, page, make_event):
    base, mail = server
    slug = make_event()
    page.goto(f"{base}/events/{slug}/register")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.locator("#company").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.type("Keyboard Only Corp")
    page.keyboard.press("Tab")
    page.keyboard.type("https://kb.example.com")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # first sector
    for field, value in (("#company_size", "1-9"), ("#county", "Alameda")):
        page.locator(field).focus()
        page.locator(field).select_option(value)
    for field, value in (("#first_name", "Kim"), ("#last_name", "Key"),
                         ("#phone", "+1 415 555 0100"), ("#email", "kim@kb.example.com")):
        page.locator(field).focus()
        page.keyboard.type(value)
    page.locator("input[name=interests][value=matchmaking]").focus()
    page.keyboard.press("Space")
    page.locator("#consent").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Submit registration").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/registered$"))
    assert len(read_mail(mail)) == 1


def test_every_form_control_has_a_label(server, page, make_event):
    base, _ = server
    slug = make_event()
    page.goto(f"{base}/events/{slug}/register")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')]
        .filter(el => !el.closest('.hp'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name)""")
    assert unlabeled == []


def test_form_fits_a_320px_screen(server, chromium, make_event):
    base, _ = server
    slug = make_event()
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    narrow = context.new_page()
    narrow.goto(f"{base}/events/{slug}/register")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 320
    shot(narrow, "09-register-320px")
    context.close()


def test_manage_page_with_a_long_address_fits_a_320px_screen(server, chromium, make_event,
                                                           register, mailbox):
    base, _ = server
    slug = make_event()
    assert register(slug, email="procurement.department.export-sales"
                                "@golden-state-almond-growers.example.com").status_code == 303
    token = re.search(r"/r/([A-Za-z0-9_-]{40,})", text_body(mailbox()[-1])).group(1)
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    narrow = context.new_page()
    narrow.goto(f"{base}/r/{token}")
    assert narrow.get_by_role("heading", name="Your registration").is_visible()
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 320
    shot(narrow, "10-manage-320px")
    context.close()


def test_organizer_signs_in(server, page, make_organizer):
    base, _ = server
    email = make_organizer("admin")
    page.goto(base + "/organizer/")
    assert "/organizer/login" in page.url
    page.locator("#email").fill(email)
    page.locator("#password").fill(ORGANIZER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/organizer/$"))
    assert page.get_by_role("heading", name="Organizer console").is_visible()
    shot(page, "10-organizer-console")


def test_organizer_console_pages_render_without_csp_violations(server, page, make_organizer,
                                                                make_event, make_registration):
    """Dashboard chart, list, detail with duplicate warning: real browser, strict CSP."""
    import datetime as dt

    base, _ = server
    slug = make_event()
    start = dt.datetime(2030, 3, 1, 15, tzinfo=dt.UTC)
    for i in range(12):
        make_registration(slug, created_at=start + dt.timedelta(days=i % 6, hours=i // 2),
                          company=f"Pacific Trading {i} LLC",
                          county=["Fresno", "Los Angeles"][i % 2],
                          email=f"buyer{i}@pacific{i}.example.com")
    dup = make_registration(slug, company="上海进出口贸易有限公司", first_name="晓明",
                            last_name="王", email="wang.xm+ciie@gmail.com", created_at=start)
    make_registration(slug, company="上海进出口贸易 有限公司", email="wangxm@gmail.com",
                      created_at=start)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"{msg.text} {msg.location.get('url')}")
            if msg.type == "error" and "favicon" not in (msg.location.get("url") or "") else None)
    browser_sign_in(page, base, make_organizer("admin"))
    page.goto(f"{base}/organizer/events/{slug}")
    assert page.locator("svg.chart rect.bar").count() == 6
    shot(page, "11-organizer-dashboard")
    page.goto(f"{base}/organizer/events/{slug}/registrations?county=Fresno")
    assert page.locator("table.registrations tbody tr").count() == 8  # 6 + the 2 below
    shot(page, "12-organizer-list")
    page.goto(f"{base}/organizer/registrations/{dup}")
    assert page.locator(".duplicates").is_visible()
    page.get_by_role("button", name="Approve").click()
    assert page.locator(".status-approved").first.is_visible()
    shot(page, "13-organizer-detail")
    page.goto(f"{base}/organizer/events/{slug}/invitations")
    page.get_by_role("button", name="Start from the standard welcome invitation").click()
    page.get_by_role("link", name="edit en").click()
    frame = page.locator("iframe.preview-frame")
    frame.wait_for()
    # sized by the style sheet: an inline style was refused by the CSP (a 300x150 sliver)
    assert frame.bounding_box()["height"] > 400
    shot(page, "14-template-editor")
    page.goto(f"{base}/organizer/events/{slug}/settings")
    assert page.get_by_role("heading", name="History").is_visible()
    assert problems == [], problems  # e.g. "Refused to apply inline style ..."


def test_organizer_approves_exports_and_invites_then_registrant_accepts(
        server, page, make_event, make_registration, make_organizer, tmp_path):
    """The campaign in a real browser: approve one, bulk-approve the rest, download the CSV,
    send the welcome invitation, and the invitee accepts through the emailed link."""
    import csv
    import io

    base, mail = server
    slug = make_event()
    first = make_registration(slug, first_name="Maria", email="maria@almonds.example.com")
    make_registration(slug, first_name="晓明", last_name="王", company="上海进出口贸易有限公司",
                      email="wang@example.cn", language="zh-Hans")
    make_registration(slug, first_name="Ana", company="=HYPERLINK(\"x\")",
                      email="ana@example.com")

    browser_sign_in(page, base, make_organizer("admin"))

    page.goto(f"{base}/organizer/registrations/{first}")
    page.get_by_role("button", name="Approve").click()
    assert page.get_by_text("Registration approved").is_visible()
    page.goto(f"{base}/organizer/events/{slug}/registrations?status=submitted")
    page.locator("select[name=decision]").select_option("approved")
    # a decision for every match asks first, naming it: dismissed, nothing changes
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name=re.compile(r"Apply to all 2 matching")).click()
    assert asked == ["Approve all 2 matching registrations, not only the ticked ones?"]
    assert page.locator("table.registrations tbody tr").count() == 2
    # one box ticks the whole page
    page.locator("#select-all").check()
    assert page.locator("input[name=ids]:checked").count() == 2
    page.locator("#select-all").uncheck()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile(r"Apply to all 2 matching")).click()
    page.get_by_text(re.compile(r"2 registrations approved")).wait_for()
    page.goto(f"{base}/organizer/events/{slug}/registrations?status=approved")
    assert page.locator("table.registrations tbody tr").count() == 3
    shot(page, "13-organizer-approved")

    page.locator("select[name=format]").select_option("csv")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download the 3 matching")).click()
    path = tmp_path / "attendees.csv"
    download.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel shows the Chinese names
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3
    assert any("上海进出口贸易有限公司" in row.values() for row in rows)
    assert not any(v.startswith("=") for row in rows for v in row.values())

    page.goto(f"{base}/organizer/events/{slug}/invitations")
    page.get_by_role("button", name="Start from the standard welcome invitation").click()
    page.goto(f"{base}/organizer/events/{slug}/invitations/preflight?template=welcome"
              "&status=approved")
    shot(page, "14-invitation-preflight")
    page.get_by_role("button", name="Send 3 invitations").click()

    invitation = next(m for m in read_mail(mail) if "maria@" in m["To"])
    link = re.search(r"/rsvp/[A-Za-z0-9_-]{40,}", text_body(invitation)).group(0)
    page.context.clear_cookies()  # the invitee is someone else
    page.goto(base + link)
    shot(page, "15-rsvp")
    page.get_by_role("button", name="Accept").click()
    assert "/thanks" in page.url
    shot(page, "16-rsvp-thanks")

    browser_sign_in(page, base, make_organizer("staff"))
    page.goto(f"{base}/organizer/events/{slug}/invitations")
    assert page.locator("#count-accepted").inner_text().strip() == "1"
    shot(page, "17-rsvp-dashboard")
    # A reminder to everyone asks first, naming the round and how many it reaches.
    asked.clear()
    # ticking rows narrows the button to them
    box = page.locator("input[name=invitation_id]").first
    box.check()
    assert page.locator("#remind").inner_text() == "Remind the 1 ticked (round 2)"
    box.uncheck()
    assert page.locator("#remind").inner_text() == "Remind non-responders (round 2: 2)"
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Remind non-responders (round 2: 2)").click()
    assert asked == ["Send reminder round 2 to the 2 invitees who have not answered?"]
    def reminders() -> list:
        return [m for m in read_mail(mail) if m["Subject"].startswith(("Reminder:", "【提醒】"))]

    assert not reminders()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remind non-responders (round 2: 2)").click()
    page.get_by_text(re.compile(r"2 reminder\(s\) queued \(round 2\)")).wait_for()
    assert len(reminders()) == 2
    assert page.locator("#latest-reminder").is_visible()


def test_admin_creates_an_event_then_saves_it_unchanged(server, page, app, make_organizer):
    """The settings form in Chromium: datetime-local inputs on the event's clock, the time
    zone list, and a save of what the page shows changing nothing."""
    import datetime as dt

    from sqlalchemy import select

    from ciie_rsvp.extensions import db
    from ciie_rsvp.models import Event

    def stored() -> dict:
        with app.app_context():
            return db.session.scalar(select(Event).where(
                Event.slug == "meet-in-shanghai-2027")).column_values()

    base, _ = server
    browser_sign_in(page, base, make_organizer("admin"))
    page.get_by_role("link", name="New event").click()
    page.locator("#slug").fill("meet-in-shanghai-2027")
    page.locator("#name_en").fill("Meet in Shanghai, Share the Future 2027")
    page.locator("#name_zh").fill("相约上海，共享未来 2027")
    page.locator("#summary_en").fill("A preview of the 10th CIIE.\nIn downtown Los Angeles.")
    page.locator("#timezone").select_option("America/Los_Angeles")
    page.locator("#start_date").fill("2027-10-14")
    page.locator("#end_date").fill("2027-10-14")
    page.locator("#start_time").fill("09:00")
    page.locator("#end_time").fill("17:00")
    page.locator("#registration_opens_at").fill("2027-03-01T09:00")
    page.locator("#rsvp_deadline").fill("2027-10-07T17:00")
    page.locator("#mail_reply_to").fill("Events Team <events@wtcla.example.org>")
    page.locator("#is_published").check()
    shot(page, "16-new-event")
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(re.compile(r"/organizer/events/meet-in-shanghai-2027/settings$"))
    assert page.locator(".flash, .flashes").first.inner_text().startswith("Created")
    first = stored()
    assert first["registration_opens_at"] == dt.datetime(2027, 3, 1, 17, tzinfo=dt.UTC)
    assert first["rsvp_deadline"] == dt.datetime(2027, 10, 8, 0, tzinfo=dt.UTC)
    assert first["summary_en"] == "A preview of the 10th CIIE.\nIn downtown Los Angeles."
    assert page.locator("#registration_opens_at").input_value() == "2027-03-01T09:00"

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/settings$"))
    assert "Nothing was changed." in page.content()
    assert stored() == first

    page.locator("#rsvp_deadline").fill("2027-10-10T12:00")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.content()
    assert stored()["rsvp_deadline"] == dt.datetime(2027, 10, 10, 19, tzinfo=dt.UTC)
    shot(page, "17-event-settings")
    page.goto(base + "/")
    assert page.get_by_text("Meet in Shanghai, Share the Future 2027").is_visible()


def test_console_pages_fit_a_320px_screen_and_mark_the_sorted_column(
        server, chromium, make_organizer, make_event, make_registration):
    """A console review measured the registration page at 605 px and the dashboard at 336 px
    on a 320 px screen, and found aria-sort on the link instead of the column header."""
    base, _ = server
    slug = make_event()
    reg = make_registration(slug, company="Pacific Trading LLC")
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    narrow = context.new_page()
    browser_sign_in(narrow, base, make_organizer("admin"))
    for path in (f"/organizer/events/{slug}", f"/organizer/registrations/{reg}"):
        narrow.goto(base + path)
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 320, path
    shot(narrow, "15-registration-320px")
    narrow.goto(f"{base}/organizer/events/{slug}/registrations")
    sorted_header = narrow.locator("th[aria-sort]")
    assert sorted_header.count() == 1 and sorted_header.get_attribute("aria-sort") == "descending"
    assert narrow.locator("a[aria-sort]").count() == 0
    context.close()


def test_registration_list_with_long_addresses_fits_a_1280px_screen(
        server, chromium, make_organizer, make_event, make_registration):
    """Long addresses used to widen the Email column until Status and Registered scrolled
    out of a 1280 px screen."""
    from ciie_rsvp.choices import SECTORS

    base, _ = server
    slug = make_event()
    longest_sector = max(SECTORS, key=lambda choice: len(choice[1]))[0]
    for i in range(3):
        make_registration(slug, company="Golden State Almond Growers Cooperative, Inc.",
                          email=f"international.business.development{i}"
                                "@goldenstatealmondgrowers.example.com",
                          sector=longest_sector, county="San Luis Obispo")
    for width in (1280, 1024):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        browser_sign_in(page, base, make_organizer("admin"))
        page.goto(f"{base}/organizer/events/{slug}/registrations")
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth"), width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if width == 1280:
            shot(page, "16-registration-list-1280px")
        context.close()
