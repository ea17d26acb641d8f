"""Invitation templates, preflight, sending and the public RSVP pages, end to end."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy

import icalendar
import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import rendering, services
from ciie_rsvp.models import (
    AuditEntry,
    Event,
    Invitation,
    InvitationTemplate,
    MailOptOut,
    OutboxMessage,
    Registration,
)
from tests.conftest import (
    RSVP_LINK,
    csrf_from,
    html_body,
    seed_welcome,
    send,
    text_body,
    vevent_of,
)


def event_of(slug: str) -> Event:
    return db.session.scalar(select(Event).where(Event.slug == slug))


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


# --- templates and rendering ----------------------------------------------------------------


def test_seed_creates_the_welcome_invitation_in_both_languages(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    again = app.test_cli_runner().invoke(args=["seed"])
    assert again.exit_code == 0
    with app.app_context():
        event = event_of("meet-in-shanghai-2022")
        rows = services.templates_of(event, "welcome")
        assert set(rows) == {"en", "zh-Hans"}
        assert db.session.scalar(select(func.count()).select_from(InvitationTemplate)) == 2
        en, zh = rows["en"], rows["zh-Hans"]
        assert "World Trade Center" in en.body_text
        assert "Shanghai Foreign Investment" in en.body_html
        assert "November 5, 2022" in en.body_text and "{{ rsvp_accept_url }}" in en.body_html
        assert "上海市商务委员会" in zh.body_text and "第五届中国国际进口博览会" in zh.body_html
        reg = Registration(first_name="Maria", last_name="Lopez", job_title="", company="Almonds",
                           sector="food_agriculture", email="m@example.com", language="en")
        rendered = services.render_for(en, reg, event)
        assert rendered.subject == ("You are invited: Meet in Shanghai, Share the Future, "
                                    "October 13, 2022")
        assert "Dear Maria Lopez" in rendered.text and "Downtown Los Angeles" in rendered.text
        zh_rendered = services.render_for(zh, reg, event)
        assert "相约上海，共享未来" in zh_rendered.subject
        assert "2022年10月13日" in zh_rendered.subject


ATTACKS = [
    ("{{ 'x' * 10**9 }}", "characters"),
    ("{{ range(10**9)|list }}", "range"),
    ("{{ 9**9**9 }}", "power"),
    ("{{ ''.__class__ }}", "unsafe"),
    ("{{ cycler.__init__.__globals__ }}", "unsafe"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loops"),
    ("{{ '{:>999999999}'.format(1) }}", "format"),
    ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}", "characters"),
    ("{% for i in [1] recursive %}{{ loop([i, i]) }}{% endfor %}", "nested"),
    ("{% set a = 'x' * 99999 %}{{ a ~ a ~ a ~ a }}", "characters"),
    ("{{ ('x' * 99999)|replace('', 'y' * 99999) }}", "characters"),
    ("{{ range(20000)|join('x' * 99999) }}", "characters"),
    ("{{ lipsum(10**9) }}", "undefined"),
    ("{% set ns = namespace(a=1) %}", "undefined"),
    ("{{ registrant.password }}", "has no attribute"),
    ("{% include 'base.html' %}", "cannot include"),
    ("{% extends 'base.html' %}", "cannot include"),
    # string methods that would build a huge value are refused before they run
    ("{{ registrant.first_name.center(10**9) }}", "characters"),
    ("{{ registrant.first_name.ljust(10**9, '*') }}", "characters"),
    ("{{ registrant.first_name.zfill(10**9) }}", "characters"),
    ("{{ ('x' * 99999).replace('', 'y' * 99999) }}", "characters"),
    ("{{ ('y' * 99999).join(['a'] * 50000) }}", "characters"),
    ("{{ 'a\tb'.expandtabs(10**9) }}", "not available"),
    ("{{ 'ab'.translate({97: 'x' * 99999}) }}", "not available"),
    # bytes' padding built gigabytes before any check (found by a security review)
    ("{{ 'x'.encode().ljust(4000000000) }}", "not available"),
    ("{{ registrant|tojson(indent=300000000) }}", "indent"),
    # whatever a filter or global raises is the template's fault, never a 500
    ("{{ registrant.name|truncate(1) }}", "AssertionError"),
    ("{{ cycler() }}", "RuntimeError"),
    # nested deeper than Python compiles, or than the parser recurses
    ("{% if 1 %}" * 100 + "x" + "{% endif %}" * 100, "nested too deeply"),
    ("{{" + "(" * 500 + "1" + ")" * 500 + "}}", "Recursion"),
]


@pytest.mark.parametrize(("source", "message"), ATTACKS)
def test_sandbox_refuses_internals_and_resource_exhaustion(source, message):
    with pytest.raises(rendering.RenderError) as info:
        rendering.render_part(source, rendering.sample_data(), html=True, part="HTML body")
    assert message in str(info.value)
    assert str(info.value).startswith("HTML body")


def test_rendering_escapes_html_and_reports_empty_placeholders():
    data = rendering.sample_data()
    data["registrant"] = {**data["registrant"], "company": "<script>x</script> & Co",
                          "first_name": ""}
    html, empty = rendering.render_part(
        "<p>{{ registrant.first_name }} {{ registrant.company }}</p>", data, html=True)
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert empty == ["registrant.first_name"]
    text, _ = rendering.render_part("{{ registrant.company }}", data, html=False)
    assert text == "<script>x</script> & Co"


def test_output_size_is_capped():
    source = "{% for i in range(5000) %}{{ 'x' * 90 }}{% endfor %}"
    with pytest.raises(rendering.RenderError, match="larger than"):
        rendering.render_part(source, {}, html=False, max_output=100_000)


@pytest.mark.parametrize("source", [
    "{% if 1 %}" * 100 + "x" + "{% endif %}" * 100,
    "{{" + "(" * 500 + "1" + ")" * 500 + "}}",
    "{{ " + " + ".join(["1"] * 5000) + " }}",
])
def test_a_template_too_deeply_nested_to_compile_is_refused_on_saving(source):
    """It parses, but Python cannot compile it (or the parser runs out of stack): saving it
    would have left an event whose every send and preview failed."""
    with pytest.raises(rendering.RenderError) as info:
        rendering.check_syntax(source, part="HTML body")
    assert "nested too deeply" in str(info.value)
    assert rendering.check_syntax("{% if 1 %}" * 20 + "x" + "{% endif %}" * 20) is None


def test_template_that_does_not_parse_is_refused_with_line_and_message(app, make_event):
    slug = make_event()
    seed_welcome(app, slug)
    with app.app_context():
        event = event_of(slug)
        parts = rendering.TemplateParts("Hello {{ registrant.first_name }",
                                        "<p>ok</p>\n<p>{% if %}</p>", "fine")
        with pytest.raises(services.InvitationError) as info:
            services.save_template(event, "welcome", "en", parts)
        assert "subject line 1" in str(info.value)
        assert "HTML body line 2" in str(info.value)
        row = services.templates_of(event, "welcome")["en"]
        assert row.version == 1 and "{% if %}" not in row.body_html


def test_editing_bumps_the_version(app, make_event):
    slug = make_event()
    seed_welcome(app, slug)
    with app.app_context():
        event = event_of(slug)
        row = services.templates_of(event, "welcome")["en"]
        parts = services.parts_of(row)
        services.save_template(event, "welcome", "en", parts)  # unchanged: same version
        assert row.version == 1
        parts.subject = "Welcome, {{ registrant.first_name }}!"
        services.save_template(event, "welcome", "en", parts)
        db.session.commit()
        assert services.templates_of(event, "welcome")["en"].version == 2


# --- preflight -------------------------------------------------------------------------------


def test_preflight_reports_every_kind_of_problem_and_sends_nothing(app, make_event,
                                                                   make_invitee):
    slug = make_event()
    seed_welcome(app, slug)
    ok = make_invitee(slug, first_name="Ann")
    make_invitee(slug, first_name="", last_name="Nofirst")
    make_invitee(slug, email="not an address", email_normalized="not an address")
    make_invitee(slug, email="opted@example.com")
    make_invitee(slug, status="submitted")  # not selected
    with app.app_context():
        db.session.add(MailOptOut(email_normalized="opted@example.com"))
        db.session.add(Invitation(event_id=event_of(slug).id, registration_id=ok,
                                  template_name="welcome", token_nonce="n",
                                  token_hash="0" * 64))
        db.session.commit()
    result = send(app, slug, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "selected: 4, ready to send: 0" in out
    assert "Already invited: 1" in out and "Unsubscribed: 1" in out
    assert "Placeholder left empty: 1" in out and "registrant.first_name" in out
    assert "Invalid email address: 1" in out
    assert outbox_count(app) == 1 - 1  # dry run queues nothing


def test_preflight_reports_render_failures_with_their_reason(app, make_event,
                                                             make_invitee):
    slug = make_event()
    seed_welcome(app, slug)
    make_invitee(slug)
    with app.app_context():
        event = event_of(slug)
        row = services.templates_of(event, "welcome")["en"]
        row.body_text = "Hello {{ registrant.nickname }}"
        db.session.commit()
        report = services.preflight(event, "welcome")
        [failure] = report.with_problem("render_failed")
        assert "text body" in failure.detail and "nickname" in failure.detail
        assert report.counts()["ready"] == 0


# --- sending ---------------------------------------------------------------------------------


def _parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_send_to_approved_registrants_delivers_one_correct_message_each(
        smtp_app, smtp_server, make_event, make_invitee):
    app = smtp_app
    slug = make_event(mail_from="CIIE Office <invitations@trade-office.example.org>",
                      mail_reply_to="Organizer Team <team@wtcla.example.org>",
                      start_time=dt.time(9, 30), end_time=dt.time(17, 0))
    seed_welcome(app, slug)
    en = make_invitee(slug, first_name="Maria", last_name="Lopez",
                           email="maria@example.com")
    zh = make_invitee(slug, first_name="晓明", last_name="王", language="zh-Hans",
                           email="wang@example.cn", company="上海进出口贸易有限公司")
    make_invitee(slug, status="waitlisted", email="waiting@example.com")
    result = send(app, slug)
    assert result.exit_code == 0, result.output
    assert "queued 2 invitation(s)" in result.output

    assert sorted(rcpt[0] for _, rcpt, _ in smtp_server.messages) == [
        "maria@example.com", "wang@example.cn"]
    by_rcpt = {rcpt[0]: _parse(raw) for _, rcpt, raw in smtp_server.messages}
    msg = by_rcpt["maria@example.com"]
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(p for p in msg.iter_parts() if p.get_content_type() ==
                       "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain",
                                                                        "text/html"]
    assert msg["From"] == "CIIE Office <invitations@trade-office.example.org>"
    assert msg["Reply-To"] == "Organizer Team <team@wtcla.example.org>"
    assert msg["To"] == "Maria Lopez <maria@example.com>"
    assert msg["Date"] and msg["Message-ID"].endswith("@trade-office.example.org>")
    # a long header folds onto a continuation line (RFC 5322 folding whitespace)
    assert msg["List-Unsubscribe"].strip().startswith("<https://rsvp.example.org/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Dear Maria Lopez" in text_body(msg)
    assert RSVP_LINK.search(text_body(msg))

    [ics_part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = icalendar.Calendar.from_ical(ics_part.get_content())
    assert str(cal["METHOD"]) == "REQUEST"
    vevent = cal.walk("VEVENT")[0]
    assert vevent["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert vevent["DTSTART"].dt.utcoffset() == dt.timedelta(hours=-7)  # PDT in October
    assert vevent["DTSTART"].dt.hour == 9 and vevent["DTSTART"].dt.minute == 30
    assert str(vevent["ORGANIZER"]) == "mailto:team@wtcla.example.org"
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:maria@example.com"
    assert attendee.params["RSVP"] == "TRUE" and attendee.params["PARTSTAT"] == "NEEDS-ACTION"

    zh_msg = by_rcpt["wang@example.cn"]
    assert "相约上海，共享未来" in zh_msg["Subject"]
    assert "尊敬的王晓明" in text_body(zh_msg)

    with app.app_context():
        rows = list(db.session.scalars(select(Invitation).order_by(Invitation.id)))
        assert [r.registration_id for r in rows] == [en, zh]
        assert all(len(r.token_hash) == 64 for r in rows)
        statuses = set(db.session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent"}


def test_repeated_send_queues_nothing_twice(smtp_app, smtp_server, make_event,
                                            make_invitee):
    app = smtp_app
    slug = make_event()
    seed_welcome(app, slug)
    for _ in range(3):
        make_invitee(slug)
    assert send(app, slug).exit_code == 0
    again = send(app, slug)
    assert "queued 0 invitation(s)" in again.output and "Already invited: 3" in again.output
    assert len(smtp_server.messages) == 3
    assert outbox_count(app) == 3


def test_language_falls_back_to_english_without_a_chinese_version(
        smtp_app, smtp_server, make_event, make_invitee):
    app = smtp_app
    slug = make_event()
    seed_welcome(app, slug)
    make_invitee(slug, language="zh-Hans", first_name="Li", last_name="Wei")
    with app.app_context():
        db.session.delete(services.templates_of(event_of(slug), "welcome")["zh-Hans"])
        db.session.commit()
    assert send(app, slug).exit_code == 0
    [msg] = smtp_server.parsed()
    assert msg["Subject"].startswith("You are invited") and "Dear Li Wei" in text_body(msg)


def test_no_header_injection_from_registrant_or_template(smtp_app, smtp_server, make_event,
                                                         make_invitee):
    app = smtp_app
    slug = make_event()
    seed_welcome(app, slug)
    make_invitee(slug, company="Evil\r\nBcc: victim@example.com", email="a@example.com")
    bad = make_invitee(slug, last_name="=?UTF-8?Q?=0A?=Bcc: victim@example.com",
                            email="b@example.com")
    with app.app_context():
        event = event_of(slug)
        row = services.templates_of(event, "welcome")["en"]
        services.save_template(event, "welcome", "en", rendering.TemplateParts(
            "Welcome {{ registrant.company }}", row.body_html, row.body_text))
        db.session.commit()
        report = services.preflight(event, "welcome")
        [invalid] = report.with_problem("invalid_address")
        assert invalid.registration_id == bad
    assert send(app, slug).exit_code == 0
    [msg] = smtp_server.parsed()
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Welcome Evil Bcc: victim@example.com"
    assert [rcpt for _, rcpt, _ in smtp_server.messages] == [["a@example.com"]]


# --- RSVP ------------------------------------------------------------------------------------


def invitation(app) -> Invitation:
    with app.app_context():
        inv = db.session.scalar(select(Invitation))
        db.session.expunge(inv)
        return inv


def test_get_shows_the_invitation_and_records_opened_but_never_answers(smtp_app, client,
                                                                       invited):
    slug, token, _ = invited()
    assert invitation(smtp_app).opened_at is None
    page = client.get(f"/rsvp/{token}?answer=accept")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Meet in Shanghai, Share the Future" in html
    assert 'value="accepted"' in html and 'value="declined"' in html
    assert page.headers["Cache-Control"] == "no-store"
    inv = invitation(smtp_app)
    assert inv.opened_at is not None and inv.rsvp == "pending"
    assert client.get(f"/rsvp/{token}?answer=decline").status_code == 200
    assert invitation(smtp_app).rsvp == "pending"


def test_accept_by_post_then_change_until_the_deadline(smtp_app, client, invited):
    slug, token, reg_id = invited(guest_limit=2)
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                               "answer": "accepted", "guests": "2"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/thanks")
    thanks = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "We look forward to welcoming you" in thanks and "Guests noted: 2." in thanks
    inv = invitation(smtp_app)
    assert (inv.rsvp, inv.guests) == ("accepted", 2) and inv.responded_at is not None

    too_many = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                                   "answer": "accepted", "guests": "3"})
    assert too_many.status_code == 422 and "up to 2 guests" in too_many.get_data(as_text=True)
    declined = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                                   "answer": "declined"})
    assert declined.status_code == 303
    assert (invitation(smtp_app).rsvp, invitation(smtp_app).guests) == ("declined", 0)
    with smtp_app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.registration_id == reg_id).order_by(AuditEntry.id)))
    assert actions == ["rsvp_accepted", "rsvp_declined"]


def test_answers_need_post_with_csrf_and_stop_at_the_deadline(smtp_app, client, invited):
    slug, token, _ = invited(rsvp_deadline=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    assert client.post(f"/rsvp/{token}", data={"answer": "accepted"}).status_code == 400
    assert client.put(f"/rsvp/{token}").status_code == 405
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    bogus = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                                "answer": "maybe"})
    assert bogus.status_code == 422
    with smtp_app.app_context():
        db.session.execute(db.update(Event).values(
            rsvp_deadline=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        db.session.commit()
    late = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                               "answer": "accepted"})
    assert late.status_code == 403 and "deadline has passed" in late.get_data(as_text=True)
    assert invitation(smtp_app).rsvp == "pending"


def test_thank_you_page_in_chinese(smtp_app, client, invited):
    slug, token, _ = invited(language="zh-Hans")
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "接受邀请" in html
    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                               "answer": "accepted"}, follow_redirects=True)
    assert "感谢您的答复" in resp.get_data(as_text=True)


@pytest.mark.parametrize("token", ["nope", "a" * 43, "x" * 300, "%00", "abc.def;DROP"])
def test_invalid_rsvp_tokens_get_a_friendly_page(client, token):
    for url in (f"/rsvp/{token}", f"/rsvp/{token}/thanks", f"/rsvp/{token}/calendar.ics",
                f"/unsubscribe/{token}"):
        resp = client.get(url)
        assert resp.status_code == 404
        # (an address with a NUL character gets the general "nothing at this address")
        assert ("invitation link is not valid" if token != "%00" else "nothing at this address"
                ) in resp.get_data(as_text=True)
    assert client.post(f"/unsubscribe/{token}").status_code == 404


def test_calendar_link_and_manage_link(smtp_app, client, invited):
    slug, token, _ = invited(start_time=dt.time(10, 0), timezone="Asia/Shanghai")
    ics = client.get(f"/rsvp/{token}/calendar.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    vevent = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert vevent["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert vevent["DTSTART"].dt.utcoffset() == dt.timedelta(hours=8)
    page = client.get(f"/rsvp/{token}/manage")
    assert page.status_code == 200
    resp = client.post(f"/rsvp/{token}/manage", data={"csrf_token": csrf_from(
        page.get_data(as_text=True))})
    assert resp.status_code == 303 and "/r/" in resp.headers["Location"]
    assert client.get(resp.headers["Location"]).status_code == 200


def test_one_click_unsubscribe_without_cookie_or_csrf_is_honoured_later(
        smtp_app, smtp_server, invited):
    slug, token, reg_id = invited()
    anonymous = smtp_app.test_client(use_cookies=False)
    resp = anonymous.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200 and "unsubscribed" in resp.get_data(as_text=True)
    assert anonymous.post(f"/unsubscribe/{token}").status_code == 200  # idempotent
    reminded = smtp_app.test_cli_runner().invoke(args=["invitations", "remind", "--event", slug])
    assert "queued 0 reminder(s)" in reminded.output
    assert len(smtp_server.messages) == 1
    with smtp_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MailOptOut)) == 1


def test_remind_reaches_only_non_responders_once_per_round(smtp_app, smtp_server, client,
                                                           make_event, make_invitee):
    app = smtp_app
    slug = make_event()
    seed_welcome(app, slug)
    ids = [make_invitee(slug) for _ in range(3)]
    assert send(app, slug).exit_code == 0
    by_rcpt = {rcpt[0]: _parse(raw) for _, rcpt, raw in smtp_server.messages}
    with app.app_context():
        first = db.session.get(Registration, ids[0]).email
    token = RSVP_LINK.search(text_body(by_rcpt[first])).group(1)
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html), "answer": "declined"})

    runner = app.test_cli_runner()
    out = runner.invoke(args=["invitations", "remind", "--event", slug, "--round", "2"]).output
    assert "queued 2 reminder(s)" in out
    again = runner.invoke(args=["invitations", "remind", "--event", slug, "--round", "2"]).output
    assert "queued 0 reminder(s)" in again
    reminders = [m for m in smtp_server.parsed() if m["Subject"].startswith("Reminder:")]
    assert len(reminders) == 2 and first not in {m["To"].addresses[0].addr_spec
                                                 for m in reminders}
    # the reminder carries the same RSVP link as the invitation
    assert {RSVP_LINK.search(text_body(m)).group(1) for m in reminders} <= {
        RSVP_LINK.search(text_body(m)).group(1) for m in smtp_server.parsed()[:3]}


def test_attendee_list_exports_carry_rsvp_columns(smtp_app, client, invited, make_invitee,
                                                  tmp_path):
    import csv

    slug, token, reg_id = invited()
    never = make_invitee(slug, email="never@example.com", status="submitted")
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html), "answer": "accepted"})
    out = tmp_path / "list.csv"
    result = smtp_app.test_cli_runner().invoke(args=[
        "export", "registrations", "--event", slug, "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {int(r["Registration ID"]): r
            for r in csv.DictReader(out.read_text("utf-8-sig").splitlines())}
    assert rows[reg_id]["RSVP"] == "accepted" and rows[reg_id]["Invitation delivery"] == "sent"
    assert rows[reg_id]["Invitation opened at (UTC)"] and rows[reg_id]["Invited at (UTC)"]
    assert rows[reg_id]["Guests"] == "0"
    assert rows[never]["RSVP"] == "" and rows[never]["Invitation delivery"] == ""


def test_withdrawn_registration_cannot_answer_and_is_not_reminded(smtp_app, smtp_server, client,
                                                                  invited):
    slug, token, reg_id = invited()
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    with smtp_app.app_context():
        db.session.get(Registration, reg_id).status = "withdrawn"
        db.session.commit()
    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                               "answer": "accepted"})
    assert resp.status_code == 403 and "withdrawn" in resp.get_data(as_text=True)
    out = smtp_app.test_cli_runner().invoke(args=["invitations", "remind", "--event", slug])
    assert "queued 0 reminder(s)" in out.output
    assert len(smtp_server.messages) == 1


def test_cli_send_in_chunks_invites_everyone_once(smtp_app, smtp_server, make_event,
                                                  make_invitee):
    slug = make_event()
    seed_welcome(smtp_app, slug)
    emails = sorted(f"chunk{i}@example.com" for i in range(5))
    for email in emails:
        make_invitee(slug, email=email)
    result = send(smtp_app, slug, "--chunk", "2")
    assert result.exit_code == 0, result.output
    assert "queued 5 invitation(s)" in result.output and "ready to send: 5" in result.output
    assert sorted(r[0] for _, r, _ in smtp_server.messages) == emails
    assert "queued 0 invitation(s)" in send(smtp_app, slug, "--chunk", "2").output


def test_rsvp_pages_follow_the_invitees_language(smtp_app, client, invited):
    slug, token, _ = invited(language="zh-Hans", guest_limit=1)
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "尚未答复" in html and "随行人数" in html
    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html),
                                               "answer": "accepted", "guests": "5"})
    assert resp.status_code == 422 and "您最多可携带 1 位随行人员" in resp.get_data(as_text=True)
    missing = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(html)})
    assert missing.status_code == 422 and "请选择接受或婉拒" in missing.get_data(as_text=True)


def test_erased_registrations_are_never_selected(app, make_event, make_invitee):
    slug = make_event()
    seed_welcome(app, slug)
    keep = make_invitee(slug)
    erased = make_invitee(slug)
    with app.app_context():
        from ciie_rsvp.privacy import erase

        erase(db.session.get(Registration, erased))
        db.session.commit()
        report = services.preflight(event_of(slug), "welcome", status=None)
        assert [c.registration_id for c in report.checks] == [keep]


def test_a_subject_that_renders_an_encoded_newline_is_refused_at_preflight(
        app, make_event, make_invitee):
    slug = make_event()
    seed_welcome(app, slug)
    make_invitee(slug)
    with app.app_context():
        event = event_of(slug)
        row = services.templates_of(event, "welcome")["en"]
        services.save_template(event, "welcome", "en", rendering.TemplateParts(
            "Hello =?UTF-8?Q?=0A?=Bcc: victim@example.com", row.body_html, row.body_text))
        report = services.preflight(event, "welcome")
        [failed] = report.with_problem("render_failed")
        assert "subject" in failed.detail and "control character" in failed.detail


def test_an_admin_reopens_answers_by_moving_the_deadline(smtp_app, client, invited,
                                                          login_organizer):
    """A past event takes no answers; its admin moves it and sets a later RSVP deadline in
    the event's settings, and the invitee's link works again, the deadline shown on the
    event's clock."""
    slug, token, _ = invited(start_date=dt.date(2022, 10, 13), end_date=dt.date(2022, 10, 13))
    html = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "The RSVP deadline has passed" in html
    token_field = {"csrf_token": csrf_from(html)}
    assert client.post(f"/rsvp/{token}", data={**token_field, "answer": "accepted"}
                       ).status_code == 403

    login_organizer("admin")
    settings = client.get(f"/organizer/events/{slug}/settings").get_data(as_text=True)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).astimezone(
        dt.timezone(dt.timedelta(hours=-8))).replace(tzinfo=None)  # any valid local time
    later = later.replace(hour=12, minute=0, second=0, microsecond=0)
    data = {"csrf_token": csrf_from(settings), "name_en": "Meet in Shanghai, Share the Future",
            "start_date": "2022-10-13", "end_date": "2022-10-13",
            "timezone": "America/Los_Angeles", "is_published": "y", "guest_limit": "0",
            "rsvp_deadline": later.strftime("%Y-%m-%dT%H:%M")}
    # a deadline after the event is over means nothing: the event moves too
    refused = client.post(f"/organizer/events/{slug}/settings", data=data)
    assert refused.status_code == 422
    assert "The RSVP deadline must be by the end of the event." in refused.get_data(True)
    day = (later + dt.timedelta(days=7)).date().isoformat()
    data.update(start_date=day, end_date=day)
    assert client.post(f"/organizer/events/{slug}/settings", data=data).status_code == 303

    page = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "You can change your answer until" in page
    assert f"{later:%H:%M} (America/Los Angeles)" in page
    resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(page),
                                               "answer": "accepted"})
    assert resp.status_code == 303 and invitation(smtp_app).rsvp == "accepted"


def test_rsvp_page_and_calendar_of_an_event_in_an_unknown_zone_use_utc(smtp_app, client,
                                                                        invited):
    """A zone stored by hand (or by a machine with newer zone data) used to answer 500."""
    slug, token, _ = invited(start_time=dt.time(10, 0), timezone="Atlantis/Capital",
                             rsvp_deadline=dt.datetime(2030, 10, 7, 17, 0, tzinfo=dt.UTC))
    page = client.get(f"/rsvp/{token}")
    assert page.status_code == 200
    assert "October 7, 2030 17:00 (UTC)" in page.get_data(as_text=True)
    assert "October 13, 2030, 10:00 (UTC)" in page.get_data(as_text=True)  # the event's hours
    ics = client.get(f"/rsvp/{token}/calendar.ics")
    assert ics.status_code == 200
    vevent = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert vevent["DTSTART"].dt == dt.datetime(2030, 10, 13, 10, 0, tzinfo=dt.UTC)


def test_changing_the_zone_of_an_event_with_invitations_warns(smtp_app, client, invited,
                                                              login_organizer):
    from tests.test_organizer_events import submitted_as_shown

    slug, _token, _ = invited(rsvp_deadline=dt.datetime(2030, 10, 8, 0, 0, tzinfo=dt.UTC))
    login_organizer("admin")
    url = f"/organizer/events/{slug}/settings"
    data = submitted_as_shown(client.get(url).get_data(as_text=True))
    resp = client.post(url, data={**data, "name_en": "Renamed"})
    assert "flash-warning" not in client.get(resp.headers["Location"]).get_data(True)
    data = submitted_as_shown(client.get(url).get_data(as_text=True))
    resp = client.post(url, data={**data, "timezone": "Asia/Shanghai"})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "1 invitee(s) were told the event" in page
    with smtp_app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        # 17:00 on October 7 as typed, now on Shanghai's clock
        assert event.rsvp_deadline == dt.datetime(2030, 10, 7, 9, 0, tzinfo=dt.UTC)


def _starter(app, slug: str) -> None:
    with app.app_context():
        assert services.seed_templates(event_of(slug)) == ["en", "zh-Hans"]
        db.session.commit()


def test_the_standard_welcome_speaks_of_the_event_it_is_for(smtp_app, smtp_server, make_event,
                                                            make_invitee):
    """New events start from placeholders only: their own hours, deadline and summary, and
    names written as each language writes them (the conference's 2022 text stays with it)."""
    slug = make_event(start_time=dt.time(10), end_time=dt.time(16),
                      rsvp_deadline=dt.datetime(2030, 10, 8, 0, 0, tzinfo=dt.UTC),
                      summary_en="A preview of the 13th CIIE for California exporters.",
                      summary_zh="第十三届进博会加州推介会。",
                      organizers="World Trade Center Los Angeles")
    _starter(smtp_app, slug)
    make_invitee(slug, first_name="Maria", last_name="Lopez", email="maria@example.com")
    make_invitee(slug, first_name="Li", last_name="Chen", language="zh-Hans",
                 email="li@example.com")
    make_invitee(slug, first_name="晓明", last_name="王", language="zh-Hans",
                 email="wang@example.cn")
    assert send(smtp_app, slug).exit_code == 0
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in smtp_server.parsed()}

    def text(rcpt: str) -> str:
        return text_body(by_rcpt[rcpt]).replace("\r\n", "\n")

    en = text("maria@example.com")
    assert en.startswith("Dear Maria Lopez,\n")
    assert ("On behalf of Shanghai Municipal Commission of Commerce, together with World Trade "
            "Center Los Angeles") in en
    assert "October 13, 2030, 10:00–16:00 (America/Los Angeles)" in en
    assert "A preview of the 13th CIIE for California exporters." in en
    assert "attend by October 7, 2030 17:00 (America/Los Angeles):" in en
    latin, chinese = text("li@example.com"), text("wang@example.cn")
    assert latin.startswith("尊敬的Li Chen：") and chinese.startswith("尊敬的王晓明：")
    assert "2030年10月13日（北美太平洋时间10:00–16:00）" in chinese
    assert "请于北美太平洋时间2030年10月7日 17:00前告知您是否出席" in chinese
    assert "第十三届进博会加州推介会。" in chinese
    assert "    Downtown Los Angeles, Los Angeles\n" in chinese  # no Chinese: the English
    for msg in by_rcpt.values():
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert "2022" not in text_body(msg) + html + str(msg["Subject"])


def test_chinese_invitations_name_the_place_and_hosts_in_chinese(smtp_app, smtp_server,
                                                                 make_event, make_invitee):
    """An event with its place and hosts in Chinese: Chinese invitations and their calendar
    entries use them, in Beijing time; English ones keep the English."""
    slug = make_event(timezone="Asia/Shanghai", start_time=dt.time(9), end_time=dt.time(17),
                      venue="National Exhibition and Convention Center (Shanghai)",
                      city="Shanghai", country="China", venue_zh="国家会展中心（上海）",
                      city_zh="上海", country_zh="中国", hosts_zh="上海市商务委员会",
                      organizers_zh="洛杉矶世界贸易中心")
    _starter(smtp_app, slug)
    make_invitee(slug, email="maria@example.com")
    make_invitee(slug, first_name="晓明", last_name="王", language="zh-Hans",
                 email="wang@example.cn")
    assert send(smtp_app, slug).exit_code == 0
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in smtp_server.parsed()}
    chinese = text_body(by_rcpt["wang@example.cn"])
    assert "上海市商务委员会携手洛杉矶世界贸易中心" in chinese
    assert "2030年10月13日（北京时间09:00–17:00）" in chinese
    assert "    中国上海 国家会展中心（上海）\r\n" in chinese
    assert "Shanghai Municipal" not in chinese and "Convention" not in chinese
    assert "主办单位：上海市商务委员会　承办单位：洛杉矶世界贸易中心" in html_body(
        by_rcpt["wang@example.cn"])
    assert str(vevent_of(by_rcpt["wang@example.cn"])["LOCATION"]) == "中国上海 国家会展中心（上海）"
    english = text_body(by_rcpt["maria@example.com"])
    assert "Shanghai Municipal Commission of Commerce" in english and "上海" not in english
    assert "October 13, 2030, 09:00–17:00 (Asia/Shanghai)" in english
    assert str(vevent_of(by_rcpt["maria@example.com"])["LOCATION"]) == (
        "National Exhibition and Convention Center (Shanghai), Shanghai, China")


def test_the_standard_welcome_leaves_out_what_an_event_does_not_have(smtp_app, make_event,
                                                                     make_invitee):
    """No times, deadline, summary, hosts or organizers: nothing comes out empty, so the
    preflight finds nothing to hold back."""
    slug = make_event(hosts="", organizers="")
    _starter(smtp_app, slug)
    make_invitee(slug, language="en")
    make_invitee(slug, language="zh-Hans")
    out = send(smtp_app, slug, "--dry-run").output
    assert "selected: 2, ready to send: 2" in out, out


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("Maria", "Lopez", "Maria Lopez"),
    ("晓明", "王", "王晓明"),  # characters: family name first, in English invitations too
    ("Li", "Chen", "Li Chen"),
    ("", "Lopez", "Lopez"),
])
def test_names_are_written_one_way_in_both_languages(first, last, expected):
    from ciie_rsvp.models import written_name

    assert written_name(first, last) == expected


def test_the_conference_welcome_in_chinese_writes_latin_names_apart(smtp_app, smtp_server,
                                                                     invited):
    """It used to run names, title and place together: 尊敬的NumberGuestDirector."""
    invited(language="zh-Hans")
    body = text_body(smtp_server.parsed()[-1])
    assert re.search(r"尊敬的Guest Number\d+：", body), body[:80]
    # the conference's text, with the event's place (no Chinese names: the English line)
    assert "    Downtown Los Angeles, Los Angeles\r\n" in body


def test_the_calendar_file_says_what_the_invitee_answered(smtp_app, client, invited):
    _slug, token, _ = invited(start_time=dt.time(10, 0))

    def partstat() -> str:
        ics = client.get(f"/rsvp/{token}/calendar.ics")
        assert ics.status_code == 200
        return str(icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]["ATTENDEE"]
                   .params["PARTSTAT"])

    assert partstat() == "NEEDS-ACTION"
    for answer, expected in (("accepted", "ACCEPTED"), ("declined", "DECLINED")):
        page = client.get(f"/rsvp/{token}").get_data(as_text=True)
        resp = client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(page),
                                                   "answer": answer})
        assert resp.status_code == 303
        assert partstat() == expected


def test_sending_before_any_template_exists_says_how_to_make_one(app, client, make_event,
                                                                 make_invitee,
                                                                 login_organizer):
    """A new event has no template until one is made on its Invitations page; sending then
    used to say "the template has no English version", also for Chinese registrants."""
    slug = make_event()
    make_invitee(slug, language="zh-Hans")
    for args in (("--dry-run",), ()):
        result = send(app, slug, *args)
        assert result.exit_code == 1
        assert ("nothing can be sent: the event has no invitation template “welcome” yet: "
                "make one on its Invitations page") in result.output
        assert "no English version" not in result.output
    login_organizer("admin")
    page = client.get(f"/organizer/events/{slug}/invitations/preflight?template=welcome")
    assert "has no invitation template “welcome” yet" in page.get_data(as_text=True)
