"""Big sends go in parts: built without SQLite's write lock, written in short transactions.

A remind to 1,800 invitees used to build every message inside one write transaction and held
the lock for 4-6 s: the public form and every other write waited that long.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import batches, services
from ciie_rsvp.models import AuditEntry, Event, Invitation, OutboxMessage
from tests.conftest import csrf_from, seed_welcome


@pytest.fixture
def board(app, client, smtp_server, make_event, make_invitee, login_organizer, monkeypatch):
    """An event with five approved registrants, a signed-in organizer, parts of two."""
    app.config["MAIL_URL"] = smtp_server.url
    monkeypatch.setattr(batches, "PART", 2)
    slug = make_event()
    seed_welcome(app, slug)
    for i in range(5):
        make_invitee(slug, first_name=f"Person{i}", email=f"p{i}@example.com")
    login_organizer()
    return slug, f"/organizer/events/{slug}/invitations"


def post(client, base: str, action: str, **data: str) -> str:
    token = csrf_from(client.get(base).get_data(as_text=True))
    resp = client.post(f"{base}/{action}", data={"csrf_token": token, **data})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_messages_are_built_while_others_can_write(app, client, board, monkeypatch):
    """While each message is rendered, another connection can take SQLite's write lock at
    once (busy timeout 0): the batch holds it only while writing a part."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's database-wide write lock")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    probes: list[str] = []

    def probe() -> None:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()

    def probing(real):
        def wrapper(*args, **kwargs):
            probe()
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(services, "_compose", probing(services._compose))
    monkeypatch.setattr(services, "_update_message", probing(services._update_message))
    slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    post(client, base, "remind", round="2")
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.schedule_revision += 1
        db.session.commit()
    post(client, base, "update")
    assert probes == ["free"] * 15  # 5 invitations, 5 reminders, 5 updates
    # Each kind went in three parts (2 + 2 + 1), and every message was queued once.
    assert count(app, AuditEntry, AuditEntry.action == "invitations_sent") == 3
    assert count(app, AuditEntry, AuditEntry.action == "schedule_update_sent") == 3
    for kind in ("invitation", "invitation_reminder", "invitation_update"):
        assert count(app, OutboxMessage, OutboxMessage.kind == kind) == 5, kind


def test_an_answer_given_while_the_round_is_built_is_respected(app, client, board,
                                                               monkeypatch):
    """The write of each part checks again that the invitee has not answered."""
    _slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    real = services.prepare_reminders

    def answer_meanwhile(event, *, round_, invitation_ids):
        batch = real(event, round_=round_, invitation_ids=invitation_ids)
        if invitation_ids:  # someone accepts between the part's build and its write
            with app.app_context():
                inv = db.session.get(Invitation, invitation_ids[0])
                inv.rsvp = "accepted"
                db.session.commit()
        return batch

    monkeypatch.setattr(services, "prepare_reminders", answer_meanwhile)
    page = post(client, base, "remind", round="2")
    assert "2 reminder(s) queued (round 2)" in page
    assert "3 answered or reminded while this round was being sent" in page
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation_reminder") == 2
    assert count(app, Invitation, Invitation.rounds == 2) == 2
    assert count(app, Invitation, Invitation.rsvp == "accepted") == 3


def test_a_refusal_after_some_parts_says_what_was_already_queued(app, client, board,
                                                                 monkeypatch):
    slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.schedule_revision += 1
        db.session.commit()
    real, calls = services.prepare_updates, []

    def refuse_the_second_part(event, invitation_ids):
        calls.append(invitation_ids)
        if len(calls) == 2:
            raise services.InvitationError("The update cannot be written (test)")
        return real(event, invitation_ids)

    monkeypatch.setattr(services, "prepare_updates", refuse_the_second_part)
    token = csrf_from(client.get(base).get_data(as_text=True))
    resp = client.post(f"{base}/update", data={"csrf_token": token})
    assert resp.status_code == 409
    assert ("The update cannot be written (test) (2 message(s) queued before this are being "
            "sent.)") in resp.get_data(as_text=True)
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation_update") == 2
    # Sending it again completes it: those told already are skipped.
    monkeypatch.setattr(services, "prepare_updates", real)
    post(client, base, "update")
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation_update") == 5


def test_a_second_wave_says_who_had_been_invited_before(app, client, board, make_invitee):
    """It used to say "1792 recipient(s) were left out", which read like a failure."""
    slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    make_invitee(slug, first_name="Late", email="late@example.com")
    page = post(client, base, "send", template="welcome", status="approved")
    assert "1 invitation(s) queued. 5 had been invited before." in page
    assert "left out" not in page
    assert "Messages sent / queued / failed" in page


def test_a_console_batch_stops_for_time_and_the_same_click_continues_it(app, client, board):
    """A batch of thousands in one request would outlast gunicorn's 30 s worker timeout: the
    console stops starting parts after BATCH_REQUEST_SECONDS (0 here: one part a request)."""
    app.config["BATCH_REQUEST_SECONDS"] = 0
    slug, base = board
    page = post(client, base, "send", template="welcome", status="approved")
    assert "2 invitation(s) queued." in page
    assert "3 more are left, to keep this page from timing out" in page
    assert "left out" not in page
    assert "Send 3 invitations" in page  # the preflight of the rest: its button continues
    page = post(client, base, "send", template="welcome", status="approved")
    assert "2 invitation(s) queued. 2 had been invited before." in page
    assert "1 more are left" in page
    post(client, base, "send", template="welcome", status="approved")
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation") == 5
    page = post(client, base, "remind", round="2")
    assert "2 reminder(s) queued (round 2)" in page and "3 more are left" in page
    board_page = client.get(base).get_data(as_text=True)
    assert "Remind non-responders (round 2: 3)" in board_page  # the same round continues
    post(client, base, "remind", round="2")
    post(client, base, "remind", round="2")
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation_reminder") == 5
    assert count(app, Invitation, Invitation.rounds == 2) == 5
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.schedule_revision += 1
        db.session.commit()
    page = post(client, base, "update")
    assert "2 update(s) queued" in page and "3 more are left" in page
    # the command line has no time limit
    app.config["BATCH_REQUEST_SECONDS"] = 0
    out = app.test_cli_runner().invoke(args=["invitations", "update", "--event", slug])
    assert out.exit_code == 0 and "queued 3 update(s)" in out.output


# --- found by a code review of the parts -----------------------------------------------------


def _unsubscribe(app, email: str) -> None:
    import datetime as dt

    from ciie_rsvp.models import MailOptOut

    with app.app_context():
        db.session.add(MailOptOut(email_normalized=email, at=dt.datetime.now(dt.UTC)))
        db.session.commit()


def test_an_unsubscribed_non_responder_does_not_hold_the_button_on_a_round(app, client, board):
    slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    _unsubscribe(app, "p0@example.com")
    page = post(client, base, "remind", round="2")
    assert "4 reminder(s) queued (round 2)" in page and "1 unsubscribed" in page
    assert "Remind non-responders (round 3: 4)" in client.get(base).get_data(as_text=True)
    out = app.test_cli_runner().invoke(args=["invitations", "remind", "--event", slug])
    assert "round 3: queued 4 reminder(s)" in out.output


def test_a_reminder_built_before_an_update_does_not_take_the_invitee_back(app, client, board,
                                                                        monkeypatch):
    """Built at revision N, written after the update to N+1: it would have stated the old
    date after the new one, and left the next update thinking everyone had it."""
    import datetime as dt

    slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    real = services.prepare_reminders

    def moved_and_updated_meanwhile(event, *, round_, invitation_ids):
        batch = real(event, round_=round_, invitation_ids=invitation_ids)
        with app.app_context():
            moved = db.session.scalar(select(Event).where(Event.slug == slug))
            if moved.schedule_revision == 0:
                moved.start_date = moved.end_date = dt.date(2030, 10, 20)
                moved.schedule_revision += 1
                db.session.commit()
                assert services.send_schedule_update(moved).updated == 5
                db.session.commit()
        return batch

    monkeypatch.setattr(services, "prepare_reminders", moved_and_updated_meanwhile)
    page = post(client, base, "remind", round="2")
    # the first part (built before the move) is passed by; the others state the new date
    assert "3 reminder(s) queued (round 2)" in page
    assert "2 answered or reminded while this round was being sent" in page
    with app.app_context():
        assert set(db.session.scalars(select(Invitation.schedule_revision))) == {1}
    # every reminder that did go out states the new date, after the update
    monkeypatch.setattr(services, "prepare_reminders", real)
    post(client, base, "remind", round="2")
    with app.app_context():
        assert set(db.session.scalars(select(Invitation.schedule_revision))) == {1}
        assert db.session.scalar(select(func.min(Invitation.rounds))) == 2


@pytest.mark.parametrize("kind", ["send", "remind"])
def test_nobody_erased_or_unsubscribed_while_a_part_is_built_is_written_to(
        app, client, board, monkeypatch, kind):
    from ciie_rsvp import privacy
    from ciie_rsvp.models import Registration

    _slug, base = board
    if kind == "remind":
        post(client, base, "send", template="welcome", status="approved")
    name = "prepare_reminders" if kind == "remind" else "prepare_invitations"
    real, done = getattr(services, name), []

    def erase_and_unsubscribe_meanwhile(*args, **kwargs):
        built = real(*args, **kwargs)
        if not done:
            done.append(True)
            with app.app_context():
                privacy.erase(db.session.scalar(select(Registration).where(
                    Registration.email == "p0@example.com")))
                db.session.commit()
            _unsubscribe(app, "p1@example.com")
        return built

    monkeypatch.setattr(services, name, erase_and_unsubscribe_meanwhile)
    if kind == "remind":
        post(client, base, "remind", round="2")
    else:
        post(client, base, "send", template="welcome", status="approved")
    with app.app_context():
        written = set(db.session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.kind == ("invitation" if kind == "send" else "invitation_reminder"))))
    assert written == {"p2@example.com", "p3@example.com", "p4@example.com"}


def test_a_database_failure_after_some_parts_says_what_was_queued(app, client, board,
                                                                  monkeypatch):
    from sqlalchemy.exc import OperationalError

    _slug, base = board
    post(client, base, "send", template="welcome", status="approved")
    real, calls = services.prepare_reminders, []

    def fail_the_second_part(event, *, round_, invitation_ids):
        calls.append(invitation_ids)
        if len(calls) == 2:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        return real(event, round_=round_, invitation_ids=invitation_ids)

    monkeypatch.setattr(services, "prepare_reminders", fail_the_second_part)
    token = csrf_from(client.get(base).get_data(as_text=True))
    resp = client.post(f"{base}/remind", data={"csrf_token": token, "round": "2"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "Nothing was saved" not in body
    assert "2 message(s) queued before that are being sent" in body
    assert count(app, OutboxMessage, OutboxMessage.kind == "invitation_reminder") == 2


def test_without_an_english_template_nothing_is_sent_and_everyone_is_counted(app, client,
                                                                          board):
    from ciie_rsvp.models import InvitationTemplate

    _slug, base = board
    with app.app_context():
        for row in db.session.scalars(select(InvitationTemplate).where(
                InvitationTemplate.language == "en")):
            db.session.delete(row)
        db.session.commit()
    page = post(client, base, "send", template="welcome", status="approved")
    assert "0 invitation(s) queued. 5 recipient(s) were left out" in page
    assert count(app, OutboxMessage) == 0


def test_the_dashboard_page_number_is_ascii_digits(client, board):
    _slug, base = board
    for bad in ("²", "١", "1.0", "+1"):
        assert client.get(base, query_string={"page": bad}).status_code == 400, bad


def test_a_real_cli_send_notes_english_in_chinese_invitations(app, make_event, make_invitee,
                                                              smtp_server):
    app.config["MAIL_URL"] = smtp_server.url
    slug = make_event()
    seed_welcome(app, slug)
    make_invitee(slug, language="zh-Hans", first_name="晓明", last_name="王")
    out = app.test_cli_runner().invoke(args=["invitations", "send", "--event", slug])
    assert out.exit_code == 0
    assert "note: the 1 Chinese invitation(s) will show" in out.output
