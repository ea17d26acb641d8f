"""Celery on Redis: the same delivery function as the embedded worker, for production scale.

When ``CIIE_RSVP_BROKER_URL`` is set, ``create_app`` wires a Celery app (``app.extensions
["celery"]``); web processes and CLI commands then only enqueue (``dispatch`` sends a task
naming the new outbox rows) and Celery workers deliver::

    celery -A wsgi:celery_app worker --loglevel=INFO      # delivers
    celery -A wsgi:celery_app beat                        # retries and stragglers, every poll

The outbox stays the source of truth: a lost task or a broker outage loses no mail, because the
periodic ``deliver_due`` task (or any worker) picks up every due row; claiming keeps Celery
workers and embedded workers from sending a row twice.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task, shared_task
from flask import Flask

from .config import env_int


def init_celery(app: Flask) -> Celery:
    """A Celery app whose tasks run inside ``app``'s application context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["BROKER_URL"],
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=app.config.get("CELERY_QUEUE", "ciie-rsvp-mail"),
        beat_schedule={
            "deliver-due": {"task": "ciie_rsvp.deliver_due",
                            "schedule": float(env_int("MAIL_POLL_SECONDS", 5))},
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


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
