"""WSGI entry point: ``gunicorn wsgi:app``; with a broker, ``ciie-rsvp worker``
(or ``celery -A ciie_rsvp.tasks worker --beat``)."""

from ciie_rsvp import create_app

app = create_app()
celery_app = app.extensions.get("celery")
