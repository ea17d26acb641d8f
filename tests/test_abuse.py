"""Bots and floods: honeypot, minimum fill time, rate limits, security headers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from ciie_rsvp import create_app
from ciie_rsvp.extensions import db
from ciie_rsvp.models import Registration
from tests.conftest import csrf_from, valid_registration


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Registration))


def _form(client, slug):
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    started = html.split('name="started" type="hidden" value="')[1].split('"')[0]
    return csrf_from(html), started


def test_honeypot_looks_like_success_but_stores_nothing(app, client, make_event, mailbox):
    slug = make_event()
    token, started = _form(client, slug)
    resp = client.post(f"/events/{slug}/register", data=valid_registration(
        csrf_token=token, started=started, nickname="I am a bot"))
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/registered")
    assert _count(app) == 0 and mailbox() == []


def test_too_fast_or_missing_timestamp_is_silently_dropped(app, client, make_event):
    app.config["FORM_MIN_FILL_SECONDS"] = 30
    slug = make_event()
    token, started = _form(client, slug)
    for extra in ({"started": started}, {}, {"started": "forged"}):
        resp = client.post(f"/events/{slug}/register",
                           data=valid_registration(csrf_token=token, **extra))
        assert resp.status_code == 303
    assert _count(app) == 0


def test_person_speed_submission_passes_the_traps(app, client, make_event):
    app.config["FORM_MIN_FILL_SECONDS"] = 0.5
    slug = make_event()
    token, started = _form(client, slug)
    time.sleep(0.6)
    resp = client.post(f"/events/{slug}/register",
                       data=valid_registration(csrf_token=token, started=started))
    assert resp.status_code == 303
    assert _count(app) == 1


@pytest.fixture
def limited_client(app_config, make_event):
    # Flask-Limiter keeps its switches on the (process-wide) extension object, so this app
    # must be built after the default test app.
    app = create_app({**app_config, "RATELIMIT_ENABLED": True,
                      "REGISTER_LIMIT_PER_IP": "6 per hour",
                      "REGISTER_LIMIT_PER_EMAIL": "2 per hour"})
    return app, app.test_client()


def test_rate_limit_per_email_and_per_address(limited_client, make_event):
    app, client = limited_client
    slug = make_event()
    codes = []
    for _ in range(3):
        token, started = _form(client, slug)
        codes.append(client.post(f"/events/{slug}/register", data=valid_registration(
            csrf_token=token, started=started)).status_code)
    assert codes == [303, 303, 429]
    for i in range(5):
        token, started = _form(client, slug)
        codes.append(client.post(f"/events/{slug}/register", data=valid_registration(
            csrf_token=token, started=started, email=f"other{i}@example.com")).status_code)
    # six accepted POSTs from this address per hour (the one refused per email did not count)
    assert codes[3:] == [303, 303, 303, 303, 429]
    token, started = _form(client, slug)
    page = client.post(f"/events/{slug}/register", data=valid_registration(
        csrf_token=token, started=started, email="late@example.com"))
    assert page.status_code == 429
    assert "Please wait a moment" in page.get_data(as_text=True)
    assert client.get(f"/events/{slug}/register").status_code == 200  # reading stays open


def test_forms_left_without_an_email_are_not_counted_against_one_shared_address(
        limited_client, make_event):
    """Every visitor who leaves the email empty used to share the per-email count: past the
    limit they got "too many requests" instead of the form's errors."""
    app, client = limited_client
    slug = make_event()
    for _ in range(3):
        token, started = _form(client, slug)
        page = client.post(f"/events/{slug}/register", data=valid_registration(
            csrf_token=token, started=started, email=""))
        assert page.status_code == 422
        assert "Enter your email address." in page.get_data(as_text=True)
    token, started = _form(client, slug)
    assert client.post(f"/events/{slug}/register", data=valid_registration(
        csrf_token=token, started=started)).status_code == 303


def test_security_headers_on_every_kind_of_response(client, make_event):
    slug = make_event()
    for path in ("/", f"/events/{slug}/register", "/healthz", "/static/app.css", "/nope",
                 "/r/not-a-token", "/organizer/login"):
        resp = client.get(path)
        h = resp.headers
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "no-referrer", path
        assert h["X-Frame-Options"] == "DENY", path
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "'unsafe-inline'" not in csp, path
        assert h["Strict-Transport-Security"].startswith("max-age="), path  # BASE_URL is https


def test_no_hsts_for_a_plain_http_deployment(app_config):
    app = create_app({**app_config, "BASE_URL": "http://127.0.0.1:5000"})
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


def test_pages_have_no_inline_scripts_or_styles(client, make_event):
    slug = make_event()
    html = client.get(f"/events/{slug}/register").get_data(as_text=True)
    assert "<script" not in html and " style=" not in html and "<style" not in html
