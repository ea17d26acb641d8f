"""Welcome invitations: templates, preflight, sending, the public RSVP pages."""

from flask import Blueprint

bp = Blueprint("rsvp", __name__)

from . import views  # noqa: E402,F401  (routes attach themselves to bp)
