"""Fault drills on real services: a PostgreSQL backend terminated mid-request, a server process
killed with SIGKILL mid-request on SQLite, and rate limits on Redis (shared across processes,
and never blocking a registration when Redis is down).

No timed assertions: the drills wait for states (a backend waiting on a lock, responses
counted) with bounded loops, and check outcomes (status codes, rows, integrity).
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
import urllib.error
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ciie_rsvp.extensions import db
from ciie_rsvp.models import AuditEntry, OutboxMessage, Registration
from tests.conftest import _pg_admin_url, form_fields, free_port, valid_registration
from tests.live import Browserish, live_server, live_server_process, worker_pids


def _stored(app) -> dict[str, int]:
    """email → registration id of every stored registration."""
    with app.app_context():
        rows = db.session.execute(select(Registration.email_normalized, Registration.id))
        return {email: reg_id for email, reg_id in rows}


def _assert_whole(app) -> None:
    """Nothing half-written: each registration has its audit row and its confirmation mail,
    and no audit row or mail exists without its registration."""
    with app.app_context():
        regs = set(db.session.scalars(select(Registration.id)))
        audits = Counter(db.session.scalars(
            select(AuditEntry.registration_id).where(AuditEntry.action == "submitted")))
        mails = Counter(db.session.scalars(
            select(OutboxMessage.registration_id)
            .where(OutboxMessage.kind == "registration_received")))
        assert audits == Counter(regs), "audit rows do not match registrations"
        assert mails == Counter(regs), "confirmation mails do not match registrations"
        orphans = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.registration_id.is_(None)))
        assert orphans == 0


class Progress:
    """Counts finished submissions; a drill's killer waits on it for its next round."""

    def __init__(self) -> None:
        self.count = 0
        self.cond = threading.Condition()

    def release(self) -> None:
        with self.cond:
            self.count += 1
            self.cond.notify_all()


def _wait_for(progress: Progress, target: int, total: int) -> bool:
    """Wait until ``target`` submissions finished; False if the run ended first (bounded)."""
    with progress.cond:
        for _ in range(600):
            if progress.count >= target:
                return True
            if progress.count >= total:
                return False
            progress.cond.wait(timeout=0.5)
    return False


# --- (a) PostgreSQL: backend terminated mid-request ------------------------------------------

def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL drill (the SQLite server-kill drill is below)")


def _terminate_app_backends(admin: Any, dbname: str, spare: set[int]) -> int:
    """pg_terminate_backend on every connection to ``dbname`` except ``spare``."""
    with admin.connect() as conn:
        return len(conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid() AND NOT (pid = ANY(:spare))"),
            {"db": dbname, "spare": list(spare)}).all())


@pytest.fixture
def pg_admin(database_url: str):
    _postgres_only(database_url)
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    yield admin, make_url(database_url).database
    admin.dispose()


def _form(client: Any, slug: str) -> dict[str, str]:
    page = client.get(f"/events/{slug}/register")
    assert page.status_code == 200
    return form_fields(page.get_data(as_text=True))


def test_pg_backend_terminated_mid_request_fails_cleanly_and_pool_recovers(
        app, client, make_event, pg_admin, database_url):
    admin, dbname = pg_admin
    slug = make_event()
    fields = _form(client, slug)
    assert client.post(f"/events/{slug}/register", data={
        **fields, **valid_registration(email="before@example.com")}).status_code == 303

    # Hold a lock the registration INSERT has to wait for, so the request is certainly inside
    # its transaction (event read, insert pending) when its backend is terminated.
    locker_engine = create_engine(database_url)
    locker = locker_engine.connect()
    locker.execute(text("LOCK TABLE registrations IN SHARE ROW EXCLUSIVE MODE"))
    locker_pid = locker.execute(text("SELECT pg_backend_pid()")).scalar_one()
    result: dict[str, Any] = {}

    def submit() -> None:
        # the main thread leaves ``client`` alone until this thread is joined
        resp = client.post(f"/events/{slug}/register",
                           data={**fields, **valid_registration(email="victim@example.com")})
        result["status"] = resp.status_code
        result["retry_after"] = resp.headers.get("Retry-After")
        result["body"] = resp.get_data(as_text=True)

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        waiting = None
        for _ in range(400):  # bounded: until the request's backend waits on our lock
            with admin.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db "
                    "AND wait_event_type = 'Lock' AND pid <> :locker"),
                    {"db": dbname, "locker": locker_pid}).scalar()
            if waiting or not thread.is_alive():
                break
            time.sleep(0.025)
        assert waiting, "the request never reached the INSERT"
        # Kill the app's backends: the one mid-request and the idle ones in the pool.
        assert _terminate_app_backends(admin, dbname, {locker_pid}) >= 1
    finally:
        locker.rollback()
        locker.close()
        locker_engine.dispose()
        thread.join(timeout=60)
    assert result["status"] == 503, result
    assert result["retry_after"] and int(result["retry_after"]) > 0
    assert "Nothing was saved" in result["body"]
    assert set(_stored(app)) == {"before@example.com"}

    # The pool recovers by itself: the next request gets a fresh connection (pre-ping).
    assert client.get("/healthz").status_code == 200
    fields = _form(client, slug)
    assert client.post(f"/events/{slug}/register", data={
        **fields, **valid_registration(email="after@example.com")}).status_code == 303
    assert set(_stored(app)) == {"before@example.com", "after@example.com"}
    _assert_whole(app)


def test_pg_backends_terminated_during_a_run(app, make_event, pg_admin):
    """Concurrent registrations while every app backend is terminated three times: each
    request answers 303 or a clean 503 with Retry-After; confirmed ones are stored whole."""
    admin, dbname = pg_admin
    slug = make_event()
    total, kills_after = 48, (6, 18, 30)
    done = Progress()
    outcomes: dict[str, tuple[int, str | None]] = {}

    def submit(i: int) -> None:
        client = app.test_client()
        email = f"run{i}@example.com"
        try:
            resp = client.get(f"/events/{slug}/register")
            if resp.status_code != 200:
                outcomes[email] = (resp.status_code, resp.headers.get("Retry-After"))
                return
            resp = client.post(f"/events/{slug}/register", data={
                **form_fields(resp.get_data(as_text=True)), **valid_registration(email=email)})
            outcomes[email] = (resp.status_code, resp.headers.get("Retry-After"))
        finally:
            done.release()

    def killer() -> None:
        for target in kills_after:  # bounded: three rounds
            if not _wait_for(done, target, total):
                return
            _terminate_app_backends(admin, dbname, set())

    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(submit, range(total)))
    kill_thread.join(timeout=60)

    codes = Counter(code for code, _ in outcomes.values())
    assert set(codes) <= {303, 503}, codes
    assert all(retry for code, retry in outcomes.values() if code == 503)
    confirmed = {e for e, (code, _) in outcomes.items() if code == 303}
    stored = set(_stored(app))
    assert confirmed <= stored
    # A 503 can only hide a stored row if the backend died right after COMMIT succeeded.
    assert stored <= set(outcomes)
    _assert_whole(app)
    client = app.test_client()
    fields = _form(client, slug)
    assert client.post(f"/events/{slug}/register", data={
        **fields, **valid_registration(email="after-run@example.com")}).status_code == 303


# --- (b) SQLite: a server process killed with SIGKILL mid-request ----------------------------

@pytest.mark.slow
def test_sqlite_worker_killed_mid_request_leaves_whole_rows(app, app_config, make_event,
                                                            tmp_path):
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite drill (the PostgreSQL drills are above)")
    slug = make_event()
    total, threads, kills_after = 90, 8, (10, 30, 50, 70)
    outcomes: dict[str, int | str] = {}
    done = Progress()
    kills: list[int] = []
    with live_server_process(url, tmp_path / "srv", workers=2,
                             extra_env={"CIIE_RSVP_MAIL_DELIVERY": "none"}) as (base, master):

        def submit(i: int) -> None:
            email = f"kill{i}@example.com"
            try:
                outcomes[email] = Browserish(base).register(slug, valid_registration(email=email))
            except (OSError, AssertionError, urllib.error.URLError,
                    http.client.HTTPException) as exc:
                outcomes[email] = type(exc).__name__  # the worker died under this request
            finally:
                done.release()

        def killer() -> None:
            for target in kills_after:  # bounded: four kills
                if not _wait_for(done, target, total):
                    return
                # With 8 clients on 2 workers, both workers are busy: kill one mid-request.
                pids = worker_pids(master.pid)
                if pids:
                    os.kill(pids[len(kills) % len(pids)], signal.SIGKILL)
                    kills.append(pids[len(kills) % len(pids)])

        kill_thread = threading.Thread(target=killer, daemon=True)
        kill_thread.start()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(submit, range(total)))
        kill_thread.join(timeout=120)
        # gunicorn replaced the killed workers: the service still registers people
        assert Browserish(base).register(slug, valid_registration(
            email="survivor@example.com")) == 303
    assert len(kills) == len(kills_after)
    assert set(outcomes.values()) - {303} <= {"RemoteDisconnected", "ConnectionResetError",
                                              "URLError", "BadStatusLine", "AssertionError",
                                              "IncompleteRead", "ConnectionRefusedError"}, outcomes
    confirmed = {e for e, code in outcomes.items() if code == 303}
    stored = set(_stored(app))
    # Every confirmed submission is committed; an interrupted one is committed or absent.
    assert confirmed <= stored <= set(outcomes) | {"survivor@example.com"}
    _assert_whole(app)
    with app.app_context():
        assert db.session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


# --- (c) Rate limits on Redis ----------------------------------------------------------------

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 13


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CIIE_RSVP_REQUIRE_REDIS") == "1":
            pytest.fail(f"CIIE_RSVP_REQUIRE_REDIS=1 but Redis is not answering: {exc}")
        pytest.skip(f"Redis not reachable on {REDIS_HOST}:{REDIS_PORT}: {exc}")
    yield client
    client.close()


def _limited_env(storage_url: str, prefix: str) -> dict[str, str]:
    return {"CIIE_RSVP_RATELIMIT_ENABLED": "1",
            "CIIE_RSVP_RATELIMIT_STORAGE_URL": storage_url,
            "CIIE_RSVP_RATELIMIT_KEY_PREFIX": prefix,
            "CIIE_RSVP_REGISTER_LIMIT_PER_EMAIL": "5 per hour",
            "CIIE_RSVP_REGISTER_LIMIT_PER_IP": "1000 per hour",
            "CIIE_RSVP_MAIL_DELIVERY": "none"}


@pytest.mark.slow
def test_redis_rate_limit_holds_across_worker_processes(app, app_config, make_event, tmp_path,
                                                        redis_client):
    slug = make_event()
    prefix = f"ciie-rsvp-test-{uuid.uuid4().hex[:8]}"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    try:
        with live_server(app_config["SQLALCHEMY_DATABASE_URI"], tmp_path / "srv", workers=2,
                         extra_env=_limited_env(url, prefix)) as base:
            # each POST on a new connection: the two workers take turns as the kernel hands
            # out connections; only a shared counter makes the sixth one fail everywhere
            codes = [Browserish(base).register(slug, valid_registration(
                email="limited@example.com")) for _ in range(6)]
            other = Browserish(base).register(slug, valid_registration(
                email="someone-else@example.com"))
        assert codes == [303] * 5 + [429], codes
        assert other == 303  # the limit is per email, not global
        keys = redis_client.keys(f"*{prefix}*")
        assert keys, "the counters are not in Redis"
        # the per-address counter is kept under a hash: the store holds no addresses
        assert not [k for k in keys if b"@" in k or b"limited" in k], keys
    finally:
        keys = redis_client.keys(f"*{prefix}*")
        if keys:
            redis_client.delete(*keys)


@pytest.mark.slow
def test_registrations_succeed_while_redis_is_unreachable(app, app_config, make_event,
                                                          tmp_path):
    """A rate-limit storage that refuses connections (a closed port stands in for a stopped
    Redis) never blocks a registration: the limiter falls back to in-process counting."""
    slug = make_event()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with live_server(app_config["SQLALCHEMY_DATABASE_URI"], tmp_path / "srv", workers=2,
                     extra_env=_limited_env(dead, "ciie-rsvp-dead")) as base:
        codes = [Browserish(base).register(slug, valid_registration(
            email=f"no-redis{i}@example.com")) for i in range(6)]
        log = (tmp_path / "srv" / "server.log").read_text(errors="replace")
    assert codes == [303] * 6, codes
    assert set(_stored(app)) == {f"no-redis{i}@example.com" for i in range(6)}
    assert "falling back to in-memory storage" in log
