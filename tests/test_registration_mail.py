"""An organizer sees the mail a registration was sent, and can send a failed one again.

A confirmation the relay refused used to be visible only as a count in ``mail status``; the
registrant never got their private link and nobody could send it again. The registration's
page now lists its messages with their delivery state and the relay's reason, with "Send
again" for a failed one; ``ciie-rsvp mail retry-failed`` does the same for all of them. Mail
goes to a real SMTP server on loopback.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, OutboxMessage, Registration
from tests.conftest import csrf_from, text_body

MANAGE = re.compile(r"/r/([A-Za-z0-9_-]{40,})")


def _fail_all(app, reason: str = "550 mailbox unavailable") -> None:
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(status="failed", last_error=reason))
        db.session.commit()


def test_a_failed_confirmation_is_shown_and_sent_again_from_the_registration_page(
        app, client, smtp_server, register, make_event, login_organizer):
    app.config["MAIL_URL"] = smtp_server.url
    app.config["MAIL_DELIVERY"] = "none"  # queued only: this test decides what happens
    slug = make_event()
    assert register(slug).status_code == 303
    _fail_all(app)
    with app.app_context():
        reg_id = db.session.scalar(select(Registration.id))
        box_id = db.session.scalar(select(OutboxMessage.id))

    login_organizer("staff")
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    mail = page[page.index('id="mail"'):page.index('id="notes"')]
    assert "Registration received" in mail and "failed" in mail
    assert "550 mailbox unavailable" in mail
    assert "Send again" in mail

    app.config["MAIL_DELIVERY"] = "inline"
    resp = client.post(f"/organizer/registrations/{reg_id}/mail/{box_id}/resend",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    assert "queued again" in client.get(resp.headers["Location"]).get_data(as_text=True)
    [msg] = smtp_server.parsed()
    assert MANAGE.search(text_body(msg))  # the private link, at last
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status)) == "sent"
        assert "mail_resent" in db.session.scalars(select(AuditEntry.action)).all()
    # a message that did not fail is not sent twice
    resp = client.post(f"/organizer/registrations/{reg_id}/mail/{box_id}/resend",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 409
    assert len(smtp_server.parsed()) == 1


def test_resending_needs_the_registrations_own_message_sign_in_and_csrf(
        app, client, smtp_server, register, make_event, login_organizer):
    app.config["MAIL_URL"] = smtp_server.url
    app.config["MAIL_DELIVERY"] = "none"
    slug = make_event()
    assert register(slug).status_code == 303
    assert register(slug, email="other@example.com").status_code == 303
    _fail_all(app)
    with app.app_context():
        first, second = db.session.scalars(select(Registration.id).order_by(Registration.id))
        other_box = db.session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.registration_id == second))
    url = f"/organizer/registrations/{first}/mail/{other_box}/resend"
    anonymous = csrf_from(client.get("/organizer/login").get_data(as_text=True))
    resp = client.post(url, data={"csrf_token": anonymous})
    assert resp.status_code in (302, 303) and "/organizer/login" in resp.headers["Location"]
    login_organizer("staff")
    assert client.post(url).status_code == 400  # no CSRF token
    page = client.get(f"/organizer/registrations/{first}").get_data(as_text=True)
    assert client.post(url, data={"csrf_token": csrf_from(page)}).status_code == 404
    assert client.get(url).status_code == 405
    with app.app_context():
        assert set(db.session.scalars(select(OutboxMessage.status))) == {"failed"}


def test_mail_retry_failed_sends_failed_registration_mail_again_but_not_invitations(
        app, smtp_server, register, make_event, make_invitee):
    from tests.conftest import seed_welcome, send

    app.config["MAIL_URL"] = smtp_server.url
    slug = make_event()
    assert register(slug).status_code == 303
    seed_welcome(app, slug)
    make_invitee(slug)
    assert send(app, slug).exit_code == 0
    sent_before = len(smtp_server.parsed())
    _fail_all(app)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["mail", "failed"])
    assert listed.exit_code == 0
    assert "registration_received" in listed.output and "550 mailbox unavailable" in listed.output
    result = runner.invoke(args=["mail", "retry-failed"])
    assert result.exit_code == 0, result.output
    assert "queued 1 failed message(s) again" in result.output
    assert "invitations resend-failed" in result.output  # where invitations go instead
    new = smtp_server.parsed()[sent_before:]
    assert [m["Subject"].split(":")[0] for m in new] == ["Registration received"]
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status).where(
            OutboxMessage.kind == "invitation")) == "failed"


def test_a_refused_note_keeps_its_text_on_a_page_with_a_failed_message(
        app, client, smtp_server, register, make_event, login_organizer):
    """The page's 'Send again' button needs a form the note's error page did not get: 500,
    and the typed note was lost (found by a console review)."""
    app.config["MAIL_URL"] = smtp_server.url
    app.config["MAIL_DELIVERY"] = "none"
    slug = make_event()
    assert register(slug).status_code == 303
    _fail_all(app)
    with app.app_context():
        reg_id = db.session.scalar(select(Registration.id))
    login_organizer("staff")
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    long_note = "Called the export manager. " * 200  # over the 5,000 characters allowed
    resp = client.post(f"/organizer/registrations/{reg_id}/notes",
                       data={"csrf_token": csrf_from(page), "body": long_note})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "<title>Error: " in html and 'id="error-summary"' in html
    assert "Called the export manager. Called" in html  # the text is still there
    assert "Send again" in html


def test_failed_invitation_mail_to_an_unsubscribed_address_is_not_offered_again(
        app, client, invited, login_organizer):
    """The page offered 'Send again' (then answered 409), and 'Resend failed' did not say it
    had left such messages out (console review)."""
    slug, token, reg_id = invited()
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    _fail_all(app)
    login_organizer("staff")
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    mail = page[page.index('id="mail"'):page.index('id="notes"')]
    assert "unsubscribed: not sent again" in mail and "Send again" not in mail
    board = client.get(f"/organizer/events/{slug}/invitations").get_data(as_text=True)
    resp = client.post(f"/organizer/events/{slug}/invitations/resend",
                       data={"csrf_token": csrf_from(board)})
    flashed = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "0 failed message(s) queued again. 1 left out: the address unsubscribed." in flashed
