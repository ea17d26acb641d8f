"""Sign-in throttling (per account and per client address), roles, and organizer management."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from ciie_rsvp.extensions import db
from ciie_rsvp.models import LoginThrottle, Organizer
from tests.conftest import csrf_from, sign_in


@pytest.fixture
def app_config(app_config):
    app_config.update(LOGIN_MAX_FAILURES_ACCOUNT=3, LOGIN_MAX_FAILURES_ADDRESS=5,
                      LOGIN_LOCKOUT_SECONDS=600, TRUSTED_PROXY_HOPS=1)
    return app_config


def _expire_locks(app):
    """Let the lockout time pass (moves the stored deadline, no clock mocking)."""
    with app.app_context():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.execute(update(LoginThrottle).where(LoginThrottle.locked_until.is_not(None))
                           .values(locked_until=past))
        db.session.commit()


def _sign_in_from(client, email, password, forwarded_for):
    page = client.get("/organizer/login")
    return client.post("/organizer/login", headers={"X-Forwarded-For": forwarded_for}, data={
        "email": email, "password": password, "csrf_token": csrf_from(page.get_data(True))})


def test_account_locks_after_failures_then_opens_again(app, client, make_organizer):
    email = make_organizer()
    for _ in range(3):
        assert sign_in(client, email, password="wrong password!!").status_code == 401
    locked = sign_in(client, email)  # even the right password is refused while locked
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in locked.get_data(as_text=True)
    # an unknown email gets the same treatment (no account enumeration through the lock)
    for _ in range(3):
        sign_in(client, "nobody@wtcla.example.org", password="wrong password!!")
    assert sign_in(client, "nobody@wtcla.example.org").status_code == 429
    _expire_locks(app)
    assert sign_in(client, email).status_code == 303  # never locked out for good
    with app.app_context():
        # whatever was typed as an email is stored hashed only
        assert all(len(k) == 64 and "@" not in k
                   for k in db.session.scalars(select(LoginThrottle.key)))


def test_success_clears_the_account_counter(app, client, make_organizer):
    email = make_organizer()
    for _ in range(2):
        sign_in(client, email, password="wrong password!!")
    assert sign_in(client, email).status_code == 303
    client.post("/organizer/logout", data={"csrf_token": csrf_from(
        client.get("/organizer/").get_data(True))})
    for _ in range(2):
        assert sign_in(client, email, password="wrong password!!").status_code == 401
    assert sign_in(client, email).status_code == 303


def test_address_throttle_ignores_forged_forwarded_for(app, client, make_organizer):
    """One client spraying many accounts is stopped, whatever X-Forwarded-For it forges:
    with one trusted proxy hop only the entry our proxy appended (the last) counts."""
    real = make_organizer()
    for i in range(5):
        resp = _sign_in_from(client, f"victim{i}@wtcla.example.org", "guess guess guess",
                             f"10.9.8.{i}, 198.51.100.7")
        assert resp.status_code == 401
    blocked = _sign_in_from(client, real, "correct horse battery staple",
                            "203.0.113.99, 198.51.100.7")
    assert blocked.status_code == 429
    # another client (another real address) is not affected
    other = _sign_in_from(client, real, "correct horse battery staple", "192.0.2.10")
    assert other.status_code == 303


def test_staff_gets_403_on_admin_pages(client, login_organizer):
    login_organizer("staff")
    assert client.get("/organizer/admin/organizers").status_code == 403
    assert client.get("/organizer/admin/exports").status_code == 403
    token = csrf_from(client.get("/organizer/").get_data(True))
    assert client.post("/organizer/admin/organizers", data={"csrf_token": token}).status_code == 403
    assert client.post("/organizer/admin/organizers/1/active",
                       data={"csrf_token": token, "active": "0"}).status_code == 403


def test_admin_creates_and_deactivates_an_organizer(app, client, login_organizer):
    login_organizer("admin")
    page = client.get("/organizer/admin/organizers")
    assert page.status_code == 200
    resp = client.post("/organizer/admin/organizers", data={
        "csrf_token": csrf_from(page.get_data(True)), "email": "Lin.Na@wtcla.example.org",
        "name": "Lin Na", "role": "staff", "password": "a long enough password"})
    assert resp.status_code == 303
    other = app.test_client()
    assert sign_in(other, "lin.na@wtcla.example.org", "a long enough password").status_code == 303
    assert other.get("/organizer/").status_code == 200
    with app.app_context():
        lin_id = db.session.scalar(
            select(Organizer.id).where(Organizer.email == "lin.na@wtcla.example.org"))
    page = client.get("/organizer/admin/organizers")
    assert "lin.na@wtcla.example.org" in page.get_data(as_text=True)
    resp = client.post(f"/organizer/admin/organizers/{lin_id}/active",
                       data={"csrf_token": csrf_from(page.get_data(True)), "active": "0"})
    assert resp.status_code == 303
    # her open session ends at once, and she cannot sign in again
    assert other.get("/organizer/").status_code == 302
    assert sign_in(other, "lin.na@wtcla.example.org", "a long enough password").status_code == 401


def test_admin_form_errors_are_422_not_500(client, login_organizer):
    email = login_organizer("admin")
    page = client.get("/organizer/admin/organizers")
    resp = client.post("/organizer/admin/organizers", data={
        "csrf_token": csrf_from(page.get_data(True)), "email": email, "name": "Dup",
        "role": "staff", "password": "a long enough password"})
    assert resp.status_code == 422 and "already exists" in resp.get_data(as_text=True)
    resp = client.post("/organizer/admin/organizers", data={
        "csrf_token": csrf_from(page.get_data(True)), "email": "x@example.org", "name": "X",
        "role": "root", "password": "short"})
    assert resp.status_code == 422
