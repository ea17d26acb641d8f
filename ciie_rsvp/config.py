"""Settings from ``CIIE_RSVP_*`` environment variables (and a ``.env`` file when present).

Every setting has a safe embedded default so that ``ciie-rsvp serve`` works on a fresh machine:
SQLite under ``instance/``, mail written as ``.eml`` files to ``instance/mail``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

PREFIX = "CIIE_RSVP_"


def env(name: str, default: str | None = None) -> str | None:
    """Read ``CIIE_RSVP_<name>``; an empty value counts as unset."""
    value = os.environ.get(PREFIX + name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = env(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def instance_path() -> Path:
    """The instance folder: ``CIIE_RSVP_INSTANCE_PATH`` or ``./instance``."""
    return Path(env("INSTANCE_PATH", "instance")).resolve()  # type: ignore[arg-type]


def load_or_create_secret_key(folder: Path) -> str:
    """Return the secret key kept in ``folder/secret_key``, creating it once.

    Several server processes may start together: ``O_EXCL`` makes exactly one of them write
    the key and the others read it.
    """
    path = folder / "secret_key"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            import time

            time.sleep(0.02)
        raise RuntimeError(f"{path} exists but is empty; delete it to generate a new key") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def ratelimit_storage_options(url: str | None) -> dict[str, Any]:
    """Connection options for the rate-limit storage: bounded timeouts for Redis."""
    if url and url.split(":", 1)[0] in ("redis", "rediss"):
        seconds = env_int("RATELIMIT_REDIS_TIMEOUT_MS", 500) / 1000
        return {"socket_connect_timeout": seconds, "socket_timeout": seconds}
    return {}


def build_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Collect the settings. ``overrides`` (tests, embedding) win over the environment."""
    overrides = dict(overrides or {})
    if not overrides.get("TESTING"):
        # A .env file in the working directory; real environment variables win.
        load_dotenv(Path.cwd() / ".env", override=False)
    folder = Path(overrides.pop("INSTANCE_PATH", None) or instance_path())
    folder.mkdir(parents=True, exist_ok=True)
    database_url = env("DATABASE_URL", f"sqlite:///{folder / 'ciie_rsvp.sqlite3'}")
    secret = env("SECRET_KEY") or overrides.get("SECRET_KEY") or load_or_create_secret_key(folder)
    cfg: dict[str, Any] = {
        "INSTANCE_PATH": str(folder),
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A server connection can die between requests (restart, failover, idle timeout): test
        # it on checkout. A SQLite file cannot, so it is not pinged before every request.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database_url.startswith("sqlite")},
        "MAIL_URL": env("MAIL_URL", f"file://{folder / 'mail'}"),
        "MAIL_FROM": env("MAIL_FROM", "CIIE California Delegation <noreply@ciie-rsvp.localhost>"),
        "MAIL_REPLY_TO": env("MAIL_REPLY_TO"),
        # inline: deliver right after the request commits; worker: a background worker does it;
        # none: leave messages queued (a separate ``ciie-rsvp mail worker`` delivers them).
        "MAIL_DELIVERY": env("MAIL_DELIVERY", "auto"),
        # Delivery tuning. A claimed row's lease must outlast sending one message; a worker
        # killed mid-batch leaves its rows to others once their lease runs out.
        "MAIL_LEASE_SECONDS": env_int("MAIL_LEASE_SECONDS", 300),
        "MAIL_MAX_ATTEMPTS": env_int("MAIL_MAX_ATTEMPTS", 8),
        "MAIL_BACKOFF_BASE": float(env_int("MAIL_BACKOFF_BASE", 30)),
        # Provider quota: at most this many messages per rolling minute (0: no limit).
        "MAIL_RATE_PER_MINUTE": env_int("MAIL_RATE_PER_MINUTE", 0),
        # After an authentication or TLS failure at the relay the queue waits this long
        # before trying again (organizers can resume sooner from the console).
        "MAIL_RELAY_PAUSE_SECONDS": env_int("MAIL_RELAY_PAUSE_SECONDS", 300),
        # Celery on Redis: when set, web processes only enqueue and Celery workers deliver.
        "BROKER_URL": env("BROKER_URL"),
        # The Celery queue, and a prefix for every key Celery keeps in Redis (several sites or
        # test runs on one Redis stay apart).
        "CELERY_QUEUE": env("CELERY_QUEUE", "ciie-rsvp-mail"),
        "BROKER_KEY_PREFIX": env("BROKER_KEY_PREFIX", ""),
        # How long a web request may spend handing a task to the broker before giving up (the
        # outbox keeps the mail and the periodic sweep sends it): connect and socket timeouts
        # and a single retry, never kombu's retry-forever.
        "BROKER_TIMEOUT_SECONDS": env_int("BROKER_TIMEOUT_MS", 2000) / 1000,
        # Seconds between the periodic sweeps (Celery beat) or polls (``mail worker``).
        "MAIL_POLL_SECONDS": env_int("MAIL_POLL_SECONDS", 5),
        # Inline delivery (the default) sends at most this many messages in the request that
        # queued them; a bigger send is left to the delivery worker.
        "MAIL_INLINE_MAX": env_int("MAIL_INLINE_MAX", 50),
        # A send, reminder or update from the console stops starting new parts after this many
        # seconds (the page says how many remain; sending again continues), well within
        # gunicorn's 30 s worker timeout. The CLI has no limit.
        "BATCH_REQUEST_SECONDS": env_int("BATCH_REQUEST_SECONDS", 10),
        # Render limits for organizer-edited invitation templates.
        "TEMPLATE_RENDER_SECONDS": float(env_int("TEMPLATE_RENDER_SECONDS", 2)),
        "TEMPLATE_MAX_OUTPUT": env_int("TEMPLATE_MAX_OUTPUT", 256 * 1024),
        "BASE_URL": (env("BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
        "PRIVACY_NOTICE_VERSION": env("PRIVACY_NOTICE_VERSION", "2026-11"),
        "WEB_WORKERS": env_int("WEB_WORKERS", 2),
        # The public form reads its event from a per-process copy this many milliseconds old
        # at most (0: from the database on every request). Registering re-checks the event
        # in the write transaction, so this only delays what the page shows after an edit.
        "PUBLIC_EVENT_CACHE_MS": env_int("PUBLIC_EVENT_CACHE_MS", 2000),
        "DB_STATEMENT_TIMEOUT_MS": env_int("DB_STATEMENT_TIMEOUT_MS", 15000),
        # request limits: a registration form is a few kilobytes
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 256 * 1024),
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 200,
        "MAX_FORM_FIELDS": 200,
        "WTF_CSRF_TIME_LIMIT": 6 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool(
            "SECURE_COOKIES", (env("BASE_URL") or "").startswith("https://")
        ),
        "TRUSTED_PROXY_HOPS": env_int("TRUSTED_PROXY_HOPS", 0),
        "SEED_ON_START": env_bool("SEED_ON_START", True),
        # organizer sign-in throttling (see organizer/throttle.py)
        "LOGIN_MAX_FAILURES_ACCOUNT": env_int("LOGIN_MAX_FAILURES_ACCOUNT", 5),
        "LOGIN_MAX_FAILURES_ADDRESS": env_int("LOGIN_MAX_FAILURES_ADDRESS", 20),
        "LOGIN_WINDOW_SECONDS": env_int("LOGIN_WINDOW_SECONDS", 900),
        "LOGIN_LOCKOUT_SECONDS": env_int("LOGIN_LOCKOUT_SECONDS", 900),
        # CSV import uploads (the rest of the app keeps MAX_CONTENT_LENGTH)
        "IMPORT_MAX_BYTES": env_int("IMPORT_MAX_BYTES", 2 * 1024 * 1024),
        # Abuse resistance of the public form.
        "RATELIMIT_ENABLED": env_bool("RATELIMIT_ENABLED", True),
        # Redis (``redis://127.0.0.1:6379/1``) makes limits hold across processes and machines.
        # A Redis outage must never block a registration: each process falls back to counting
        # in memory until Redis answers again, and any other storage error is logged and
        # swallowed. Short socket timeouts keep an unreachable Redis from stalling requests.
        "RATELIMIT_STORAGE_URI": env("RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_STORAGE_OPTIONS": ratelimit_storage_options(env("RATELIMIT_STORAGE_URL")),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": env("RATELIMIT_KEY_PREFIX", "ciie-rsvp"),
        "REGISTER_LIMIT_PER_IP": env("REGISTER_LIMIT_PER_IP", "30 per minute; 300 per hour"),
        "REGISTER_LIMIT_PER_EMAIL": env("REGISTER_LIMIT_PER_EMAIL", "5 per hour"),
        "FORM_MIN_FILL_SECONDS": float(env("FORM_MIN_FILL_SECONDS", "3") or 3),
    }
    cfg.update(overrides)
    return cfg
