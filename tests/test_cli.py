"""The ``ciie-rsvp`` command: first start, seed, mail worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.models import Event, OutboxMessage
from tests.conftest import valid_registration
from tests.live import Browserish, live_server


def test_first_start_migrates_seeds_and_serves(tmp_path):
    """A fresh instance folder: ``serve`` creates the SQLite DB via Alembic and seeds events."""
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'ciie_rsvp.sqlite3'}"
    # no CIIE_RSVP_BASE_URL, as on a first start: links in mail follow the port served
    with live_server(url, instance, workers=1,
                     extra_env={"CIIE_RSVP_SEED_ON_START": "1",
                                "CIIE_RSVP_BASE_URL": ""}) as base:
        with urllib.request.urlopen(base + "/", timeout=10) as resp:
            html = resp.read().decode()
        # the seeded events are the article's, in 2022: over, so closed to registration
        visitor = Browserish(base)
        assert visitor.request("/events/meet-in-shanghai-2022/register")[0] == 403
        # as the README says, an admin moves one to later days (here through the models)
        _move_to_2030(url, instance, "meet-in-shanghai-2022")
        deadline = time.monotonic() + 10  # public pages see an event change within 2 s
        while (visitor.request("/events/meet-in-shanghai-2022/register")[0] != 200
               and time.monotonic() < deadline):
            time.sleep(0.2)
        # the visitor does not wait on mail: serve's delivery thread sends the confirmation
        assert visitor.register("meet-in-shanghai-2022", valid_registration()) == 303
        deadline = time.monotonic() + 30
        while not list((instance / "mail").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
        [mail] = list((instance / "mail").glob("*.eml"))
        assert f"{base}/r/".encode() in mail.read_bytes()  # not the default port 5000
    assert "Meet in Shanghai, Share the Future" in html
    assert "The 5th China International Import Expo" in html
    assert "World Trade Center Los Angeles" in html
    log = (instance / "server.log").read_text()
    assert f"ciie-rsvp is running: open {base}/" in log and f"links start {base}" in log
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0


def _move_to_2030(url: str, instance, slug: str) -> None:
    import datetime as dt

    from ciie_rsvp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "TESTING": True})
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        event.start_date = event.end_date = dt.date(2030, 10, 13)
        db.session.commit()
        db.engine.dispose()


def test_seed_is_idempotent_and_has_the_article_facts(app, runner):
    assert "seeded: meet-in-shanghai-2022, ciie-2022" in runner.invoke(args=["seed"]).output
    assert "already present" in runner.invoke(args=["seed"]).output
    with app.app_context():
        la = db.session.scalar(select(Event).where(Event.slug == "meet-in-shanghai-2022"))
        ciie = db.session.scalar(select(Event).where(Event.slug == "ciie-2022"))
    assert str(la.start_date) == "2022-10-13" and la.timezone == "America/Los_Angeles"
    assert la.hosts == "Shanghai Municipal Commission of Commerce"
    assert "Shanghai Foreign Investment Development Board" in la.organizers
    assert str(ciie.start_date) == "2022-11-05" and ciie.timezone == "Asia/Shanghai"


def test_mail_worker_once_delivers_queued_mail_over_smtp(app, app_config, register, make_event,
                                                         smtp_server, runner):
    app.config["MAIL_DELIVERY"] = "none"  # the request only queues
    slug = make_event()
    assert register(slug).status_code == 303
    assert smtp_server.messages == []
    app.config["MAIL_URL"] = smtp_server.url
    result = runner.invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    [msg] = smtp_server.parsed()
    assert msg["To"].addresses[0].addr_spec == "maria.lopez@almonds.example.com"
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage))
    assert row.status == "sent" and row.message_id == msg["Message-ID"]


def test_console_script_help_lists_commands_and_leaves_no_trace(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIIE_RSVP_")}
    done = subprocess.run([sys.executable, "-m", "ciie_rsvp.cli", "--help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=True)
    for command in ("serve", "seed", "db", "mail", "organizer", "routes", "worker", "limiter"):
        assert f"\n  {command} " in done.stdout
    assert "Perform database migrations." in done.stdout  # described by the app's Flask-Migrate
    assert "Error" not in done.stderr
    # Asking for help used to create ./instance/secret_key wherever it was typed.
    assert list(tmp_path.iterdir()) == []


def test_celery_worker_needs_a_broker(runner):
    """Without CIIE_RSVP_BROKER_URL, `ciie-rsvp worker` says what to set (or what to run)."""
    result = runner.invoke(args=["worker"])
    assert result.exit_code != 0
    assert "CIIE_RSVP_BROKER_URL is not set" in result.output
    assert "ciie-rsvp mail worker" in result.output


def test_web_workers_freeze_the_loaded_app_for_the_garbage_collector(app):
    """``serve``'s worker hook moves what the app loaded out of the collector's way."""
    import gc
    from types import SimpleNamespace

    from ciie_rsvp.cli import _worker_ready

    app.config["MAIL_DELIVERY"] = "none"  # no delivery thread in this test
    try:
        _worker_ready(SimpleNamespace(wsgi=app))
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
