"""Health check, error pages and per-request guards shared by every blueprint."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from flask import Flask, g, jsonify, redirect, render_template, request, session, url_for
from flask import Request as FlaskRequest
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, UnsupportedMediaType
from werkzeug.wrappers import Response

from ..database import mark_immediate, unmark_immediate
from ..extensions import db
from ..i18n import in_console, normalize_tag
from . import bp

log = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@bp.post("/lang")
def set_language() -> Response:
    """The language switch on every page: remember the choice, go back where we were."""
    from ..organizer.auth import is_safe_next

    tag = normalize_tag(request.form.get("lang"))
    if tag:
        session["lang"] = tag
    target = request.form.get("next", "")
    return redirect(target if is_safe_next(target) else url_for("registration.index"), code=303)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("health check: database unreachable: %s", exc)
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


def _error_page(code: int, title: str, message: str) -> tuple[str | Response, int]:
    if request_ctx.url_adapter is None:
        # A Host header no address can be built for (Werkzeug's BadHost): the page template's
        # links cannot be made either (that was a 500), so the answer is plain text.
        return Response(f"{title}: {message}\n", code, mimetype="text/plain"), code
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=title, message=message), code
    page = "organizer/error.html" if in_console() else "errors/error.html"
    return render_template(page, code=code, title=title, message=message), code


#: Views that read their own (multipart) body, under their own size limit.
UPLOAD_ENDPOINTS = frozenset({"organizer.import_registrations"})

#: The bodies a write request may have: what HTML forms send.
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

#: Sent with every response unless the view set its own.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
)


def _strict_utf8(body: bytes) -> bool:
    """Whether every name and value of the urlencoded ``body`` is valid UTF-8."""
    try:
        parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                  errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


class Request(FlaskRequest):
    """Flask's request, keeping a urlencoded body as sent (the form is parsed from that copy),
    so that the guards can read it again whoever parsed the form first (CSRFProtect does)."""

    def _load_form_data(self) -> None:
        if self.mimetype == "application/x-www-form-urlencoded":
            self.get_data(cache=True)
        super()._load_form_data()


def register_request_guards(app: Flask) -> None:
    app.request_class = Request

    def _guards() -> None:
        # First of all before-request functions (before CSRF and the rate limits), so that
        # what arrives malformed is answered for what it is, and no check reads it before.
        # No field or address holds a NUL character (PostgreSQL's text cannot store one).
        if "\x00" in request.path:
            raise NotFound()  # no page has such an address
        if b"%00" in request.query_string:
            raise BadRequest(_("The address contains a NUL character."))
        if request.method not in WRITE_METHODS:
            return
        # Every write is an HTML form. A JSON body would reach the forms as numbers, booleans
        # and objects (Flask-WTF reads JSON as form data), which they are not made for (those
        # were 500s).
        mimetype = request.mimetype
        if mimetype and mimetype not in FORM_MIMETYPES:
            raise UnsupportedMediaType(_("Send this as a web form (form-urlencoded or "
                                         "multipart/form-data)."))
        g.sqlite_immediate = mark_immediate()
        # The CSV import's multipart body is read by its view, under its own size limit, and
        # checked there.
        if not mimetype or request.endpoint in UPLOAD_ENDPOINTS:
            return
        form = request.form
        # urlencoded bodies are not counted by Werkzeug's MAX_FORM_PARTS
        limit = app.config["MAX_FORM_FIELDS"]
        values = list(form.listvalues())
        if len(form) > limit or sum(len(v) for v in values) > limit * 5:
            raise BadRequest(_("This form has far too many fields."))
        suspicious = False  # a sign of bytes that were not UTF-8 (one pass over the values)
        for listed in values:
            for value in listed:
                if "\x00" in value:
                    raise BadRequest(_("A field contains a NUL character, which no field "
                                       "accepts."))
                if "%" in value or "\ufffd" in value:
                    suspicious = True
        # Werkzeug keeps bytes of a urlencoded body that are not UTF-8 as their "%XX" escapes
        # (older versions: U+FFFD), and its multipart parser replaces them with U+FFFD; stored,
        # that would change what was sent without a word. A urlencoded body is read strictly
        # again only when a value shows a sign of it.
        if suspicious and (
                any("\ufffd" in value for listed in values for value in listed)
                if mimetype == "multipart/form-data"
                else not _strict_utf8(request.get_data(cache=True))):
            raise BadRequest(_("The form was not sent as UTF-8 text. Reload the page and "
                               "try again."))

    app.before_request_funcs.setdefault(None, []).insert(0, _guards)

    @app.teardown_request
    def _end_immediate(_exc: BaseException | None) -> None:
        token = g.pop("sqlite_immediate", None)
        if token is not None:
            unmark_immediate(token)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        if request.path.startswith(("/r/", "/rsvp/")):
            headers["Cache-Control"] = "no-store"
        # One pass over what the view set (a view's own value wins), not a scan per header.
        present = {name.lower() for name, _value in headers}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        if "strict-transport-security" not in present and (
                request.is_secure or app.config["BASE_URL"].startswith("https://")):
            headers.add("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str | Response, int]:
        return _error_page(400, _("Form expired"),
                           _("The form was missing its security token or it expired. "
                             "Go back, reload the page and submit again."))

    @app.errorhandler(DBAPIError)
    def _db_down(exc: DBAPIError) -> tuple[str | Response, int]:
        # A dropped connection (server restart, terminated backend, network), a lock or
        # statement timeout: the transaction was rolled back, so say "try again" (503) and let
        # the pool replace the connection (pre-ping). Other driver errors are bugs: 500.
        if not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
            return _unexpected(exc)
        db.session.rollback()
        log.error("database unavailable: %s", exc)
        body, code = _error_page(503, _("Temporarily unavailable"),
                                 _("The service is busy or its database is unreachable. "
                                   "Nothing was saved; please try again in a minute."))
        resp = app.make_response((body, code))
        resp.headers["Retry-After"] = "30"
        return resp, 503

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str | Response, int]:
        code = exc.code or 500
        titles = {400: _("Bad request"), 403: _("Not allowed"), 404: _("Not found"),
                  405: _("Method not allowed"), 413: _("Too large"),
                  429: _("Too many requests")}
        messages = {
            400: _("The request could not be understood."),
            403: _("You are not allowed to do this."),
            404: _("There is nothing at this address."),
            405: _("This address does not accept that kind of request."),
            413: _("The submitted data is too large."),
            429: _("Too many requests. Please wait a moment and try again."),
        }
        custom = exc.description and exc.description != type(exc).description
        description = exc.description if custom and code not in (405, 413, 429) else None
        return _error_page(code, titles.get(code, exc.name),
                           description or messages.get(code, exc.name))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str | Response, int]:
        db.session.rollback()
        log.exception("unhandled error")
        return _error_page(500, _("Something went wrong"),
                           _("An unexpected error occurred; it has been logged."))
