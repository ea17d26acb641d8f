"""WSGI entry point: ``gunicorn wsgi:app``; with a broker, ``celery -A wsgi:celery_app worker``."""

from ciie_rsvp import create_app

app = create_app()
celery_app = app.extensions.get("celery")
