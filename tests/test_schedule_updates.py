"""An event that moves after its invitations went out: invitees are told, calendars follow.

Each change to an event's days, times, zone or place is a new schedule revision. The console
counts the invitees whose latest message gave an earlier one and sends them, on request, one
update each (their language, their answer so far, the RSVP link) with the calendar entry under
the same UID and a higher SEQUENCE, so calendar apps move the entry instead of ignoring it.
Mail goes through the real outbox to a real SMTP server on loopback; calendars are read back
with icalendar.
"""

from __future__ import annotations

import datetime as dt

import icalendar
from sqlalchemy import func, select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import services
from ciie_rsvp.models import AuditEntry, Event, Invitation, OutboxMessage
from ciie_rsvp.organizer import events
from tests.conftest import RSVP_LINK, csrf_from, seed_welcome, send, text_body, vevent_of
from tests.test_organizer_events import submitted_as_shown


def event_of(app, slug: str) -> Event:
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        db.session.expunge(event)
        return event


def change_settings(client, slug: str, **changes: str):
    """Save the event's settings page as shown, with ``changes``; the page after the save."""
    url = f"/organizer/events/{slug}/settings"
    data = submitted_as_shown(client.get(url).get_data(as_text=True))
    resp = client.post(url, data={**data, **changes})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def dashboard(client, slug: str) -> str:
    page = client.get(f"/organizer/events/{slug}/invitations")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_moving_the_event_sends_invitees_its_new_time_and_moves_their_calendar_entry(
        smtp_app, smtp_server, client, make_event, make_invitee, login_organizer):
    slug = make_event(start_time=dt.time(10, 0), end_time=dt.time(12, 0))
    seed_welcome(smtp_app, slug)
    make_invitee(slug, first_name="Maria", last_name="Lopez", email="maria@example.com")
    assert send(smtp_app, slug).exit_code == 0
    [invitation] = smtp_server.parsed()
    first = vevent_of(invitation)
    assert first["SEQUENCE"] == 0 and first["DTSTART"].dt.hour == 10
    token = RSVP_LINK.search(text_body(invitation)).group(1)
    page = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert client.post(f"/rsvp/{token}", data={"csrf_token": csrf_from(page),
                                               "answer": "accepted"}).status_code == 303

    login_organizer("admin")
    # A change that is not about when or where: nobody needs to be told.
    page = change_settings(client, slug, capacity="80")
    assert "flash-warning" not in page
    assert 'id="schedule-update"' not in dashboard(client, slug)
    assert event_of(smtp_app, slug).schedule_revision == 0
    assert 'id="untold"' not in page

    page = change_settings(client, slug, start_time="14:00", end_time="16:00")
    assert ("1 invitee(s) were told the event&#39;s earlier date, time or place" in page
            or "1 invitee(s) were told the event's earlier date, time or place" in page)
    assert event_of(smtp_app, slug).schedule_revision == 1
    # the settings page keeps saying so, with the way to the update, until it is sent
    page = client.get(f"/organizer/events/{slug}/settings").get_data(as_text=True)
    assert 'id="untold"' in page
    assert f'/organizer/events/{slug}/invitations#schedule-update"' in page
    board = dashboard(client, slug)
    assert 'id="schedule-update"' in board
    assert "Send the update to 1 invitee(s)" in board

    resp = client.post(f"/organizer/events/{slug}/invitations/update",
                       data={"csrf_token": csrf_from(board)})
    assert resp.status_code == 303
    assert "1 update(s) queued" in client.get(resp.headers["Location"]).get_data(True)
    update = smtp_server.parsed()[-1]
    assert len(smtp_server.parsed()) == 2
    assert update["Subject"] == "Changed: Meet in Shanghai, Share the Future"
    assert update["To"] == "Maria Lopez <maria@example.com>"
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = text_body(update)
    assert "Dear Maria Lopez," in body
    assert "The date or time of Meet in Shanghai, Share the Future has changed." in body
    # what they were told, then what it is now
    assert ("Before: October 13, 2030, 10:00–12:00 (America/Los Angeles) · Downtown Los "
            "Angeles, Los Angeles") in body
    assert ("Now: October 13, 2030, 14:00–16:00 (America/Los Angeles) · Downtown Los "
            "Angeles, Los Angeles") in body
    assert "Your answer so far: Attending" in body
    assert f"https://rsvp.example.org/rsvp/{token}" in body
    moved = vevent_of(update)
    assert moved["UID"] == first["UID"]  # the same entry, moved
    assert moved["SEQUENCE"] == 1
    assert moved["DTSTART"].dt == dt.datetime(2030, 10, 13, 14, 0,
                                              tzinfo=moved["DTSTART"].dt.tzinfo)
    assert moved["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert moved["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"

    # Told: the notice is gone, a second click (or a stale page) sends nothing.
    board = dashboard(client, slug)
    assert 'id="schedule-update"' not in board
    resp = client.post(f"/organizer/events/{slug}/invitations/update",
                       data={"csrf_token": csrf_from(board)})
    assert "already has the latest date, time and place: nothing was sent" in client.get(
        resp.headers["Location"]).get_data(True)
    assert len(smtp_server.parsed()) == 2
    # The calendar file on the RSVP page is the moved entry too.
    ics = client.get(f"/rsvp/{token}/calendar.ics")
    download = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert download["UID"] == first["UID"] and download["SEQUENCE"] == 1
    assert download["DTSTART"].dt.hour == 14
    with smtp_app.app_context():
        [audit] = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "schedule_update_sent"))
        assert audit.detail == "schedule revision 1: 1 update(s)"
        assert audit.event_id is not None
        assert db.session.scalar(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.kind == "invitation_update")).endswith(":schedule:r1")
    # the event's history tells the story, newest first
    history = client.get(f"/organizer/events/{slug}/settings").get_data(as_text=True)
    history = history[history.index('id="history"'):]
    assert history.index("Schedule update sent") < history.index("Starts at: 10:00 → 14:00")
    assert history.index("Capacity: — → 80") < history.index("Invitations sent")
    assert "template welcome: 1 invitation(s)" in history


def test_chinese_names_given_after_the_invitation_are_not_a_move(smtp_app, smtp_server,
                                                                  make_event, make_invitee):
    """Invited while the event had no Chinese place; the Chinese names came later (no new
    revision), then the time changed: the update says the time changed, and states the
    same place before and after, in Chinese."""
    slug = make_event(start_time=dt.time(10, 0), country="United States")
    seed_welcome(smtp_app, slug)
    make_invitee(slug, first_name="晓明", last_name="王", email="wang@example.cn",
                 language="zh-Hans")
    assert send(smtp_app, slug).exit_code == 0
    with smtp_app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        values = events.settings_of(event)
        events.update_event(event, {**values, "venue_zh": "洛杉矶市中心", "city_zh": "洛杉矶",
                                    "country_zh": "美国"})
        assert event.schedule_revision == 0
        events.update_event(event, {**events.settings_of(event), "start_time": dt.time(14)})
        assert event.schedule_revision == 1
        db.session.commit()
    assert smtp_app.test_cli_runner().invoke(
        args=["invitations", "update", "--event", slug]).exit_code == 0
    body = text_body(smtp_server.parsed()[-1])
    assert "“相约上海，共享未来”的日期或时间已变更。" in body
    assert "原为：2030年10月13日（北美太平洋时间10:00） · 美国洛杉矶市中心\r\n" in body
    assert "现为：2030年10月13日（北美太平洋时间14:00） · 美国洛杉矶市中心\r\n" in body


def test_the_update_speaks_each_invitees_language_and_spares_those_who_left(
        smtp_app, smtp_server, client, make_event, make_invitee):
    slug = make_event(start_time=dt.time(10, 0))
    seed_welcome(smtp_app, slug)
    make_invitee(slug, first_name="晓明", last_name="王", email="wang@example.cn",
                 language="zh-Hans")
    make_invitee(slug, email="leaving@example.com")
    make_invitee(slug, email="unsubscribed@example.com")
    assert send(smtp_app, slug).exit_code == 0
    tokens = {msg["To"].addresses[0].addr_spec: RSVP_LINK.search(text_body(msg)).group(1)
              for msg in smtp_server.parsed()}
    assert client.post(f"/unsubscribe/{tokens['unsubscribed@example.com']}").status_code == 200
    with smtp_app.app_context():
        from ciie_rsvp.models import Registration
        reg = db.session.scalar(select(Registration).where(
            Registration.email == "leaving@example.com"))
        reg.status = "withdrawn"
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        values = events.settings_of(event)
        changed = events.update_event(event, {**values, "venue": "Millennium Biltmore Hotel",
                                              "venue_zh": "千禧比特摩尔酒店"})
        assert changed == ["venue", "venue_zh"] and event.schedule_revision == 1
        db.session.commit()

    runner = smtp_app.test_cli_runner()
    dry = runner.invoke(args=["invitations", "update", "--event", slug, "--dry-run"])
    assert dry.exit_code == 0 and "1 invitee(s) would get the update" in dry.output
    sent_before = len(smtp_server.parsed())
    done = runner.invoke(args=["invitations", "update", "--event", slug])
    assert done.exit_code == 0 and "queued 1 update(s)" in done.output
    [update] = smtp_server.parsed()[sent_before:]
    assert update["To"].addresses[0].addr_spec == "wang@example.cn"
    assert update["Subject"] == "活动变更：相约上海，共享未来"
    body = text_body(update)
    assert "王晓明，您好：" in body and "“相约上海，共享未来”的活动地点已变更。" in body
    # the zone and the new venue in Chinese (the old one had no Chinese name: as told)
    assert "原为：2030年10月13日（北美太平洋时间10:00） · Downtown Los Angeles" in body
    assert "现为：2030年10月13日（北美太平洋时间10:00） · Los Angeles 千禧比特摩尔酒店" in body
    assert "您目前的答复：尚未答复" in body
    assert "Millennium Biltmore Hotel" not in body
    assert update["Content-Language"] == "zh-Hans"
    assert vevent_of(update)["SEQUENCE"] == 1
    assert str(vevent_of(update)["LOCATION"]) == "Los Angeles 千禧比特摩尔酒店"
    # the calendar part says its charset: mail clients read a text part without one as ASCII
    [ics] = [p for p in update.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_content_charset() == "utf-8"
    assert str(vevent_of(update)["SUMMARY"]) == "相约上海，共享未来"
    again = runner.invoke(args=["invitations", "update", "--event", slug])
    assert "queued 0 update(s)" in again.output


def test_a_reminder_after_a_change_carries_the_new_details_and_counts_as_the_update(
        smtp_app, smtp_server, invited):
    slug, _token, _reg_id = invited(start_time=dt.time(10, 0))
    with smtp_app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        events.update_event(event, {**events.settings_of(event),
                                    "start_date": dt.date(2030, 10, 14),
                                    "end_date": dt.date(2030, 10, 14)})
        db.session.commit()
        assert services.schedule_update_count(event) == 1
    runner = smtp_app.test_cli_runner()
    assert "queued 1 reminder(s)" in runner.invoke(
        args=["invitations", "remind", "--event", slug]).output
    reminder = smtp_server.parsed()[-1]
    entry = vevent_of(reminder)
    # round 2 after one change: higher than both the invitation (0) and an update alone (1)
    assert entry["SEQUENCE"] == 2
    assert entry["DTSTART"].dt.date() == dt.date(2030, 10, 14)
    with smtp_app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        assert services.schedule_update_count(event) == 0
        assert db.session.scalar(select(Invitation.schedule_revision)) == 1


def test_sending_the_update_needs_a_signed_in_organizer_and_a_csrf_token(
        smtp_app, client, make_event, make_invitee, login_organizer):
    slug = make_event()
    seed_welcome(smtp_app, slug)
    make_invitee(slug)
    assert send(smtp_app, slug).exit_code == 0
    with smtp_app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.schedule_revision = 1
        db.session.commit()

    def updates() -> int:
        with smtp_app.app_context():
            return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.kind == "invitation_update"))

    url = f"/organizer/events/{slug}/invitations/update"
    anonymous = csrf_from(client.get("/organizer/login").get_data(as_text=True))
    resp = client.post(url, data={"csrf_token": anonymous})
    assert resp.status_code in (302, 303) and "/organizer/login" in resp.headers["Location"]
    login_organizer("staff")
    assert client.post(url).status_code == 400
    assert client.get(url).status_code == 405
    assert updates() == 0
    board = dashboard(client, slug)
    assert client.post(url, data={"csrf_token": csrf_from(board)}).status_code == 303
    assert updates() == 1


def test_changing_the_zone_says_so_and_counts_those_to_tell(smtp_app, client, make_event,
                                                            make_invitee, login_organizer):
    slug = make_event(start_time=dt.time(10, 0))
    seed_welcome(smtp_app, slug)
    make_invitee(slug)
    make_invitee(slug)
    assert send(smtp_app, slug).exit_code == 0
    login_organizer("admin")
    page = change_settings(client, slug, timezone="Asia/Shanghai")
    assert "The time zone is now Asia/Shanghai" in page
    assert "2 invitee(s) were told" in page
    # A second change before the update: still the same two to tell, one update each.
    change_settings(client, slug, start_time="11:00")
    assert event_of(smtp_app, slug).schedule_revision == 2
    assert "Send the update to 2 invitee(s)" in dashboard(client, slug)


def test_an_invitation_from_before_details_were_kept_gets_the_new_ones_only(
        smtp_app, smtp_server, invited):
    slug, _token, _reg_id = invited(start_time=dt.time(10, 0))
    with smtp_app.app_context():
        inv = db.session.scalar(select(Invitation))
        assert '"start_time": "10:00:00"' in inv.told_schedule  # kept for new invitations
        inv.told_schedule = None  # as migration 0009 leaves older ones
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        events.update_event(event, {**events.settings_of(event), "start_time": dt.time(11, 0)})
        db.session.commit()
    done = smtp_app.test_cli_runner().invoke(args=["invitations", "update", "--event", slug])
    assert "queued 1 update(s)" in done.output
    body = text_body(smtp_server.parsed()[-1])
    assert "Before:" not in body and "Now: October 13, 2030, 11:00" in body
    with smtp_app.app_context():
        assert '"start_time": "11:00:00"' in db.session.scalar(select(Invitation.told_schedule))
