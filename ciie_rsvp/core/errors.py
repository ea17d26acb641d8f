"""Aborts that several areas share, with one wording (translated for the visitor)."""

from __future__ import annotations

from typing import NoReturn

from flask import abort
from flask_babel import gettext as _


def form_expired() -> NoReturn:
    """400 for a button POST whose CSRF token is missing or stale."""
    abort(400, description=_("The form expired. Reload the page and try again."))
