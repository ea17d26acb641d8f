"""Organizer sign-in: sessions, safe redirects, roles, and that every console route is guarded."""

from __future__ import annotations

import pytest

from tests.conftest import ORGANIZER_PASSWORD, csrf_from, sign_in


def test_create_from_cli_and_sign_in(app, client, runner):
    result = runner.invoke(args=["organizer", "create", "Chen.Wei@WTCLA.example.org",
                                 "--name", "Chen Wei", "--role", "admin", "--password-stdin"],
                           input=ORGANIZER_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created admin chen.wei@wtcla.example.org" in result.output
    resp = sign_in(client, "chen.wei@wtcla.example.org")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/organizer/")
    page = client.get("/organizer/")
    assert page.status_code == 200 and "Chen Wei" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_cli_refuses_short_password_and_duplicates(runner, make_organizer):
    result = runner.invoke(args=["organizer", "create", "a@example.org", "--password-stdin"],
                           input="short\n")
    assert result.exit_code != 0 and "at least 12" in result.output
    email = make_organizer()
    result = runner.invoke(args=["organizer", "create", email, "--password-stdin"],
                           input=ORGANIZER_PASSWORD + "\n")
    assert result.exit_code != 0 and "already exists" in result.output


def test_unknown_email_and_wrong_password_look_the_same(client, make_organizer):
    email = make_organizer()
    a = sign_in(client, "nobody@example.org")
    b = sign_in(client, email, password="wrong password here")
    assert a.status_code == b.status_code == 401
    strip = lambda r: r.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert strip(a) == strip(b)


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/%09/evil.example",
                                    "https://evil.example/", "javascript:alert(1)",
                                    "/\t/evil.example", " //evil.example"])
def test_next_redirect_only_same_site(client, make_organizer, target):
    email = make_organizer()
    resp = sign_in(client, email, next_url=target)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/organizer/"


def test_next_redirect_to_console_page(client, make_organizer):
    resp = sign_in(client, make_organizer(), next_url="/organizer/?page=2")
    assert resp.headers["Location"] == "/organizer/?page=2"


def test_signed_out_cookie_replayed_is_refused(client, login_organizer):
    login_organizer()
    cookie = client.get_cookie("session")
    assert cookie is not None
    saved = cookie.value
    page = client.get("/organizer/")
    resp = client.post("/organizer/logout", data={"csrf_token": csrf_from(page.get_data(True))})
    assert resp.status_code == 303
    client.set_cookie("session", saved)
    replay = client.get("/organizer/")
    assert replay.status_code == 302 and "/organizer/login" in replay.headers["Location"]


def test_logout_needs_post(client, login_organizer):
    login_organizer()
    assert client.get("/organizer/logout").status_code == 405


def test_every_organizer_route_requires_sign_in(app, client):
    """Walk the URL map: nothing under /organizer answers an anonymous visitor."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/organizer") or rule.endpoint == "organizer.login":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", "1").replace(f"<int:{arg}>", "1")
            url = url.replace(f"<string:{arg}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            assert resp.status_code in (302, 400, 401), (method, url, resp.status_code)
            if resp.status_code == 302:
                assert "/organizer/login" in resp.headers["Location"]
            checked += 1
    assert checked >= 2


def test_the_console_is_english_whatever_the_browser_prefers(client, make_event,
                                                             login_organizer):
    """A Chinese browser got a Chinese header and footer over the English-only console."""
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    public = client.get("/", headers=chinese).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in public and ">English</button>" in public
    login = client.get("/organizer/login", headers=chinese).get_data(as_text=True)
    assert '<html lang="en">' in login and "lang-switch" not in login
    login_organizer()
    slug = make_event()
    for url in ("/organizer/", f"/organizer/events/{slug}/registrations",
                f"/organizer/events/{slug}/invitations"):
        html = client.get(url, headers=chinese).get_data(as_text=True)
        assert '<html lang="en">' in html, url
        assert "CIIE California Delegation" in html and "lang-switch" not in html, url
        assert "上海市商务委员会" not in html, url  # the footer


def test_console_errors_keep_the_console_layout_and_language(client, make_event,
                                                            login_organizer):
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    login_organizer()
    slug = make_event()
    for url, code in ((f"/organizer/events/{slug}/invitations?page=abc", 400),
                      ("/organizer/events/nope", 404), ("/organizer/does-not-exist", 404)):
        resp = client.get(url, headers=chinese)
        html = resp.get_data(as_text=True)
        assert resp.status_code == code, url
        assert '<html lang="en">' in html and "Sign out" in html, url
        assert 'href="/organizer/">Go to the console</a>' in html, url
        assert "lang-switch" not in html and "页面" not in html, url
    public = client.get("/does-not-exist", headers=chinese).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in public and "Sign out" not in public
