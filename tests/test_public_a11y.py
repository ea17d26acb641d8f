"""The public pages as assistive technology meets them (an accessibility review's findings).

Each test reads the HTML a visitor gets: titles that say an error happened, an error summary
that takes the focus and links to something focusable, choice groups named by a legend,
errors tied to their fields, a withdrawal that says whether it can be undone. Chromium checks
what only a browser can tell (focus, width) in ``test_browser.py``.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import Event, Registration
from tests.conftest import csrf_from, form_fields, text_body
from tests.test_registration import MANAGE_LINK


def test_a_form_with_errors_says_so_in_its_title_and_focuses_the_summary(app, client,
                                                                           make_event):
    app.config["FORM_MIN_FILL_SECONDS"] = 0
    slug = make_event()
    page = client.get(f"/events/{slug}/register").get_data(as_text=True)
    assert re.search(r"<title>Register · Meet in Shanghai, Share the Future · "
                     r"CIIE California Delegation</title>", page)
    data = {k: v for k, v in form_fields(page).items() if k in ("csrf_token", "started")}
    resp = client.post(f"/events/{slug}/register", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "<title>Error: Register · Meet in Shanghai, Share the Future" in html
    assert re.search(r'<div class="error-summary" role="alert" tabindex="-1" '
                     r'id="error-summary" autofocus>', html)
    # a group's summary link goes to its first box, which can take the focus
    assert '<a href="#interests-0">I am interested in: Choose at least one interest.</a>' in html
    # a tick box's label is a sentence: its message stands alone in the summary
    assert '<a href="#consent">Please agree to the privacy notice to register.</a>' in html
    # every box of the group is flagged, none is "required" on its own
    boxes = re.findall(r'<input[^>]*name="interests"[^>]*>', html)
    assert len(boxes) == 4
    assert all('aria-invalid="true"' in b and "required" not in b for b in boxes)
    # the consent box carries its error
    assert re.search(r'<input aria-describedby="consent-error" aria-invalid="true" '
                     r'id="consent"', html)


def test_the_preferred_language_is_a_named_group_of_radios(client, make_event):
    slug = make_event()
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    group = re.search(r'<fieldset id="language">\s*<legend>Preferred language</legend>'
                      r'(.*?)</fieldset>', html, re.S)
    assert group, "the radios are a fieldset named by its legend"
    radios = re.findall(r'<input[^>]*type="radio"[^>]*>', group.group(1))
    assert len(radios) == 2
    assert '<label for="language">' not in html  # no label that points at nothing


def test_required_fields_are_explained_and_chinese_asks_the_family_name_first(client,
                                                                              make_event):
    slug = make_event()
    en = client.get(f"/events/{slug}/register").get_data(as_text=True)
    assert "Fields marked * are required." in en
    assert en.index('id="first_name"') < en.index('id="last_name"')
    zh = client.get(f"/events/{slug}/register",
                    headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    # a Chinese error summary joins label and message with a full-width colon, one message
    # a field
    page = client.post(f"/events/{slug}/register", headers={"Accept-Language": "zh-CN"},
                       data={k: v for k, v in form_fields(zh).items()
                             if k in ("csrf_token", "started")} | {"delegates": "abc"})
    summary = page.get_data(as_text=True)
    assert "公司名称（法定名称）：请输入贵公司的法定名称。" in summary
    assert re.search(r'<a href="#delegates">参团人数：[^<。]*。</a>', summary)
    assert "标有 * 的为必填项。" in zh
    assert zh.index('id="last_name"') < zh.index('id="first_name"')
    # the preferred language starts as the language the form is read in
    assert re.search(r'<input checked id="language-1" name="language" required type="radio" '
                     r'value="zh-Hans">', zh)
    assert re.search(r'<input checked id="language-0" name="language" required type="radio" '
                     r'value="en">', en)


def _manage_token(app, client, register, mailbox, slug: str) -> str:
    assert register(slug).status_code == 303
    return MANAGE_LINK.search(text_body(mailbox()[-1])).group(1)


def _close_registration(app, slug: str) -> None:
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.registration_closes_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        db.session.commit()


def _status(app) -> str:
    with app.app_context():
        return db.session.scalar(select(Registration.status))


def test_after_registration_closes_withdrawing_asks_for_a_tick_and_offers_no_restore(
        app, client, register, mailbox, make_event):
    slug = make_event()
    token = _manage_token(app, client, register, mailbox, slug)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "You can restore it while registration is open." in page
    assert 'id="understood"' not in page
    _close_registration(app, slug)

    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "so a withdrawal cannot be undone" in page
    assert 'id="understood"' in page
    resp = client.post(f"/r/{token}/withdraw", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 422 and _status(app) == "submitted"
    html = resp.get_data(as_text=True)
    assert "<title>Error: Your registration" in html
    assert '<a href="#understood">' in html
    assert '<p class="error" id="understood-error">Tick the box to confirm that you want to ' \
           "withdraw.</p>" in html

    resp = client.post(f"/r/{token}/withdraw", data={"csrf_token": csrf_from(page),
                                                      "understood": "y"})
    assert resp.status_code == 303 and _status(app) == "withdrawn"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your registration is withdrawn." in page
    assert "You can restore it from this page" not in page
    assert "Restore my registration" not in page and 'id="cannot-restore"' in page


def test_withdrawing_while_open_stays_one_click_and_restorable(app, client, register, mailbox,
                                                               make_event):
    slug = make_event()
    token = _manage_token(app, client, register, mailbox, slug)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    resp = client.post(f"/r/{token}/withdraw", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303 and _status(app) == "withdrawn"
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "You can restore it from this page." in page
    assert "Restore my registration" in page


def test_rsvp_errors_point_at_the_guests_field_and_the_decline_link_leads_with_decline(
        client, invited):
    _slug, token, _reg_id = invited(guest_limit=2)

    page = client.get(f"/rsvp/{token}?answer=decline").get_data(as_text=True)
    accept = re.search(r'<button[^>]*value="accepted"[^>]*>', page).group(0)
    decline = re.search(r'<button[^>]*value="declined"[^>]*>', page).group(0)
    assert 'class="button secondary"' in accept and 'class="button"' in decline
    page = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert 'class="button"' in re.search(r'<button[^>]*value="accepted"[^>]*>', page).group(0)

    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(page),
                                               "answer": "accepted", "guests": "5"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "<title>Error: Meet in Shanghai" in html
    assert '<a href="#guests">You may bring up to 2 guests.</a>' in html
    assert re.search(r'<input id="guests"[^>]*aria-invalid="true" '
                     r'aria-describedby="guests-error">', html)
    assert '<p class="error" id="guests-error">You may bring up to 2 guests.</p>' in html
