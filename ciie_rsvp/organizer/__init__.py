"""Organizer console: sign-in, review, exports. Every route here requires sign-in."""

from flask import Blueprint

bp = Blueprint("organizer", __name__, url_prefix="/organizer")

from . import auth, views  # noqa: E402,F401
