"""Celery on Redis: the same delivery function as the embedded worker, for production scale.

When ``CIIE_RSVP_BROKER_URL`` is set, ``create_app`` wires a Celery app (``app.extensions
["celery"]``); web processes and CLI commands then only enqueue (``dispatch`` sends a task
naming the new outbox rows) and Celery workers deliver. One command runs a worker with its
periodic sweep (beat)::

    ciie-rsvp worker                                    # = celery worker --beat, below
    celery -A ciie_rsvp.tasks worker --beat --loglevel=INFO

The outbox stays the source of truth: a lost task or a broker outage loses no mail, because the
periodic ``deliver_due`` task (every ``CIIE_RSVP_MAIL_POLL_SECONDS``) picks up every due row,
including rows a killed worker left in ``sending`` once their lease
(``CIIE_RSVP_MAIL_LEASE_SECONDS``) has run out; claiming keeps Celery workers and embedded
workers from sending a row twice. Publishing is bounded (short connect and socket timeouts, one
retry), so a web request never hangs on a broker that is down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task, shared_task
from celery.signals import worker_process_init
from flask import Flask


def init_celery(app: Flask) -> Celery:
    """A Celery app whose tasks run inside ``app``'s application context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    timeout = float(app.config.get("BROKER_TIMEOUT_SECONDS", 2.0))
    bounded = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
    transport: dict[str, Any] = {
        **bounded,
        "socket_connect_timeout": timeout,
        # above the worker's BRPOP timeout (1 s), so a blocking read is never cut short
        "socket_timeout": max(timeout, 5.0),
    }
    if app.config.get("BROKER_KEY_PREFIX"):
        transport["global_keyprefix"] = app.config["BROKER_KEY_PREFIX"]
    celery.conf.update(
        broker_url=app.config["BROKER_URL"],
        broker_transport_options=transport,
        broker_connection_timeout=timeout,
        task_publish_retry_policy=bounded,
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=app.config.get("CELERY_QUEUE") or "ciie-rsvp-mail",
        beat_schedule_filename=str(Path(app.instance_path) / "celerybeat-schedule"),
        beat_schedule={
            "deliver-due": {"task": "ciie_rsvp.deliver_due",
                            "schedule": float(app.config.get("MAIL_POLL_SECONDS") or 5)},
        },
    )
    celery.flask_app = app  # type: ignore[attr-defined]
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


@worker_process_init.connect
def _fresh_pool_process(**_kwargs: Any) -> None:
    """A forked pool process must not share its parent's database connections."""
    from celery import current_app as current_celery

    from .extensions import db

    flask_app = getattr(current_celery, "flask_app", None)
    if flask_app is not None:
        with flask_app.app_context():
            db.engine.dispose(close=False)


@shared_task(name="ciie_rsvp.deliver_messages")
def deliver_messages(ids: list[int]) -> dict[str, int]:
    """Deliver freshly queued outbox rows (when still due)."""
    from .outbox import deliver_ids

    report = deliver_ids(ids)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


@shared_task(name="ciie_rsvp.deliver_due")
def deliver_due_task(batch: int = 50) -> dict[str, int]:
    """Deliver what is due: retries, rows whose task was lost, rows of a killed worker."""
    from .extensions import db
    from .outbox import deliver_due

    total = {"sent": 0, "retrying": 0, "failed": 0}
    while True:
        report = deliver_due(batch)
        db.session.remove()
        total["sent"] += report.sent
        total["retrying"] += report.retrying
        total["failed"] += report.failed
        if report.sent + report.failed + report.retrying < batch or report.relay_error:
            return total


def __getattr__(name: str) -> Any:
    """``celery -A ciie_rsvp.tasks``: Celery looks for ``app`` or ``celery`` here; build the
    Flask app from the environment (``CIIE_RSVP_*``) and hand over its Celery app."""
    if name not in ("app", "celery"):
        raise AttributeError(name)
    from . import create_app

    flask_app = create_app()
    if "celery" not in flask_app.extensions:
        raise RuntimeError("set CIIE_RSVP_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run "
                           "Celery workers")
    celery = flask_app.extensions["celery"]
    globals()["app"] = globals()["celery"] = celery
    return celery
