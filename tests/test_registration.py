"""The public registration form, end to end through the real app and database."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, Event, OutboxMessage, Registration
from tests.conftest import csrf_from, form_fields, text_body, valid_registration

MANAGE_LINK = re.compile(r"https://rsvp\.example\.org/r/([A-Za-z0-9_-]{40,})")


def registrations(app, **where):
    with app.app_context():
        query = select(Registration)
        for key, value in where.items():
            query = query.where(getattr(Registration, key) == value)
        return list(db.session.scalars(query))


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Registration))


def test_index_lists_seeded_style_event(client, make_event):
    slug = make_event()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Meet in Shanghai, Share the Future" in html
    assert f"/events/{slug}/register" in html


def test_form_shows_every_field_and_the_privacy_notice(client, make_event):
    slug = make_event()
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    for name in ("company", "website", "sector", "company_size", "county", "first_name",
                 "last_name", "job_title", "email", "phone", "interests", "delegates",
                 "language", "notes", "consent"):
        assert f'name="{name}"' in html, name
    assert html.count("<option") >= 58 + 6 + 5  # counties, sectors, sizes
    assert "Privacy notice at collection" in html
    assert 'value="medical_healthcare"' in html and ">Yuba<" in html


def test_valid_registration_is_stored_and_confirmed_by_email(app, client, register, make_event,
                                                             mailbox):
    slug = make_event()
    resp = register(slug)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/events/{slug}/registered")
    assert "has been received" in client.get(resp.headers["Location"]).get_data(as_text=True)

    [reg] = registrations(app)
    assert reg.company == "Golden State Almond Growers, Inc."
    assert reg.phone == "+12135550142"  # E.164
    assert reg.interests == ["exhibit", "delegation"]
    assert reg.delegates == 3 and reg.status == "submitted" and reg.county == "Fresno"
    assert reg.consent_at is not None and reg.consent_notice_version
    assert reg.email_normalized == "maria.lopez@almonds.example.com"

    [msg] = mailbox()
    assert msg["To"] == "Maria Lopez <maria.lopez@almonds.example.com>"
    assert "Registration received" in msg["Subject"]
    assert msg["Message-ID"]
    body = text_body(msg)
    token = MANAGE_LINK.search(body).group(1)
    assert len(token) >= 40
    # stored hashed only
    assert token not in reg.manage_token_hash
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status)) == "sent"


def test_chinese_and_accented_names_are_stored_exactly(app, register, make_event, mailbox):
    slug = make_event()
    resp = register(slug, first_name="晓明", last_name="王", company="上海进出口贸易有限公司",
                    job_title="Directrice générale", language="zh-Hans",
                    email="wang@example.cn", notes="Ünïcödé ✓ 你好\nsecond line")
    assert resp.status_code == 303
    [reg] = registrations(app)
    assert (reg.first_name, reg.last_name, reg.company) == ("晓明", "王", "上海进出口贸易有限公司")
    assert reg.job_title == "Directrice générale"
    assert reg.notes == "Ünïcödé ✓ 你好\nsecond line"
    [msg] = mailbox()
    assert "王晓明" in text_body(msg)
    assert "报名已收到" in msg["Subject"]


def test_repeated_submission_keeps_one_row_and_same_page(app, client, register, make_event,
                                                         mailbox):
    slug = make_event()
    first = register(slug)
    second = register(slug, email="Maria.Lopez@ALMONDS.example.com", company="Someone Else LLC")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    [reg] = registrations(app)
    assert reg.company == "Golden State Almond Growers, Inc."  # nothing altered
    msgs = mailbox()
    assert len(msgs) == 2
    assert "already registered" in msgs[1]["Subject"]
    old = MANAGE_LINK.search(text_body(msgs[0])).group(1)
    new = MANAGE_LINK.search(text_body(msgs[1])).group(1)
    assert client.get(f"/r/{new}").status_code == 200
    assert client.get(f"/r/{old}").status_code == 404  # replaced by the newer link


def test_manage_link_view_correct_withdraw_restore(app, client, register, make_event, mailbox):
    slug = make_event()
    register(slug)
    token = MANAGE_LINK.search(text_body(mailbox()[0])).group(1)
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Golden State Almond Growers" in html and "maria.lopez@almonds.example.com" in html
    assert page.headers["Cache-Control"] == "no-store"

    data = valid_registration(company="Golden State Almonds", delegates="5")
    data.pop("email"), data.pop("consent")
    data["csrf_token"] = csrf_from(html)
    resp = client.post(f"/r/{token}", data=data)
    assert resp.status_code == 303
    [reg] = registrations(app)
    assert reg.company == "Golden State Almonds" and reg.delegates == 5

    html = client.get(f"/r/{token}").get_data(as_text=True)
    resp = client.post(f"/r/{token}/withdraw", data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 303
    assert registrations(app)[0].status == "withdrawn"
    html = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Restore my registration" in html
    client.post(f"/r/{token}/restore", data={"csrf_token": csrf_from(html)})
    assert registrations(app)[0].status == "submitted"
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["submitted", "edited", "withdrawn", "restored"]


def test_withdraw_needs_post_and_csrf(app, client, register, make_event, mailbox):
    slug = make_event()
    register(slug)
    token = MANAGE_LINK.search(text_body(mailbox()[0])).group(1)
    assert client.get(f"/r/{token}/withdraw").status_code == 405
    assert client.post(f"/r/{token}/withdraw").status_code == 400
    assert registrations(app)[0].status == "submitted"


@pytest.mark.parametrize("token", ["nope", "a" * 43, "x" * 500, "%00", "../../etc/passwd"])
def test_bad_manage_tokens_are_friendly_404s(client, token):
    resp = client.get(f"/r/{token}")
    assert resp.status_code == 404
    assert "not valid" in resp.get_data(as_text=True) or resp.status_code == 404


BAD_INPUTS = [
    ({"company": ""}, "Company"),
    ({"company": "x" * 201}, "at most 200"),
    ({"first_name": "Ann\x1b"}, "control characters"),  # NUL: tests/test_bad_input.py
    ({"last_name": "Smith\r\nBcc: victim@example.com"}, "line breaks"),
    ({"email": "a\r\nBcc: x@y"}, "email address"),
    ({"email": "not-an-email"}, "email address"),
    ({"email": "=?UTF-8?Q?=0A?=Bcc:x@y.com"}, "email address"),
    ({"phone": "12"}, "phone"),
    ({"phone": "call me maybe"}, "phone"),
    ({"website": "javascript:alert(1)"}, "http"),
    ({"website": "ftp://files.example.com"}, "http"),
    ({"sector": "weapons"}, "Not a valid choice"),
    ({"county": "Atlantis"}, "Not a valid choice"),
    ({"interests": ["spying"]}, "not a valid choice"),
    ({"interests": None}, "at least one"),
    ({"delegates": "0"}, "between 1 and 20"),
    ({"delegates": "21"}, "between 1 and 20"),
    ({"delegates": "lots"}, "delegates"),
    ({"language": "fr"}, "Not a valid choice"),
    ({"consent": None}, "privacy notice"),
    ({"notes": "n" * 2001}, "at most 2000"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUTS)
def test_bad_input_gets_field_error_and_nothing_is_stored(app, register, make_event, mailbox,
                                                          overrides, message):
    slug = make_event()
    resp = register(slug, **overrides)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert message.lower() in html.lower()
    assert "Please correct the following" in html
    assert count(app) == 0
    assert mailbox() == []


def test_form_keeps_what_was_typed(register, make_event):
    slug = make_event()
    html = register(slug, phone="bogus", company="Pacific Robotics 太平洋").get_data(as_text=True)
    assert 'value="Pacific Robotics 太平洋"' in html
    assert 'value="maria.lopez@almonds.example.com"' in html
    assert '<option selected value="Fresno">' in html


def test_missing_csrf_token_is_refused(app, client, make_event):
    slug = make_event()
    resp = client.post(f"/events/{slug}/register", data=valid_registration())
    assert resp.status_code == 400
    assert "security token" in resp.get_data(as_text=True)
    assert count(app) == 0


def test_wrong_methods_and_unknown_events(client, make_event):
    slug = make_event()
    assert client.put(f"/events/{slug}/register").status_code == 405
    assert client.delete(f"/events/{slug}/register").status_code == 405
    assert client.get("/events/no-such-event/register").status_code == 404
    assert client.get("/events/" + "x" * 300 + "/register").status_code == 404


def test_closed_and_unopened_registration(app, client, register, make_event):
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    future = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    closed = make_event(registration_closes_at=past)
    later = make_event(registration_opens_at=future)
    for slug, text in ((closed, "closed"), (later, "not open yet")):
        page = client.get(f"/events/{slug}/register")
        assert page.status_code == 403
        assert text in page.get_data(as_text=True)
        assert client.post(f"/events/{slug}/register", data=valid_registration()).status_code in (
            400, 403)
    assert count(app) == 0


def test_fields_a_visitor_must_not_set_are_ignored(app, register, make_event):
    slug = make_event()
    other = make_event()
    resp = register(slug, status="approved", id="999", event_id="1", event=other,
                    created_at="2000-01-01", manage_token_hash="0" * 64, source="organizer")
    assert resp.status_code == 303
    [reg] = registrations(app)
    assert reg.status == "submitted" and reg.id != 999 and reg.source == "web"
    assert reg.created_at.year >= 2026 and reg.manage_token_hash != "0" * 64
    with app.app_context():
        assert db.session.get(Event, reg.event_id).slug == slug


def test_oversized_body_and_too_many_fields(app, client, make_event):
    slug = make_event()
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    token = csrf_from(html)
    big = valid_registration(notes="x" * 400_000, csrf_token=token)
    assert client.post(f"/events/{slug}/register", data=big).status_code == 413
    many = valid_registration(csrf_token=token)
    many.update({f"f{i}": "1" for i in range(3000)})
    assert client.post(f"/events/{slug}/register", data=many).status_code in (400, 413)
    assert count(app) == 0


def test_links_in_mail_ignore_the_host_header(client, make_event, mailbox):
    slug = make_event()
    page = client.get(f"/events/{slug}/register", headers={"Host": "evil.example.net"})
    data = valid_registration(**form_fields(page.get_data(as_text=True)))
    client.post(f"/events/{slug}/register", data=data, headers={"Host": "evil.example.net"})
    body = text_body(mailbox()[0])
    assert "evil.example.net" not in body
    assert "https://rsvp.example.org/r/" in body


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_unreachable_database(tmp_path):
    from ciie_rsvp import create_app

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "t",
                      "SQLALCHEMY_DATABASE_URI":
                          "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "unreachable"
