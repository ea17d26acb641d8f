"""WSGI entry point: ``gunicorn wsgi:app``."""

from ciie_rsvp import create_app

app = create_app()
