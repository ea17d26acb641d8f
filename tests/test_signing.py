"""Tokens signed without zlib's try (ciie_rsvp/core/signing) stay interchangeable.

The session cookie, the CSRF token and the form's time stamp are written by
``CompactSerializer``; Flask's own session serializer and Flask-WTF's ``validate_csrf`` must
read them, cookies written the old way (compressed) must still open, and a forged or
expired token is still refused.
"""

from __future__ import annotations

import pytest
from flask import g, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import ValidationError, validate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ciie_rsvp.core import signing
from tests.conftest import form_fields, valid_registration


def test_compact_tokens_read_with_itsdangerous_and_the_other_way_round():
    ours = signing.serializer("a-secret-key", "some-salt")
    theirs = URLSafeTimedSerializer("a-secret-key", salt="some-salt")
    repetitive = {"csrf_token": "a" * 200}  # zlib would shorten this one
    compressed = theirs.dumps(repetitive)
    assert compressed.startswith(".")  # itsdangerous' compressed form...
    assert ours.loads(compressed) == repetitive  # ...still reads
    token = ours.dumps(repetitive)
    assert not token.startswith(".") and theirs.loads(token) == repetitive
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer("another-key", salt="some-salt").loads(token)
    with pytest.raises(BadSignature):
        ours.loads(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_session_cookies_open_with_flask_s_interface_and_back(app):
    ours, flask_s = app.session_interface, SecureCookieSessionInterface()
    with app.test_request_context("/"):
        data = {"csrf_token": "0123456789abcdef" * 3, "lang": "zh-Hans", "_fresh": False}
        cookie = ours.get_signing_serializer(app).dumps(data)
        assert flask_s.get_signing_serializer(app).loads(cookie) == data
        old = flask_s.get_signing_serializer(app).dumps({**data, "note": "x" * 300})
        assert old.startswith(".")  # compressed, as Flask wrote it
        assert ours.get_signing_serializer(app).loads(old)["note"] == "x" * 300


def test_our_csrf_token_passes_flask_wtf_s_check_and_is_per_session(app):
    with app.test_request_context("/"):
        token = signing.generate_csrf()
        assert signing.generate_csrf() == token  # once per request, as Flask-WTF does
        raw = session["csrf_token"]
        assert len(raw) == 40 and int(raw, 16) >= 0
        validate_csrf(token)  # Flask-WTF's own check: raises on failure
        del g.csrf_token
        session["csrf_token"] = "f" * 40  # another session's raw token
        with pytest.raises(ValidationError, match="do not match"):
            validate_csrf(token)
    with app.test_request_context("/"):
        session["csrf_token"] = raw
        with pytest.raises(ValidationError, match="expired"):
            validate_csrf(token, time_limit=-1)


def test_the_form_and_its_post_use_these_tokens(client, make_event):
    slug = make_event()
    page = client.get(f"/events/{slug}/register").get_data(as_text=True)
    fields = form_fields(page)
    assert not fields["csrf_token"].startswith(".") and not fields["started"].startswith(".")
    response = client.post(f"/events/{slug}/register",
                           data={**valid_registration(), "csrf_token": fields["csrf_token"],
                                 "started": fields["started"]})
    assert response.status_code == 303
    forged = client.post(f"/events/{slug}/register",
                         data={**valid_registration(email="other@example.com"),
                               "csrf_token": fields["csrf_token"][:-3] + "abc",
                               "started": fields["started"]})
    assert forged.status_code == 400
