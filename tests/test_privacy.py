"""CCPA rights from the manage link (download, delete) and the retention purge."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, OutboxMessage, Registration
from tests.conftest import csrf_from, text_body


def _token(mailbox) -> str:
    return re.search(r"/r/([A-Za-z0-9_-]{40,})", text_body(mailbox()[-1])).group(1)


def test_registrant_downloads_their_data_as_json(app, client, register, make_event, mailbox):
    slug = make_event()
    register(slug, first_name="晓明", last_name="王")
    token = _token(mailbox)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert client.get(f"/r/{token}/data").status_code == 405
    resp = client.post(f"/r/{token}/data", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(resp.get_data(as_text=True))
    assert data["registration"]["first_name"] == "晓明"
    assert data["registration"]["phone"] == "+12135550142"
    assert data["event"]["slug"] == slug
    assert data["emails_sent_to_you"][0]["subject"].startswith("Registration received")
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "data_exported"


def test_registrant_deletes_their_data(app, client, register, make_event, mailbox):
    slug = make_event()
    register(slug)
    token = _token(mailbox)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    # without the confirmation tick nothing happens, and the page says why at the box
    resp = client.post(f"/r/{token}/erase", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "<title>Error: Your registration" in html and 'href="#confirm"' in html
    assert re.search(r'<input aria-describedby="confirm-error" aria-invalid="true" id="confirm"',
                     html)
    assert '<p class="error" id="confirm-error">Tick the box to confirm.</p>' in html
    with app.app_context():
        assert db.session.scalar(select(Registration.company)) != ""
    resp = client.post(f"/r/{token}/erase", data={"csrf_token": csrf_from(page), "confirm": "y"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/erased")
    assert "was deleted" in client.get("/erased").get_data(as_text=True)
    with app.app_context():
        reg = db.session.scalar(select(Registration))
        assert (reg.company, reg.first_name, reg.email, reg.phone, reg.notes) == ("",) * 5
        assert reg.status == "withdrawn" and reg.erased_at is not None
        assert (reg.sector, reg.county, reg.delegates) == ("food_agriculture", "Fresno", 3)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert "erased" in db.session.scalars(select(AuditEntry.action)).all()
    assert client.get(f"/r/{token}").status_code == 404
    # the address can register again afterwards
    assert register(slug).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 2


def test_retention_purge_is_a_dry_run_by_default(app, register, make_event, runner,
                                                 make_registration):
    past = make_event(start_date=dt.date(2022, 10, 13), end_date=dt.date(2022, 10, 13))
    future = make_event(start_date=dt.date(2099, 1, 1), end_date=dt.date(2099, 1, 2))
    # registered in 2022, while it was open (an event that has ended takes none now)
    make_registration(past, email="first@example.com")
    make_registration(past, email="second@example.com")
    register(future)
    out = runner.invoke(args=["retention", "purge", "--event", past, "--older-than", "365"])
    assert out.exit_code == 0 and "dry run: would anonymize 2 registrations" in out.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Registration.erased_at.isnot(None))) \
            == 0
    out = runner.invoke(args=["retention", "purge", "--event", past, "--older-than", "365",
                              "--apply"])
    assert "anonymized 2 registrations" in out.output
    out = runner.invoke(args=["retention", "purge", "--event", future, "--older-than", "0",
                              "--apply"])
    assert "nothing to do" in out.output
    out = runner.invoke(args=["retention", "purge", "--event", "nope", "--older-than", "1"])
    assert out.exit_code != 0 and "no event" in out.output
    with app.app_context():
        erased = db.session.scalars(select(Registration).where(
            Registration.erased_at.isnot(None))).all()
        assert len(erased) == 2 and all(r.email == "" for r in erased)


def test_organizer_processes_a_written_request(app, client, register, make_event, mailbox,
                                               make_organizer):
    from tests.conftest import sign_in

    slug = make_event()
    register(slug)
    with app.app_context():
        reg_id = db.session.scalar(select(Registration.id))
    staff = make_organizer("staff")
    sign_in(client, staff)
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{reg_id}/data",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 200
    assert json.loads(resp.get_data(as_text=True))["registration"]["last_name"] == "Lopez"
    assert client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(page), "confirm": "y"}).status_code == 403
    client.post("/organizer/logout", data={"csrf_token": csrf_from(page)})
    sign_in(client, make_organizer("admin"))
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(page)}).status_code == 400
    resp = client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(page), "confirm": "y"})
    assert resp.status_code == 303
    erased_page = client.get(resp.headers["Location"]).get_data(True)
    assert "Personal data erased on" in erased_page
    # a heading and a list link that are not empty (console review: axe empty-heading)
    assert f"<h1>(personal data erased) #{reg_id}</h1>" in erased_page
    listing = client.get(f"/organizer/events/{slug}/registrations").get_data(True)
    assert f">(personal data erased) #{reg_id}</a>" in listing
    with app.app_context():
        reg = db.session.get(Registration, reg_id)
        assert reg.erased_at is not None and reg.last_name == ""
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.registration_id == reg_id).order_by(AuditEntry.id)).all()
        assert [a.action for a in audit][-2:] == ["data_exported", "erased"]
        assert audit[-1].organizer_id is not None


def test_an_erased_invitee_cannot_be_brought_back_through_the_rsvp_link(
        app, client, invited, login_organizer):
    """The RSVP link issued a fresh manage link, through which the erased registration could
    be restored and filled in again (found by a security review)."""
    _slug, token, reg_id = invited()
    assert client.get(f"/rsvp/{token}").status_code == 200
    login_organizer("admin")
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(page), "confirm": "y"}).status_code == 303
    for path in (f"/rsvp/{token}", f"/rsvp/{token}/calendar.ics", f"/rsvp/{token}/manage",
                 f"/unsubscribe/{token}"):
        assert client.get(path).status_code == 404, path
    fresh = csrf_from(page)  # signing in started a new session
    assert client.post(f"/rsvp/{token}/manage", data={"csrf_token": fresh}).status_code == 404
    assert client.post(f"/rsvp/{token}", data={"csrf_token": fresh,
                                               "answer": "accepted"}).status_code == 404
    with app.app_context():
        reg = db.session.get(Registration, reg_id)
        assert reg.erased_at is not None and reg.company == "" and reg.status == "withdrawn"


def test_organizer_notes_are_part_of_the_data_download_and_go_with_the_erasure(
        app, client, register, make_event, mailbox, login_organizer):
    """Notes about a registrant ('cell 951-555-0199') were missing from their download and
    stayed after erasure, where new ones could still be added (console review)."""
    from ciie_rsvp.models import OrganizerNote

    slug = make_event()
    register(slug)
    token = _token(mailbox)
    with app.app_context():
        reg_id = db.session.scalar(select(Registration.id))
    login_organizer("admin")
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert client.post(f"/organizer/registrations/{reg_id}/notes",
                       data={"csrf_token": csrf_from(page),
                             "body": "Peter Wong, cell 951-555-0199"}).status_code == 303
    manage = client.get(f"/r/{token}").get_data(as_text=True)
    data = json.loads(client.post(f"/r/{token}/data",
                                  data={"csrf_token": csrf_from(manage)}).get_data(True))
    assert [n["note"] for n in data["organizer_notes"]] == ["Peter Wong, cell 951-555-0199"]

    assert client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(page), "confirm": "y"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrganizerNote)) == 0
    page = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    assert "951-555-0199" not in page
    resp = client.post(f"/organizer/registrations/{reg_id}/notes",
                       data={"csrf_token": csrf_from(page), "body": "He called again"})
    assert resp.status_code == 409 and "no notes about the person" in resp.get_data(True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrganizerNote)) == 0
