"""ciie-rsvp: registration and welcome invitations for the CIIE California delegation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from . import database, i18n
from .config import build_config
from .core import signing
from .core.ids import IdConverter
from .core.sessions import SessionInterface
from .extensions import csrf, db, limiter, login_manager, migrate

PACKAGE_DIR = Path(__file__).resolve().parent


def _resolve(name: str) -> str:
    """The packaged folder (wheel) first, then the checkout's top-level one (editable)."""
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return str(packaged)
    return str(PACKAGE_DIR.parent / name)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides the environment (tests use it)."""
    settings = build_config(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=_resolve("templates"),
        static_folder=str(PACKAGE_DIR / "static"),
    )
    app.config.update(settings)
    app.session_interface = SessionInterface()
    app.url_map.converters["int"] = IdConverter  # before any route is added
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    if app.config.get("BROKER_URL"):
        from .tasks import init_celery

        init_celery(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=_resolve("migrations"), render_as_batch=True)
    csrf.init_app(app)
    # Templates' csrf_token(): the same tokens as Flask-WTF's, signed faster (core/signing).
    app.jinja_env.globals["csrf_token"] = signing.generate_csrf
    login_manager.init_app(app)
    limiter.init_app(app)
    database.init_app(app)
    i18n.init_app(app)
    if app.config.get("TRUSTED_PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_blueprints(app: Flask) -> None:
    from .core import bp as core_bp
    from .core.views import register_request_guards
    from .invitations import bp as rsvp_bp
    from .invitations.admin import admin_bp as invitations_admin_bp
    from .organizer import bp as organizer_bp
    from .registration import bp as registration_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(rsvp_bp)
    app.register_blueprint(organizer_bp)
    app.register_blueprint(invitations_admin_bp)
    register_request_guards(app)

    @app.template_filter("label")
    def _label(code: str, kind: str) -> str:
        """``{{ reg.sector|label('SECTORS') }}``: the translated label of a stored code."""
        from flask_babel import gettext

        from . import choices

        text = choices.label(getattr(choices, kind), code)
        return gettext(text) if text else text


def register_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)
