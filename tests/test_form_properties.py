"""Property test: the public form under arbitrary input (Hypothesis).

Every text field gets arbitrary Unicode, control characters (NUL, CR/LF, DEL, NEL, U+2028…),
padding whitespace and long strings; select fields and the delegate count sometimes get junk
too. Whatever is sent: no response is a 5xx, a refused form stores nothing, and an accepted
one stores exactly what was submitted after the form's documented whitespace strip (emails,
phones and websites after their documented normalization), read back through the
organizers' JSON export (``organizer/exports.py``).

Examples: a quick run locally; thousands in CI (``CI`` set, or ``HYPOTHESIS_PROFILE=ci``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, OutboxMessage, Registration
from ciie_rsvp.validation import normalize_email, normalize_phone, normalize_website
from tests.conftest import csrf_from, form_fields, sign_in, valid_registration

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=1000, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")

# Anything a browser can send: every code point but lone surrogates (not encodable in UTF-8).
ANY_CHAR = st.characters(exclude_categories=["Cs"])
CONTROL = st.sampled_from(["\x00", "\r\n", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u2028",
                           "\u2029", "\ufeff", "\x0b", "\x0c", "\x1f", "\u200b", "\U0010fffd"])
SPACE = st.sampled_from(["", " ", "  ", "\t", "\u3000", "\xa0", "\n", " \r\n"])
WORDS = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1,
                max_size=40)


def padded(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, s, b: a + s + b, SPACE, inner, SPACE)


def arbitrary(max_len: int) -> st.SearchStrategy[str]:
    """Plain words, arbitrary text, text with a control character inside, or too long."""
    return st.one_of(
        padded(WORDS), padded(WORDS), padded(WORDS),  # weighted: most values are plausible
        st.text(ANY_CHAR, max_size=60),
        st.builds(lambda a, c, b: a + c + b, WORDS, CONTROL, WORDS),
        st.text(ANY_CHAR, min_size=max_len - 5, max_size=max_len + 10),
        st.builds(lambda ch, n: ch * n, ANY_CHAR, st.integers(max_len - 2, max_len + 2)),
    )


def choice_or_junk(valid: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), arbitrary(40))


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "company": arbitrary(200),
    "website": st.one_of(st.sampled_from(["", "https://almonds.example.com", "example.org",
                                          "http://例え.jp/路径?q=1"]), padded(WORDS),
                         arbitrary(300),
                         st.builds(lambda n: "a" * n + ".com", st.integers(280, 300))),
    "first_name": arbitrary(100),
    "last_name": arbitrary(100),
    "job_title": st.one_of(st.just(""), arbitrary(150)),
    "phone": st.one_of(padded(st.sampled_from(["(213) 555-0142", "+86 21 5555 0100",
                                               "+1 415 555 2671", "２１３５５５０１４２"])),
                       arbitrary(40)),
    "notes": st.one_of(st.just(""), arbitrary(2000),
                       st.builds(lambda a, b: a + "\r\n" + b, WORDS, WORDS)),
    "sector": choice_or_junk(["food_agriculture", "automobile", "trade_services"]),
    "county": choice_or_junk(["Fresno", "Los Angeles", "San Francisco"]),
    "delegates": st.one_of(st.sampled_from(["1", "20", " 3 ", "٣"]), arbitrary(10)),
    # None: a valid address made unique per example; otherwise arbitrary text
    "email": st.one_of(st.none(), st.none(),
                       st.builds(lambda local: f"{local}@example.com", WORDS),
                       arbitrary(254)),
}
# A third of the examples change one field of an otherwise valid form (the others keep the valid
# values of ``valid_registration``), so that many of them are accepted and their stored
# values checked; a third change every field at once.
ONE_FIELD = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda name: st.fixed_dictionaries({name: FIELDS[name]}))
# ...and a third kind fills every free-text field with arbitrary letters, marks, digits,
# punctuation, symbols and padding at once: accepted, and each value must come back exactly.
PLAUSIBLE = st.fixed_dictionaries({name: padded(WORDS) for name in (
    "company", "first_name", "last_name", "job_title", "notes")})
FORMS = st.one_of(ONE_FIELD, st.fixed_dictionaries(FIELDS), PLAUSIBLE)


@settings(settings.get_profile(PROFILE),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(form=FORMS)
@example(form={"email": None, "website": "a" * 292 + ".com"})  # 300 chars before https://
@example(form={"email": "İ" * 60 + "@" + "b" * 60 + "." + "c" * 60 + ".example.com"})
@example(form={"company": "Acme\x00 Corp", "email": "a\r\nBcc: x@example.com"})
@example(form={"first_name": " 李 ", "last_name": "\u3000明\u3000", "notes": "多行\r\n备注"})
def test_any_input_gives_no_5xx_and_stores_what_was_sent(app, client, make_event,
                                                         make_organizer,
                                                         form: dict[str, Any]) -> None:
    slug = _slug(app, make_event)
    with app.app_context():  # each example starts from an empty table
        db.session.execute(delete(OutboxMessage))
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(Registration))
        db.session.commit()
    form = dict(form)
    if form.get("email") is None:
        form["email"] = f"prop{_next_id(app)}@example.com"
    data = {**valid_registration(**form), **_hidden(app, client, slug)}
    resp = client.post(f"/events/{slug}/register", data=data)
    assert resp.status_code < 500, (resp.status_code, form)
    event(f"status {resp.status_code}")  # shown by --hypothesis-show-statistics
    with app.app_context():
        rows = list(db.session.scalars(select(Registration)))
        if resp.status_code != 303:
            assert resp.status_code in (400, 413, 422), resp.status_code
            assert rows == [], "a refused form stored something"
            return
        assert len(rows) == 1
        reg = rows[0]
        assert reg.sector == data["sector"]  # the export shows the sector's label
        assert reg.email_normalized == reg.email.lower()
        expected = {
            "company": data["company"].strip(), "first_name": data["first_name"].strip(),
            "last_name": data["last_name"].strip(), "job_title": data["job_title"].strip(),
            "notes": data["notes"].strip(), "county": data["county"],
            "delegates": int(data["delegates"]),
            "website": normalize_website(data["website"].strip()),
            "phone": normalize_phone(data["phone"].strip()),
            "email": normalize_email(data["email"].strip()),
        }
    # What was stored comes back unchanged through the organizers' JSON export.
    exported = _json_export(app, make_organizer, slug)
    assert len(exported) == 1
    assert {key: exported[0][key] for key in expected} == expected


# One event and one form (CSRF token, start stamp) per app: examples reuse them.
def _slug(app: Any, make_event: Any) -> str:
    if "_prop_slug" not in app.extensions:
        app.extensions["_prop_slug"] = make_event()
    return app.extensions["_prop_slug"]


def _hidden(app: Any, client: Any, slug: str) -> dict[str, str]:
    if "_prop_hidden" not in app.extensions:
        page = client.get(f"/events/{slug}/register")
        assert page.status_code == 200
        app.extensions["_prop_hidden"] = form_fields(page.get_data(as_text=True))
    return app.extensions["_prop_hidden"]


def _json_export(app: Any, make_organizer: Any, slug: str) -> list[dict[str, Any]]:
    """The event's registrations through the organizer console's JSON export."""
    if "_prop_organizer" not in app.extensions:
        organizer = app.test_client()
        assert sign_in(organizer, make_organizer()).status_code == 303
        page = organizer.get(f"/organizer/events/{slug}/registrations")
        app.extensions["_prop_organizer"] = (organizer, csrf_from(page.get_data(as_text=True)))
    organizer, token = app.extensions["_prop_organizer"]
    resp = organizer.post(f"/organizer/events/{slug}/export",
                          data={"csrf_token": token, "format": "json"})
    assert resp.status_code == 200, resp.status_code
    return json.loads(resp.get_data(as_text=True))


def _next_id(app: Any) -> int:
    app.extensions["_prop_n"] = app.extensions.get("_prop_n", 0) + 1
    return app.extensions["_prop_n"]
