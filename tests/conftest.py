"""Shared fixtures: a migrated real database (SQLite file, and PostgreSQL when reachable),
an app per test, a real SMTP server on loopback, and builders that return callables."""

from __future__ import annotations

import datetime as dt
import os
import re
import smtplib
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ciie_rsvp import create_app
from ciie_rsvp.extensions import db

pytest_plugins = ["tests.browser"]  # chromium / page fixtures

PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_admin_url() -> str:
    return os.environ.get("CIIE_RSVP_TEST_DATABASE_URL") or PG_ADMIN_DEFAULT


def _pg_available() -> str | None:
    """None when PostgreSQL is reachable, else the reason it is not."""
    try:
        engine = create_engine(_pg_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {_pg_admin_url()}: {exc.__class__.__name__}"
    return None


def require_postgres(reason: str) -> None:
    """Skip the PostgreSQL part visibly, or fail when CI says PostgreSQL must be there."""
    if os.environ.get("CIIE_RSVP_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"CIIE_RSVP_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def redis_unavailable(url: str) -> str | None:
    """None when Redis answers PING at ``url``, else the reason it does not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {url}: {exc.__class__.__name__}: {exc}"
    return None


def require_redis(reason: str) -> None:
    """Skip a Redis test visibly, or fail when CI says Redis must be there."""
    if os.environ.get("CIIE_RSVP_REQUIRE_REDIS") == "1":
        pytest.fail(f"CIIE_RSVP_REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    reason = _pg_available()
    return ["databases: SQLite file" + (" and PostgreSQL" if reason is None else
                                         f" only ({reason}; the PostgreSQL part is NOT run)")]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A fresh, migrated database for this test session, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        _migrate(url, tmp_path_factory.mktemp("inst"))
        yield url
        return
    with temporary_pg_database("ciie_rsvp_test") as url:
        _migrate(url, tmp_path_factory.mktemp("inst"))
        yield url


@contextmanager
def temporary_pg_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database for this run and drop it afterwards."""
    reason = _pg_available()
    if reason is not None:
        require_postgres(reason)
    admin = make_url(_pg_admin_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "migrate", "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MAIL_URL": f"file://{tmp_path / 'mail'}",
        "MAIL_DELIVERY": "inline",
        "BASE_URL": "https://rsvp.example.org",
        "MAIL_FROM": "CIIE Delegation <delegation@wtcla.example.org>",
        "FORM_MIN_FILL_SECONDS": 0,  # tests/test_abuse.py turns the traps back on
        "RATELIMIT_ENABLED": False,
        # tests change events and look at once; tests/test_page_cache.py turns the copy on
        "PUBLIC_EVENT_CACHE_MS": 0,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def mail_dir(app: Flask) -> Path:
    return Path(app.config["MAIL_URL"].removeprefix("file://"))


def read_mail(folder: Path) -> list[EmailMessage]:
    """Every .eml in ``folder``, parsed with the strict modern policy."""
    if not folder.exists():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in files]


@pytest.fixture
def mailbox(mail_dir: Path) -> Callable[[], list[EmailMessage]]:
    return lambda: read_mail(mail_dir)


def text_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def vevent_of(msg: EmailMessage) -> Any:
    """The VEVENT of the calendar file ``msg`` carries (read with icalendar)."""
    import icalendar

    [part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]


_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


_STARTED = re.compile(r'name="started" type="hidden" value="([^"]*)"')


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields a browser would send back: CSRF token and the form's start stamp."""
    fields = {"csrf_token": csrf_from(html)}
    started = _STARTED.search(html)
    if started:
        fields["started"] = started.group(1)
    return fields


def valid_registration(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "company": "Golden State Almond Growers, Inc.",
        "website": "https://almonds.example.com",
        "sector": "food_agriculture",
        "company_size": "50-249",
        "county": "Fresno",
        "first_name": "Maria",
        "last_name": "Lopez",
        "job_title": "Export Manager",
        "email": "maria.lopez@almonds.example.com",
        "phone": "(213) 555-0142",
        "interests": ["exhibit", "delegation"],
        "delegates": "3",
        "language": "en",
        "notes": "We would like to meet importers of nuts.",
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@contextmanager
def writing(app: Flask) -> Iterator[None]:
    """An app context whose SQLite transactions begin IMMEDIATE, as a request's do: a live
    server writing the same file meanwhile then makes the builder wait for the lock (busy
    timeout) instead of failing at once when its read snapshot went stale."""
    from ciie_rsvp.database import immediate_transactions

    with app.app_context(), immediate_transactions():
        yield


@pytest.fixture
def make_event(app: Flask) -> Callable[..., Any]:
    """Builder: ``make_event(slug=..., **fields)`` returns the new event's slug."""
    from ciie_rsvp.models import Event

    def _make(**fields: Any) -> str:
        defaults: dict[str, Any] = {
            "slug": "meet-" + uuid.uuid4().hex[:8],
            "name_en": "Meet in Shanghai, Share the Future",
            "name_zh": "相约上海，共享未来",
            "start_date": dt.date(2030, 10, 13),
            "end_date": dt.date(2030, 10, 13),
            "timezone": "America/Los_Angeles",
            "venue": "Downtown Los Angeles",
            "city": "Los Angeles",
            "hosts": "Shanghai Municipal Commission of Commerce",
            "organizers": "World Trade Center Los Angeles",
        }
        defaults.update(fields)
        with writing(app):
            db.session.add(Event(**defaults))
            db.session.commit()
        return defaults["slug"]

    return _make


@pytest.fixture
def register(client: FlaskClient) -> Callable[..., Any]:
    """Builder: submit the public form like a browser (GET for the token, then POST)."""

    def _register(slug: str, **overrides: Any) -> Any:
        page = client.get(f"/events/{slug}/register")
        assert page.status_code == 200, page.status_code
        data = {**form_fields(page.get_data(as_text=True)), **valid_registration(**overrides)}
        return client.post(f"/events/{slug}/register", data=data)

    return _register


# --- SMTP -----------------------------------------------------------------------------------

_allowed_smtp_ports: set[int] = set()


@pytest.fixture(autouse=True)
def _no_unexpected_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens an SMTP connection to a server it did not start."""
    original = smtplib.SMTP.connect

    def guarded(self: smtplib.SMTP, host: str = "localhost", port: int = 0,
                source_address: Any = None) -> Any:
        if port not in _allowed_smtp_ports:
            raise AssertionError(f"unexpected SMTP connection to {host}:{port}")
        return original(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPSink:
    """A real aiosmtpd server on loopback that keeps what it receives."""

    def __init__(self, *, delay: float = 0.0, refuse_auth: bool = False) -> None:
        """``delay``: seconds each DATA takes after the message is stored (a slow relay, so a
        test can kill a worker mid-batch). ``refuse_auth``: offer AUTH and refuse every
        login with 535, like a relay whose credentials changed."""
        import asyncio

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reject: Callable[[str], str | None] | None = None
        self.delay = delay
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802,ANN001
                if sink.reject is not None:
                    reply = sink.reject(address)
                    if reply:
                        return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802,ANN001
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or envelope.content)))
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                return "250 Message accepted for delivery"

        def refuse(*_args: Any) -> AuthResult:
            return AuthResult(success=False, handled=False)

        self.port = free_port()
        extra: dict[str, Any] = (
            {"authenticator": refuse, "auth_require_tls": False} if refuse_auth else {})
        handler = Handler()
        self._controller = lambda: Controller(handler, hostname="127.0.0.1", port=self.port,
                                              **extra)
        self.controller = self._controller()
        self._stopped = False

    def start(self) -> None:
        """Start (or, after ``stop``, restart on the same port: the relay comes back)."""
        _allowed_smtp_ports.add(self.port)
        if self._stopped:  # an aiosmtpd controller cannot be started twice
            self.controller = self._controller()
            self._stopped = False
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
        self._stopped = True

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
                for _, _, raw in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[SMTPSink]:
    sink = SMTPSink()
    sink.start()
    yield sink
    sink.stop()
    _allowed_smtp_ports.discard(sink.port)


@pytest.fixture
def make_invitee(app: Flask) -> Callable[..., int]:
    """Builder: ``make_invitee(slug, **fields)`` stores an approved registration (with a
    distinct name, company and email each time) directly and returns its id. For invitation
    tests, which start after review."""
    from ciie_rsvp.models import Event, Registration

    counter = iter(range(1, 1_000_000))

    def _make(slug: str, **fields: Any) -> int:
        n = next(counter)
        values: dict[str, Any] = {
            "status": "approved",
            "manage_token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
            "company": f"Pacific Trade Co. {n}",
            "sector": "food_agriculture",
            "company_size": "10-49",
            "county": "Los Angeles",
            "first_name": "Guest",
            "last_name": f"Number{n}",
            "job_title": "Director",
            "email": f"guest{n}@example.com",
            "phone": "+12135550100",
            "interest_conference": True,
            "language": "en",
            "consent_at": dt.datetime.now(dt.UTC),
            "consent_notice_version": "test",
        }
        values.update(fields)
        values.setdefault("email_normalized", values["email"].lower())
        with writing(app):
            event = db.session.scalar(db.select(Event).where(Event.slug == slug))
            reg = Registration(event_id=event.id, **values)
            db.session.add(reg)
            db.session.commit()
            return reg.id

    return _make


# --- organizers -----------------------------------------------------------------------------

ORGANIZER_PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_organizer(app: Flask) -> Callable[..., str]:
    """Builder: ``make_organizer(role="staff", email=...)`` creates one; returns its email."""
    from ciie_rsvp.organizer.accounts import create_organizer

    def _make(role: str = "staff", email: str | None = None, password: str = ORGANIZER_PASSWORD,
              name: str = "Olivia Organizer") -> str:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@wtcla.example.org"
        with writing(app):
            create_organizer(email, name, password, role)
            db.session.commit()
        return email

    return _make


def sign_in(client: FlaskClient, email: str, password: str = ORGANIZER_PASSWORD,
            next_url: str | None = None) -> Any:
    page = client.get("/organizer/login" + (f"?next={next_url}" if next_url else ""))
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.get_data(True))}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/organizer/login", data=data)


@pytest.fixture
def login_organizer(client: FlaskClient, make_organizer: Callable[..., str]
                    ) -> Callable[..., str]:
    """``login_organizer(role="staff")``: create an organizer, sign ``client`` in, return email."""

    def _login(role: str = "staff") -> str:
        email = make_organizer(role)
        resp = sign_in(client, email)
        assert resp.status_code == 303, resp.status_code
        return email

    return _login


@pytest.fixture
def make_registration(app: Flask) -> Callable[..., int]:
    """Builder: ``make_registration(slug, **fields)`` stores one registration; returns its id.

    Straight into the database (no form, no mail) for console tests that need many rows.
    """
    from ciie_rsvp.models import Event, Registration
    from ciie_rsvp.tokens import new_token

    def _make(slug: str, **fields: Any) -> int:
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {
            "company": "Golden State Almond Growers, Inc.", "website": "",
            "sector": "food_agriculture", "company_size": "50-249", "county": "Fresno",
            "first_name": "Maria", "last_name": "Lopez", "job_title": "Export Manager",
            "email": f"person-{uuid.uuid4().hex[:8]}@example.com", "phone": "+12135550142",
            "delegates": 1, "language": "en", "notes": "", "status": "submitted",
            "consent_at": now, "consent_notice_version": "2026-11", "created_at": now,
            "updated_at": now,
        }
        interests = fields.pop("interests", ["exhibit"])
        values.update(fields)
        values.setdefault("email_normalized", values["email"].lower())
        with writing(app):
            event_id = db.session.scalar(
                db.select(Event.id).where(Event.slug == slug))
            reg = Registration(event_id=event_id, manage_token_hash=new_token()[1], **values)
            reg.interests = interests
            db.session.add(reg)
            db.session.commit()
            return reg.id

    return _make


# --- invitations ----------------------------------------------------------------------------

RSVP_LINK = re.compile(r"https://rsvp\.example\.org/rsvp/([A-Za-z0-9_-]{40,})\?answer=accept")


def seed_welcome(app: Flask, slug: str) -> None:
    """The conference's welcome invitation for the event ``slug`` (tests read its wording)."""
    from ciie_rsvp.invitations import services
    from ciie_rsvp.models import Event

    with app.app_context():
        services.seed_templates(db.session.scalar(db.select(Event).where(Event.slug == slug)),
                                source="conference")
        db.session.commit()


def send(app: Flask, slug: str, *args: str) -> Any:
    """``ciie-rsvp invitations send --event SLUG ARGS`` (its click result)."""
    return app.test_cli_runner().invoke(args=["invitations", "send", "--event", slug, *args])


@pytest.fixture
def smtp_app(app: Flask, smtp_server: SMTPSink) -> Flask:
    """The test app, mailing to the loopback SMTP server."""
    app.config["MAIL_URL"] = smtp_server.url
    return app


@pytest.fixture
def invited(smtp_app: Flask, smtp_server: SMTPSink, make_event: Callable[..., Any],
            make_invitee: Callable[..., int]) -> Callable[..., tuple[str, str, int]]:
    """Builder: an event with one invited registrant; returns (slug, RSVP token, registration
    id)."""

    def _invite(language: str = "en", **event_fields: Any) -> tuple[str, str, int]:
        slug = make_event(**event_fields)
        seed_welcome(smtp_app, slug)
        reg_id = make_invitee(slug, language=language)
        assert send(smtp_app, slug).exit_code == 0
        token = RSVP_LINK.search(text_body(smtp_server.parsed()[-1])).group(1)
        return slug, token, reg_id

    return _invite
