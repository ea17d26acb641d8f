"""Aborts that several areas share, with one wording (translated for the visitor)."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort
from flask_babel import gettext as _


def form_expired() -> NoReturn:
    """400 for a button POST whose CSRF token is missing or stale."""
    abort(400, description=_("The form expired. Reload the page and try again."))


def form_refused(form: Any, message: str) -> NoReturn:
    """400 for a POSTed form that did not validate: the expiry wording when its CSRF token
    was the trouble, else ``message``."""
    if "csrf_token" in form.errors:
        form_expired()
    abort(400, description=message)
