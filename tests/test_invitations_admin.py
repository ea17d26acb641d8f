"""Organizer invitation pages: editor with live preview, preflight, send, status, RSVP board."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import services
from ciie_rsvp.models import Event, Invitation, InvitationTemplate, OutboxMessage, Registration
from ciie_rsvp.outbox import _pause
from tests.conftest import RSVP_LINK, csrf_from, text_body


@pytest.fixture
def console(app, client, smtp_server, make_event, make_invitee, login_organizer):
    """A signed-in organizer, an event with the seeded welcome template, three registrants."""
    app.config["MAIL_URL"] = smtp_server.url
    slug = make_event()
    with app.app_context():
        services.seed_templates(db.session.scalar(select(Event).where(Event.slug == slug)))
        db.session.commit()
    regs = [make_invitee(slug, first_name=name, email=f"{name.lower()}@example.com")
            for name in ("Maria", "Wei", "Ana")]
    make_invitee(slug, status="submitted", email="pending@example.com")
    login_organizer()
    return slug, regs


def page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def test_edit_preview_preflight_send_accept_and_dashboard(app, client, smtp_server, console):
    slug, regs = console
    base = f"/organizer/events/{slug}/invitations"
    editor = page(client, f"{base}/templates/welcome/en")
    assert "{{ registrant.first_name }}" in editor and "rsvp_accept_url" in editor
    assert "template-editor.js" in editor and 'sandbox' in editor

    form = {"csrf_token": csrf_from(editor),
            "subject": "Welcome to Los Angeles, {{ registrant.first_name }}!",
            "body_html": "<p>Dear {{ registrant.first_name }}, join us on {{ event.date }}.</p>"
                         '<p><a href="{{ rsvp_accept_url }}">Accept</a></p>',
            "body_text": "Dear {{ registrant.first_name }},\nAccept: {{ rsvp_accept_url }}\n"}
    preview = client.post(f"{base}/templates/welcome/en/preview",
                          data={**form, "registration_id": str(regs[1])})
    assert preview.status_code == 200
    assert "Welcome to Los Angeles, Wei!" in preview.get_data(as_text=True)
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    with app.app_context():  # a preview saves nothing
        row = services.templates_of(db.session.scalar(select(Event).where(Event.slug == slug)),
                                    "welcome")["en"]
        assert row.version == 1

    saved = client.post(f"{base}/templates/welcome/en", data=form)
    assert saved.status_code == 303
    assert "version 2" in page(client, saved.headers["Location"])

    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    assert re.search(r'id="count-selected">3<', preflight)
    assert re.search(r'id="count-ready">3<', preflight)
    assert "Send 3 invitations" in preflight
    sent = client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight),
                                             "template": "welcome", "status": "approved"})
    assert sent.status_code == 303
    again = client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight),
                                              "template": "welcome", "status": "approved"})
    assert again.status_code == 303  # a double click queues nothing more
    assert sorted(r[0] for _, r, _ in smtp_server.messages) == [
        "ana@example.com", "maria@example.com", "wei@example.com"]
    maria = next(m for m in smtp_server.parsed() if "maria@" in m["To"])
    assert maria["Subject"] == "Welcome to Los Angeles, Maria!"

    token = RSVP_LINK.search(text_body(maria)).group(1)
    anonymous = app.test_client()
    rsvp_page = anonymous.get(f"/rsvp/{token}").get_data(as_text=True)
    assert anonymous.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(rsvp_page),
                                                  "answer": "accepted"}).status_code == 303

    board = page(client, base)
    assert re.search(r'id="count-invited">3<', board)
    assert re.search(r'id="count-opened">1<', board)
    assert re.search(r'id="count-accepted">1<', board)
    assert re.search(r'id="count-no_answer">2<', board)
    assert board.count("delivery-sent") == 3
    accepted_only = page(client, f"{base}?rsvp=accepted")
    assert "maria@example.com" in accepted_only and "wei@example.com" not in accepted_only


def test_template_that_does_not_parse_is_refused_with_its_line(app, client, console):
    slug, _ = console
    url = f"/organizer/events/{slug}/invitations/templates/welcome/en"
    editor = page(client, url)
    resp = client.post(url, data={"csrf_token": csrf_from(editor), "subject": "Hi",
                                  "body_html": "<p>one</p>\n<p>{% for %}</p>",
                                  "body_text": "Hi {{ registrant.first_name"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "HTML body line 2" in html and "text body line 1" in html
    with app.app_context():
        assert db.session.scalar(select(InvitationTemplate.version).where(
            InvitationTemplate.language == "en")) == 1


def test_preview_of_a_hostile_template_fails_safely(client, console):
    slug, _ = console
    url = f"/organizer/events/{slug}/invitations/templates/welcome/en"
    token = csrf_from(page(client, url))
    for body, message in (("{{ ''.__class__.__mro__ }}", "unsafe"),
                          ("{{ 'x' * 10**9 }}", "not allowed"),
                          ("{{ registrant.ssn }}", "unknown placeholder")):
        resp = client.post(url + "/preview", data={"csrf_token": token, "subject": "s",
                                                   "body_html": body, "body_text": "t"})
        assert resp.status_code == 200 and message in resp.get_data(as_text=True)


def test_a_saved_template_that_fails_only_when_rendered_is_reported_not_a_500(
        app, client, smtp_server, console):
    """It parses (so saving takes it) but a filter raises while rendering: preflight,
    send and remind used to answer 500."""
    slug, regs = console
    url = f"/organizer/events/{slug}/invitations/templates/welcome/en"
    token = csrf_from(page(client, url))
    resp = client.post(url, data={
        "csrf_token": token, "body_html": "<p>Hi</p>", "body_text": "Hi",
        "subject": "Hi {{ (registrant.first_name ~ '-----------')|truncate(1) }}"})
    assert resp.status_code == 303
    preflight = client.get(f"/organizer/events/{slug}/invitations/preflight",
                           query_string={"template": "welcome", "status": "approved"})
    assert preflight.status_code == 200
    assert "AssertionError" in preflight.get_data(as_text=True)
    board = page(client, f"/organizer/events/{slug}/invitations")
    sent = client.post(f"/organizer/events/{slug}/invitations/send",
                       data={"csrf_token": csrf_from(board), "template": "welcome",
                             "status": "approved"})
    assert sent.status_code == 303
    assert "0 invitation(s) queued" in page(client, sent.headers["Location"])
    assert smtp_server.messages == [] and len(regs) > 0


def test_a_sender_stored_with_an_encoded_line_break_is_a_409_not_a_500(
        app, client, smtp_server, console):
    """Stored before the settings checked for it (or by hand): sending says what to fix."""
    slug, _regs = console
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.mail_reply_to = "=?utf-8?q?A=0AB?= <desk@example.org>"
        db.session.commit()
    board = page(client, f"/organizer/events/{slug}/invitations")
    sent = client.post(f"/organizer/events/{slug}/invitations/send",
                       data={"csrf_token": csrf_from(board), "template": "welcome",
                             "status": "approved"})
    assert sent.status_code == 409
    assert "correct the event&#39;s name, sender or reply-to address" in sent.get_data(True)
    assert smtp_server.messages == []
    with app.app_context():
        assert db.session.scalar(select(Invitation.id)) is None
    result = app.test_cli_runner().invoke(args=["invitations", "send", "--event", slug])
    assert result.exit_code == 1 and "reply-to address" in result.output


def test_a_template_too_deep_to_compile_is_refused_and_sending_still_works(
        app, client, smtp_server, console):
    slug, regs = console
    url = f"/organizer/events/{slug}/invitations/templates/welcome/en"
    token = csrf_from(page(client, url))
    deep = "{% if 1 %}" * 100 + "x" + "{% endif %}" * 100
    resp = client.post(url, data={"csrf_token": token, "subject": "Hi", "body_html": deep,
                                  "body_text": "Hi"})
    assert resp.status_code == 422 and "nested too deeply" in resp.get_data(as_text=True)
    preview = client.post(url + "/preview", data={"csrf_token": token, "subject": "s",
                                                  "body_html": deep, "body_text": "t"})
    assert preview.status_code == 200 and "nested too deeply" in preview.get_data(as_text=True)
    huge = client.post(url + "/preview", data={
        "csrf_token": token, "subject": "s", "body_text": "t",
        "body_html": "{{ registrant.first_name.center(1000000000) }}"})
    assert huge.status_code == 200 and "not allowed" in huge.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(InvitationTemplate.version).where(
            InvitationTemplate.language == "en")) == 1
    board = page(client, f"/organizer/events/{slug}/invitations")
    sent = client.post(f"/organizer/events/{slug}/invitations/send",
                       data={"csrf_token": csrf_from(board), "template": "welcome",
                             "status": "approved"})
    assert sent.status_code == 303
    assert len(smtp_server.messages) == len(regs)


def test_paused_queue_is_shown_and_can_be_resumed(app, client, console):
    slug, _ = console
    with app.app_context():
        _pause("535 5.7.8 Authentication credentials invalid")
    base = f"/organizer/events/{slug}/invitations"
    board = page(client, base)
    assert "Mail delivery is paused" in board and "535 5.7.8" in board
    resp = client.post(f"{base}/resume-delivery", data={"csrf_token": csrf_from(board)})
    assert resp.status_code == 303
    assert "Mail delivery is paused" not in page(client, base)


def test_resend_failed_and_remind_selected_from_the_board(app, client, smtp_server, console):
    slug, regs = console
    base = f"/organizer/events/{slug}/invitations"
    smtp_server.reject = lambda rcpt: "550 5.1.1 No such user" if rcpt.startswith("wei@") else None
    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight), "template": "welcome",
                                      "status": "approved"})
    board = page(client, base)
    assert "550 5.1.1 No such user" in board and board.count("delivery-failed") == 1

    smtp_server.reject = None
    resp = client.post(f"{base}/resend", data={"csrf_token": csrf_from(board)})
    assert resp.status_code == 303
    assert sorted(r[0] for _, r, _ in smtp_server.messages) == [
        "ana@example.com", "maria@example.com", "wei@example.com"]

    with app.app_context():
        inv_ids = list(db.session.scalars(select(OutboxMessage.invitation_id).where(
            OutboxMessage.recipient == "ana@example.com")))
    board = page(client, base)
    resp = client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "2",
                                               "invitation_id": [str(i) for i in inv_ids]})
    assert resp.status_code == 303
    reminders = [m for m in smtp_server.parsed() if m["Subject"].startswith("Reminder:")]
    assert [m["To"].addresses[0].addr_spec for m in reminders] == ["ana@example.com"]
    # the same form again (a double click): nothing more
    client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "2"})
    reminders = [m for m in smtp_server.parsed() if m["Subject"].startswith("Reminder:")]
    assert sorted(m["To"].addresses[0].addr_spec for m in reminders) == [
        "ana@example.com", "maria@example.com", "wei@example.com"]


def test_a_reminder_round_past_the_next_one_is_refused(app, client, smtp_server, console):
    """A hand-made round 1000 used to be stored as sent, which then held back rounds 2-999."""
    slug, _regs = console
    base = f"/organizer/events/{slug}/invitations"
    assert "Remind non-responders" not in page(client, base)  # nobody to remind yet
    assert f'href="{base}">Invitations and RSVP</a>' in page(client, f"/organizer/events/{slug}")
    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight), "template": "welcome",
                                      "status": "approved"})
    board = page(client, base)
    assert 'name="round" value="2"' in board

    def stored() -> list[tuple]:
        with app.app_context():
            return [tuple(r) for r in db.session.execute(
                select(Invitation.id, Invitation.rounds).order_by(Invitation.id))]

    before, sent = stored(), len(smtp_server.messages)
    resp = client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "1000"})
    assert resp.status_code == 409
    assert "the next reminder round is 2" in resp.get_data(as_text=True)
    assert stored() == before and len(smtp_server.messages) == sent
    # a round that is not a number says so, not "the form expired" (console review)
    resp = client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "x"})
    assert resp.status_code == 400
    assert "whole number from 2 to 1000" in resp.get_data(as_text=True)
    assert stored() == before and len(smtp_server.messages) == sent
    # the round the page offers still goes out
    resp = client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "2"})
    assert resp.status_code == 303
    assert [r for _i, r in stored()] == [2, 2, 2]
    # and the command line says why, without a traceback
    out = app.test_cli_runner().invoke(args=["invitations", "remind", "--event", slug,
                                             "--round", "9"])
    assert out.exit_code == 1 and "the next reminder round is 3" in out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)


def test_a_round_sent_to_a_few_is_completed_for_the_others_before_the_next(app, client,
                                                                            smtp_server,
                                                                            console):
    """A scale walkthrough reminded two hand-picked invitees (round 2); the button then
    offered round 3 to everyone, and those two got a second reminder minutes later."""
    slug, _regs = console
    base = f"/organizer/events/{slug}/invitations"
    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight), "template": "welcome",
                                      "status": "approved"})
    board = page(client, base)
    assert "Remind non-responders (round 2: 3)" in board and "Latest reminder" not in board
    assert 'data-confirm="Send reminder round 2 to the 3 invitees who have not answered?"' \
        in board
    with app.app_context():
        ana = db.session.scalar(select(Invitation.id).join(Registration).where(
            Registration.email == "ana@example.com"))
    client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "2",
                                        "invitation_id": str(ana)})
    board = page(client, base)
    assert 'name="round" value="2"' in board
    assert "Remind non-responders (round 2: 2)" in board
    assert re.search(r"Latest reminder: round 2, queued \d{4}-\d\d-\d\d \d\d:\d\d UTC", board)
    assert "The latest round went out" in board
    client.post(f"{base}/remind", data={"csrf_token": csrf_from(board), "round": "2"})

    def reminded() -> list[str]:
        return sorted(m["To"].addresses[0].addr_spec for m in smtp_server.parsed()
                      if m["Subject"].startswith("Reminder:"))

    assert reminded() == ["ana@example.com", "maria@example.com", "wei@example.com"]
    board = page(client, base)
    assert "Remind non-responders (round 3: 3)" in board
    assert "to the 3 invitees who have not answered and have not had it?" in board
    # the command line takes the same round by default
    out = app.test_cli_runner().invoke(args=["invitations", "remind", "--event", slug])
    assert out.exit_code == 0 and "round 3: queued 3 reminder(s)" in out.output
    assert len(reminded()) == 6


def test_bad_input_is_a_client_error(client, console):
    slug, _ = console
    base = f"/organizer/events/{slug}/invitations"
    token = csrf_from(page(client, base))
    assert client.get("/organizer/events/nope/invitations").status_code == 404
    assert client.get(f"{base}?rsvp=maybe").status_code == 400
    assert client.get(f"{base}/templates/welcome/fr").status_code == 404
    assert client.get(f"{base}/preflight?status=bogus").status_code == 400
    assert client.post(f"{base}/remind", data={"csrf_token": token, "round": "2",
                                               "invitation_id": "x"}).status_code == 400
    assert client.post(f"{base}/remind", data={"csrf_token": token, "round": "1"}
                       ).status_code == 400
    assert client.post(f"{base}/send", data={"template": "welcome"}).status_code == 400
    assert client.get(f"{base}/send").status_code == 405


def test_staff_sign_in_is_required(app, make_event):
    slug = make_event()
    anonymous = app.test_client()
    resp = anonymous.get(f"/organizer/events/{slug}/invitations")
    assert resp.status_code == 302 and "/organizer/login" in resp.headers["Location"]


def test_the_editor_opens_only_for_names_that_can_be_saved(client, console):
    slug, _ = console
    base = f"/organizer/events/{slug}/invitations/templates"
    assert client.get(f"{base}/welcome/en").status_code == 200
    assert client.get(f"{base}/reminder-2/en").status_code == 200
    for name in ("we!rd", "a" * 41, "dot.name"):
        assert client.get(f"{base}/{name}/en").status_code == 404, name


def test_an_invitee_who_withdrew_is_shown_as_withdrawn_everywhere(app, client, smtp_server,
                                                                    console):
    """They used to look invited: counted as 'no answer', an RSVP page with live buttons,
    and a reminder flash that blamed answers for leaving them out."""
    slug, regs = console
    board = page(client, f"/organizer/events/{slug}/invitations")
    assert client.post(f"/organizer/events/{slug}/invitations/send",
                       data={"csrf_token": csrf_from(board), "template": "welcome",
                             "status": "approved"}).status_code == 303
    rsvp_token = {msg["To"].addresses[0].addr_spec: re.search(
        r"/rsvp/([A-Za-z0-9_-]{40,})", text_body(msg)).group(1)
        for msg in smtp_server.parsed()}["maria@example.com"]
    with app.app_context():
        from ciie_rsvp.models import Registration
        db.session.get(Registration, regs[0]).status = "withdrawn"
        db.session.commit()

    board = page(client, f"/organizer/events/{slug}/invitations")
    assert re.search(r'id="count-no_answer">2<', board)
    assert re.search(r'id="count-withdrawn">1<', board)
    assert "registration withdrawn" in board
    resp = client.post(f"/organizer/events/{slug}/invitations/remind",
                       data={"csrf_token": csrf_from(board), "round": "2"})
    flashed = page(client, resp.headers["Location"])
    assert "2 reminder(s) queued (round 2)" in flashed and "Left out: 1 withdrawn." in flashed

    rsvp = page(client, f"/rsvp/{rsvp_token}")
    assert 'id="withdrawn"' in rsvp and 'value="accepted"' not in rsvp


def test_declined_and_withdrawn_registrations_are_never_invited(app, client, smtp_server,
                                                                 console, make_invitee):
    """'Any status' (or a hand-made status=declined) used to invite them too (console
    review)."""
    slug, regs = console
    make_invitee(slug, status="declined", email="declined@example.com")
    make_invitee(slug, status="withdrawn", email="withdrawn@example.com")
    board = page(client, f"/organizer/events/{slug}/invitations")
    for status in ("declined", "withdrawn"):
        refused = client.post(f"/organizer/events/{slug}/invitations/send",
                              data={"csrf_token": csrf_from(board), "template": "welcome",
                                    "status": status})
        assert refused.status_code == 400
    preflight = page(client, f"/organizer/events/{slug}/invitations/preflight?template=welcome"
                             "&status=")
    assert "Selected (any but declined or withdrawn)" in preflight
    sent = client.post(f"/organizer/events/{slug}/invitations/send",
                       data={"csrf_token": csrf_from(board), "template": "welcome",
                             "status": ""})
    assert sent.status_code == 303
    to = {msg["To"].addresses[0].addr_spec for msg in smtp_server.parsed()}
    assert to == {"maria@example.com", "wei@example.com", "ana@example.com",
                  "pending@example.com"}
    result = app.test_cli_runner().invoke(
        args=["invitations", "send", "--event", slug, "--status", ""])
    assert result.exit_code == 0 and "queued 0 invitation(s)" in result.output


def test_the_board_lists_invitations_a_page_at_a_time_and_searches_them(
        app, client, smtp_server, console, monkeypatch):
    """1,800 invitations on one page were 700 KB of HTML, with the actions below them all."""
    from ciie_rsvp.invitations import admin

    monkeypatch.setattr(admin, "INVITATIONS_PER_PAGE", 2)
    slug, _regs = console
    base = f"/organizer/events/{slug}/invitations"
    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight), "template": "welcome",
                                      "status": "approved"})

    def listed(html: str) -> list[str]:
        return re.findall(r'aria-label="Select ([^"]+)"', html)

    first = page(client, base)
    assert len(listed(first)) == 2 and "3 invitations; page 1 of 2." in first
    assert first.index("Remind non-responders") < first.index("<table")  # actions on top
    second = page(client, f"{base}?page=2")
    assert len(listed(second)) == 1 and set(listed(first)).isdisjoint(listed(second))
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert listed(page(client, f"{base}?page=99")) == listed(second)  # the last page
    found = page(client, f"{base}?q=WEI%40example")
    assert len(listed(found)) == 1 and "1 invitation matches." in found
    assert "No invitations match the filter" in page(client, f"{base}?q=nobody")
    for bad in ("page=0", "page=x", "page=-1", "q=" + "x" * 201):
        assert client.get(f"{base}?{bad}").status_code == 400, bad


def test_preflight_says_which_event_texts_chinese_invitations_show_in_english(
        app, client, console, make_invitee):
    slug, _regs = console
    base = f"/organizer/events/{slug}/invitations"
    url = f"{base}/preflight?template=welcome&status=approved"
    assert 'id="english-in-chinese"' not in page(client, url)  # nobody reads Chinese yet
    make_invitee(slug, language="zh-Hans", first_name="晓明", last_name="王")
    html = page(client, url)
    assert ("The 1 Chinese invitation will show hosts, organizers, place (venue, city, "
            "country) in English") in html
    assert f'href="/organizer/events/{slug}/settings"' in html
    assert "Send 4 invitations" in html  # a notice, not a refusal
    out = app.test_cli_runner().invoke(args=["invitations", "send", "--event", slug,
                                             "--dry-run"])
    assert ("note: the 1 Chinese invitation(s) will show hosts, organizers, place in English"
            in out.output)
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.hosts_zh, event.organizers_zh = "上海市商务委员会", "洛杉矶世界贸易中心"
        event.venue_zh, event.city_zh = "洛杉矶市中心", "洛杉矶"
        db.session.commit()
    assert 'id="english-in-chinese"' not in page(client, url)


def test_the_board_says_what_updates_and_reminders_show_chinese_invitees_in_english(
        app, client, console, make_invitee):
    """Preflight said it before the send, but a later update read "中国上海 NECC Shanghai"
    without a word (second scale walkthrough)."""
    slug, _regs = console
    make_invitee(slug, language="zh-Hans", first_name="晓明", last_name="王")
    base = f"/organizer/events/{slug}/invitations"
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.hosts_zh, event.organizers_zh = "上海市商务委员会", "洛杉矶世界贸易中心"
        event.venue_zh, event.city_zh = "洛杉矶市中心", "洛杉矶"
        db.session.commit()
    preflight = page(client, f"{base}/preflight?template=welcome&status=approved")
    client.post(f"{base}/send", data={"csrf_token": csrf_from(preflight), "template": "welcome",
                                      "status": "approved"})
    board = page(client, base)
    assert "update-in-english" not in board and "remind-in-english" not in board
    with app.app_context():  # moved; the Chinese venue emptied, as Settings does
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.venue, event.venue_zh = "NECC Shanghai", ""
        event.schedule_revision += 1
        db.session.commit()
    board = page(client, base)
    assert ("The 1 Chinese invitee will see the place in English: the event has no Chinese "
            "venue, city or country.") in board
    assert ("Reminders to the 1 Chinese non-responder will show place (venue, city, country) "
            "in English") in board
    out = app.test_cli_runner().invoke(args=["invitations", "update", "--event", slug,
                                             "--dry-run"])
    assert "note: the 1 Chinese invitee(s) will see the place in English" in out.output
