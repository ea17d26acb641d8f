"""Sign-in for organizers: Flask-Login, safe ``next`` redirects, role checks, sign-out by POST."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from ..core.errors import form_expired
from ..extensions import db, login_manager
from ..models import Organizer
from . import accounts, bp, throttle
from .forms import LoginForm, PostForm

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def _load_user(user_id: str) -> Organizer | None:
    return accounts.load_from_session(user_id)


def current_organizer() -> Organizer:
    """The signed-in organizer (only valid inside ``organizer_required`` views)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def organizer_required(role: str | None = None) -> Callable[[F], F]:
    """Require a signed-in, active organizer; with ``role="admin"``, an admin (else 403)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if role is not None and current_user.role != role:
                abort(403, description="Your organizer role does not allow this action.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme or host, no ``//``, ``/\\`` or whitespace."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return False
    if any(ch in target for ch in "\\\t\r\n") or any(ord(ch) < 32 for ch in target):
        return False
    if target.startswith("//") or "%09" in target.lower() or "%5c" in target.lower():
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("organizer.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        email = form.email.data or ""
        keys = throttle.keys_for(email, request.remote_addr)
        wait = throttle.locked_for(keys)
        if wait:
            # Refused before the password is checked, the same for every email.
            db.session.rollback()
            minutes = max(1, (wait + 59) // 60)
            flash(f"Too many failed sign-in attempts. Try again in {minutes} minute"
                  f"{'s' if minutes > 1 else ''}.", "error")
            resp = current_app.make_response(
                (render_template("organizer/login.html", form=form), 429))
            resp.headers["Retry-After"] = str(wait)
            return resp
        organizer = accounts.authenticate(email, form.password.data or "")
        if organizer is not None:
            throttle.record_success(email)
            db.session.commit()
            target = form.next.data if is_safe_next(form.next.data) else None
            session.clear()  # rotate: nothing from the anonymous session carries over
            login_user(organizer)
            return redirect(target or url_for("organizer.dashboard"), code=303)
        db.session.rollback()
        throttle.record_failure(keys)
        db.session.commit()
        flash("Unknown email or wrong password.", "error")
        return render_template("organizer/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("organizer/login.html", form=form), status


@bp.post("/logout")
@organizer_required()
def logout() -> Response:
    if not PostForm().validate_on_submit():
        form_expired()
    accounts.end_sessions(current_organizer())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("organizer.login"), code=303)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
