"""Input that used to end in a 500 or in changed data (found by a review run on both
databases): NUL characters, ids larger than a database integer, far-off days, an erased
registration filled in again, an erasure confirmed with "n"."""

from __future__ import annotations

import io
import urllib.parse

import pytest
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import ImportBatch, Registration
from tests.conftest import csrf_from, form_fields, valid_registration
from tests.test_organizer_import import _csv, _row

TOO_BIG = [str(2**31), str(2**63), "99999999999999999999"]


def _snapshot(app) -> list[tuple]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(Registration.__table__).order_by(Registration.id))]


def test_nul_characters_are_refused_everywhere(app, client, make_event, make_registration,
                                               make_organizer):
    slug = make_event()
    make_registration(slug)
    before = _snapshot(app)
    # public pages, anonymous
    assert client.get("/events/%00/register").status_code == 404
    assert client.get(f"/events/{slug}%00/registered").status_code == 404
    form = client.get(f"/events/{slug}/register").get_data(as_text=True)
    resp = client.post(f"/events/{slug}/register", data={
        **valid_registration(company="Nul\x00Corp"), **form_fields(form)})
    assert resp.status_code == 400 and "NUL character" in resp.get_data(as_text=True)
    # sign-in
    login = client.get("/organizer/login").get_data(as_text=True)
    resp = client.post("/organizer/login", data={"csrf_token": csrf_from(login),
                                                 "email": "a\x00@example.org",
                                                 "password": "whatever it is"})
    assert resp.status_code == 400
    # the console
    from tests.conftest import sign_in

    assert sign_in(client, make_organizer("admin")).status_code == 303
    assert client.get(f"/organizer/events/{slug}/registrations?q=%00").status_code == 400
    assert client.get("/organizer/events/%00/registrations").status_code == 404
    url = f"/organizer/events/{slug}/invitations/templates/welcome/en"
    token = csrf_from(client.get(f"/organizer/events/{slug}/registrations").get_data(True))
    assert client.post(url, data={"csrf_token": token, "subject": "Hi\x00",
                                  "body_html": "x", "body_text": "y"}).status_code == 400
    assert client.post(f"/organizer/events/{slug}/import/confirm",
                       data={"csrf_token": token, "token": "\x00"}).status_code == 400
    assert _snapshot(app) == before


def test_an_import_file_with_nul_characters_is_refused_and_not_kept(app, client,
                                                                      login_organizer,
                                                                      make_event):
    slug = make_event()
    login_organizer()
    url = f"/organizer/events/{slug}/import"
    token = csrf_from(client.get(url).get_data(as_text=True))
    content = _csv([_row(company="Pacific\x00Robotics")])
    resp = client.post(url, data={"csrf_token": token, "file": (io.BytesIO(content), "a.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "NUL characters" in resp.get_data(as_text=True)
    # a NUL in the file's name is dropped from the name kept with the preview
    resp = client.post(url, data={"csrf_token": token,
                                  "file": (io.BytesIO(_csv([_row()])), "peo\x00ple.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    with app.app_context():
        assert db.session.scalars(select(ImportBatch.filename)).all() == ["people.csv"]
        assert db.session.scalar(select(func.count(Registration.id))) == 0


@pytest.mark.parametrize("number", TOO_BIG)
def test_ids_too_large_for_the_database_are_not_found(app, client, login_organizer, make_event,
                                                      make_registration, number):
    slug = make_event()
    reg_id = make_registration(slug)
    before = _snapshot(app)
    login_organizer("admin")
    token = csrf_from(client.get(f"/organizer/registrations/{reg_id}").get_data(True))
    for path in ("", "/edit"):
        assert client.get(f"/organizer/registrations/{number}{path}").status_code == 404
    for action in ("status", "notes", "data", "erase", "edit"):
        resp = client.post(f"/organizer/registrations/{number}/{action}",
                           data={"csrf_token": token, "status": "approved", "body": "x",
                                 "confirm": "y"})
        assert resp.status_code == 404, action
    assert client.post(f"/organizer/admin/organizers/{number}/active",
                       data={"csrf_token": token, "active": "0"}).status_code == 404
    base = f"/organizer/events/{slug}/invitations"
    for action in ("remind", "resend"):
        resp = client.post(f"{base}/{action}", data={"csrf_token": token,
                                                     "invitation_id": number, "round": "1"})
        assert resp.status_code == 400, action
    preview = client.post(f"{base}/templates/welcome/en/preview", data={
        "csrf_token": token, "subject": "s", "body_html": "h", "body_text": "t",
        "registration_id": number})
    assert preview.status_code < 500
    assert _snapshot(app) == before


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
def test_far_off_days_in_the_list_filters_are_refused(app, client, login_organizer,
                                                      make_event, make_registration, day):
    slug = make_event()
    make_registration(slug)
    before = _snapshot(app)
    login_organizer()
    url = f"/organizer/events/{slug}/registrations"
    for name in ("date_from", "date_to"):
        resp = client.get(url, query_string={name: day})
        assert resp.status_code == 400 and "between the years 2000 and 2999" in resp.get_data(
            as_text=True)
    token = csrf_from(client.get(url).get_data(as_text=True))
    assert client.post(f"{url}/bulk", data={"csrf_token": token, "decision": "approved",
                                            "scope": "filtered", "date_to": day}
                       ).status_code == 400
    assert client.post(f"/organizer/events/{slug}/export",
                       data={"csrf_token": token, "format": "csv", "date_to": day}
                       ).status_code == 400
    assert _snapshot(app) == before


def test_an_erased_registration_cannot_be_filled_in_again(app, client, login_organizer,
                                                          make_event, make_registration):
    slug = make_event()
    reg_id = make_registration(slug)
    login_organizer("admin")
    detail = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    erased = client.post(f"/organizer/registrations/{reg_id}/erase",
                         data={"csrf_token": csrf_from(detail), "confirm": "y"})
    assert erased.status_code == 303
    before = _snapshot(app)
    assert client.get(f"/organizer/registrations/{reg_id}/edit").status_code == 409
    resp = client.post(f"/organizer/registrations/{reg_id}/edit", data={
        **valid_registration(), "csrf_token": csrf_from(detail)})
    assert resp.status_code == 409 and "was erased" in resp.get_data(as_text=True)
    assert _snapshot(app) == before


@pytest.mark.parametrize("answer", ["n", "no", "off", "0", "false", "", "No", "FALSE", "Off",
                                    "N", " no", "0 ", "none", "null", "maybe", "nein"])
def test_an_erasure_answered_no_erases_nothing(app, client, login_organizer, make_event,
                                               make_registration, answer):
    slug = make_event()
    reg_id = make_registration(slug)
    before = _snapshot(app)
    login_organizer("admin")
    detail = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(detail), "confirm": answer})
    assert resp.status_code in (400, 422)
    assert _snapshot(app) == before


@pytest.mark.parametrize("answer", ["y", "Yes", " ON", "true", "1"])
def test_an_erasure_answered_yes_erases(app, client, login_organizer, make_event,
                                        make_registration, answer):
    slug = make_event()
    reg_id = make_registration(slug)
    login_organizer("admin")
    detail = client.get(f"/organizer/registrations/{reg_id}").get_data(as_text=True)
    resp = client.post(f"/organizer/registrations/{reg_id}/erase",
                       data={"csrf_token": csrf_from(detail), "confirm": answer})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, reg_id).erased_at is not None


def test_an_admin_deactivating_themselves_is_refused_with_a_4xx(app, client,
                                                                 login_organizer,
                                                                 make_organizer):
    from ciie_rsvp.models import Organizer

    email = login_organizer("admin")
    with app.app_context():
        me = db.session.scalar(select(Organizer.id).where(Organizer.email == email))
    page = client.get("/organizer/admin/organizers").get_data(as_text=True)
    resp = client.post(f"/organizer/admin/organizers/{me}/active",
                       data={"csrf_token": csrf_from(page), "active": "0"})
    assert resp.status_code == 409
    assert "You cannot deactivate your own account." in resp.get_data(as_text=True)
    assert client.get("/organizer/").status_code == 200  # still signed in, still active
    # anything but 0 or 1 is refused; it used to mean "deactivate" (console review)
    other = make_organizer("staff")
    with app.app_context():
        other_id = db.session.scalar(select(Organizer.id).where(Organizer.email == other))
    for value in ("banana", None):
        data = {"csrf_token": csrf_from(page)} | ({"active": value} if value else {})
        resp = client.post(f"/organizer/admin/organizers/{other_id}/active", data=data)
        assert resp.status_code == 400, value
    with app.app_context():
        assert db.session.get(Organizer, other_id).is_active


def test_a_form_body_that_is_not_utf8_is_refused_not_stored_changed(app, client, make_event):
    """Werkzeug reads bytes that are not UTF-8 as U+FFFD; the service used to store that."""
    slug = make_event()
    form = form_fields(client.get(f"/events/{slug}/register").get_data(as_text=True))
    fields = {**valid_registration(), **form}
    body = urllib.parse.urlencode({k: v for k, v in fields.items() if k != "company"},
                                  doseq=True)
    for company in (b"Caf%E9%20Corp", b"%C3%28", b"%ED%A0%80"):  # Latin-1, bad, a surrogate
        resp = client.post(f"/events/{slug}/register", data=body.encode() + b"&company="
                           + company, content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 400 and "UTF-8" in resp.get_data(as_text=True), company
    assert _snapshot(app) == []
    # U+FFFD itself and "%", sent as proper UTF-8, are text like any other
    resp = client.post(f"/events/{slug}/register", data=body.encode()
                       + b"&company=Caf%EF%BF%BD%20100%25%20Corp",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Registration.company)).all() == ["Caf\ufffd 100% Corp"]


def test_ids_are_ascii_digits(client, login_organizer, make_event, make_registration):
    slug = make_event()
    reg_id = make_registration(slug)
    login_organizer()
    assert client.get(f"/organizer/registrations/{reg_id}").status_code == 200
    arabic_indic = str(reg_id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert client.get(f"/organizer/registrations/{arabic_indic}").status_code == 404


def test_json_bodies_are_refused_before_any_form_reads_them(app, client, make_event,
                                                            make_registration,
                                                            make_organizer):
    """Flask-WTF reads a JSON body as form data: numbers, booleans and objects then reached
    the forms and the queries (a route fuzz found 500s on every form that way)."""
    from tests.conftest import sign_in

    slug = make_event()
    reg = make_registration(slug)
    before = _snapshot(app)
    token = csrf_from(client.get(f"/events/{slug}/register").get_data(as_text=True))
    for body in ({**valid_registration(), "csrf_token": token, "company": 5},
                 {"csrf_token": token, "email": {"a": 1}, "consent": True}, [1, 2], "x"):
        resp = client.post(f"/events/{slug}/register", json=body)
        assert resp.status_code == 415, body
        assert "Send this as a web form" in resp.get_data(as_text=True)
    assert sign_in(client, make_organizer("admin")).status_code == 303
    html = client.get(f"/organizer/registrations/{reg}").get_data(as_text=True)
    for path in (f"/organizer/registrations/{reg}/status",
                 f"/organizer/registrations/{reg}/notes",
                 f"/organizer/events/{slug}/registrations/bulk",
                 f"/organizer/events/{slug}/export"):
        resp = client.post(path, json={"csrf_token": csrf_from(html), "status": True,
                                       "ids": [{"x": 1}], "format": 7})
        assert resp.status_code == 415, path
    resp = client.post(f"/organizer/registrations/{reg}/status", data="status=approved",
                       content_type="text/plain")
    assert resp.status_code == 415
    assert _snapshot(app) == before


@pytest.mark.parametrize("host", ["a..b", "." * 70, "x" * 64 + ".example.org"])
def test_a_host_no_address_can_be_built_for_is_a_plain_400(client, host):
    """Werkzeug answers such a Host with BadHost; the error page then could not build its
    links and the answer was a 500."""
    for path in ("/", "/healthz", "/organizer/login"):
        resp = client.get(path, headers={"Host": host})
        assert resp.status_code == 400, (host, path, resp.status_code)
        assert resp.mimetype == "text/plain"


def _multipart(fields: dict[str, bytes | list[bytes]]) -> tuple[bytes, str]:
    boundary = "----ciie-test-boundary"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             .encode() + value + b"\r\n"
             for name, values in fields.items()
             for value in (values if isinstance(values, list) else [values])]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def test_multipart_forms_get_the_same_checks_as_urlencoded_ones(app, client, make_event):
    """A route fuzz stored "Caf� � Ltd" for bytes that are not UTF-8, and a NUL, by posting
    the forms as multipart, which skipped the checks the urlencoded body gets."""
    slug = make_event()
    before = _snapshot(app)
    form = form_fields(client.get(f"/events/{slug}/register").get_data(as_text=True))
    base: dict[str, bytes | list[bytes]] = {
        k: [x.encode() for x in v] if isinstance(v, list) else str(v).encode()
        for k, v in {**valid_registration(), **form}.items()}
    for company, message in ((b"Caf\xe9 \xff Ltd", "not sent as UTF-8"),
                             (b"Nul\x00Corp", "NUL character")):
        body, ctype = _multipart({**base, "company": company})
        resp = client.post(f"/events/{slug}/register", data=body, content_type=ctype)
        assert resp.status_code == 400, company
        assert message in resp.get_data(as_text=True)
    assert _snapshot(app) == before
    # the same form, well encoded, still registers
    body, ctype = _multipart({**base, "company": "Café Ltd".encode()})
    assert client.post(f"/events/{slug}/register", data=body,
                       content_type=ctype).status_code == 303
