"""Cross-cutting web plumbing: health check, error pages, request limits, security headers."""

from flask import Blueprint

bp = Blueprint("core", __name__)

from . import views  # noqa: E402,F401
