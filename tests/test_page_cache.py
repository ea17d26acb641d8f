"""The empty registration form comes from a per-process page cache (ciie_rsvp/core/page_cache).

Every view still gets its own CSRF token and fill-time stamp, both of which work; an
organizer's change to the event shows as soon as the form's copy of the event is renewed
(``PUBLIC_EVENT_CACHE_MS``; off in the other tests) and registering always checks the stored
event; pages that show something of the visitor's own (a flashed message, a query string) are
rendered afresh.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from ciie_rsvp.extensions import db
from ciie_rsvp.models import Event, Registration
from tests.conftest import form_fields, valid_registration

_VOLATILE = re.compile(r'(name="(?:csrf_token|started)"[^>]*value=")[^"]*"')


def _page(client, slug: str, **kw) -> str:
    response = client.get(f"/events/{slug}/register", **kw)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_each_view_gets_its_own_working_token_and_stamp(app, make_event) -> None:
    slug = make_event()
    first, second = app.test_client(), app.test_client()
    page1, page2 = _page(first, slug), _page(second, slug)
    fields1, fields2 = form_fields(page1), form_fields(page2)
    assert fields1["csrf_token"] != fields2["csrf_token"]
    assert fields1["started"] and fields1["started"] != fields2["started"]
    # the same page otherwise, byte for byte
    assert _VOLATILE.sub(r'\1"', page1) == _VOLATILE.sub(r'\1"', page2)
    assert page2.count(fields2["csrf_token"]) == 2  # the form and the language switch

    for client, fields, email in ((first, fields1, "one@example.com"),
                                  (second, fields2, "two@example.com")):
        response = client.post(f"/events/{slug}/register",
                               data={**valid_registration(email=email), **fields})
        assert response.status_code == 303
    with app.app_context():
        assert db.session.query(Registration).count() == 2


def test_an_organizers_change_to_the_event_shows_at_once(app, client, make_event) -> None:
    slug = make_event(venue="Downtown Los Angeles")
    assert "Downtown Los Angeles" in _page(client, slug)
    with app.app_context():
        db.session.execute(update(Event).where(Event.slug == slug).values(
            venue="Westin Bonaventure", name_en="Meet in Shanghai 2030"))
        db.session.commit()
    page = _page(client, slug)
    assert "Westin Bonaventure" in page and "Meet in Shanghai 2030" in page
    assert "Downtown Los Angeles" not in page


def test_each_language_has_its_own_page(client, make_event) -> None:
    slug = make_event()
    english = _page(client, slug, headers={"Accept-Language": "en"})
    chinese = _page(client.application.test_client(), slug,
                    headers={"Accept-Language": "zh-CN"})
    assert 'lang="en"' in english and "Register your interest" in english
    assert 'lang="zh-Hans"' in chinese and "Register your interest" not in chinese


def test_pages_with_the_visitors_own_content_are_not_cached(client, make_event) -> None:
    slug = make_event()
    _page(client, slug)  # cached now
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "A message for this visitor only")]
    assert "A message for this visitor only" in _page(client, slug)
    assert "A message for this visitor only" not in _page(client, slug)  # shown once

    page = client.get(f"/events/{slug}/register?utm_source=mail").get_data(as_text=True)
    assert f'value="/events/{slug}/register?utm_source=mail"' in page
    assert f'value="/events/{slug}/register?utm_source=mail"' not in _page(client, slug)


def test_form_reads_its_event_from_a_short_lived_copy_and_submit_checks_the_database(
        app, client, make_event) -> None:
    """With ``PUBLIC_EVENT_CACHE_MS`` on (the default outside tests), an edit shows on the
    form once the copy is older than that; a registration sent meanwhile to an event that
    closed is refused all the same, because submit() reads the stored state."""
    import time

    app.config["PUBLIC_EVENT_CACHE_MS"] = 300
    slug = make_event(venue="Downtown Los Angeles")
    page = _page(client, slug)
    assert "Downtown Los Angeles" in page
    with app.app_context():
        db.session.execute(update(Event).where(Event.slug == slug).values(
            venue="Westin Bonaventure",
            registration_closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        db.session.commit()
    # within the copy's lifetime the form may still show the old venue and look open, but
    # sending it is refused: the write transaction reads the stored window
    response = client.post(f"/events/{slug}/register",
                           data={**valid_registration(), **form_fields(page)})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.query(Registration).count() == 0
    time.sleep(0.35)
    response = client.get(f"/events/{slug}/register")
    assert response.status_code == 403  # the closed page, from a fresh copy
    with app.app_context():
        db.session.execute(update(Event).where(Event.slug == slug).values(
            registration_closes_at=None))
        db.session.commit()
    time.sleep(0.35)
    assert "Westin Bonaventure" in _page(client, slug)


def test_read_only_copy_keeps_the_values_and_key_it_was_made_with(app, make_event) -> None:
    slug = make_event()
    with app.app_context():
        event = db.session.scalar(db.select(Event).where(Event.slug == slug))
        copy = event.read_only_copy()
        assert copy not in db.session and copy.column_values() == event.column_values()
        assert copy.content_key() == event.content_key()
        event.name_en = "Renamed"
        assert event.content_key() != copy.content_key() and copy.name_en != "Renamed"
        db.session.rollback()
