"""With CIIE_RSVP_BROKER_URL set, Celery workers on Redis run the same delivery function."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from ciie_rsvp.extensions import db
from ciie_rsvp.invitations import services
from ciie_rsvp.models import Event
from tests.conftest import redis_unavailable, require_redis

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def _redis_required() -> None:
    """Skipped with the reason when Redis does not answer; a failure in CI
    (``CIIE_RSVP_REQUIRE_REDIS=1``)."""
    reason = redis_unavailable(REDIS_URL)
    if reason is not None:
        require_redis(reason)


@pytest.fixture
def app_config(app_config, smtp_server):
    """A queue and a key prefix of this test's own; its keys are removed afterwards."""
    import redis

    tag = uuid.uuid4().hex[:8]
    prefix = f"ciie-rsvp-test-{tag}:"
    yield {**app_config, "BROKER_URL": REDIS_URL, "MAIL_URL": smtp_server.url,
           "CELERY_QUEUE": f"ciie-rsvp-test-{tag}", "BROKER_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_send_hands_mail_to_a_celery_worker(app, smtp_server, make_event, make_invitee):
    from celery.contrib.testing.worker import start_worker

    celery = app.extensions["celery"]
    slug = make_event()
    emails = [f"celery{i}@example.com" for i in range(4)]
    for email in emails:
        make_invitee(slug, email=email)
    with app.app_context():
        services.seed_templates(db.session.scalar(select(Event).where(Event.slug == slug)))
        db.session.commit()
    with start_worker(celery, perform_ping_check=False, loglevel="WARNING"):
        result = app.test_cli_runner().invoke(args=["invitations", "send", "--event", slug])
        assert result.exit_code == 0, result.output
        assert "handed 4 to the delivery worker" in result.output
        wait_for(lambda: len(smtp_server.messages) >= 4)
    assert sorted(r[0] for _, r, _ in smtp_server.messages) == emails


def test_periodic_task_delivers_what_no_task_named(app, smtp_server, make_event,
                                                   make_invitee):
    """A lost task loses no mail: the periodic deliver_due task finds every due row."""
    from celery.contrib.testing.worker import start_worker

    from ciie_rsvp.tasks import deliver_due_task

    slug = make_event()
    for i in range(3):
        make_invitee(slug, email=f"straggler{i}@example.com")
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        services.seed_templates(event)
        services.send_invitations(event, "welcome")  # queued, never dispatched
        db.session.commit()
    assert smtp_server.messages == []
    with start_worker(app.extensions["celery"], perform_ping_check=False, loglevel="WARNING"):
        deliver_due_task.delay()
        wait_for(lambda: len(smtp_server.messages) >= 3)
    assert len(smtp_server.messages) == 3


def wait_for(predicate) -> None:
    deadline = time.monotonic() + 60  # a guard against hanging, not a speed assertion
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting for the Celery worker"
        time.sleep(0.05)
