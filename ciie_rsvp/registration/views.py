"""Public views: parse the form, call one service, commit once, then hand mail to the outbox."""

from __future__ import annotations

import hashlib
import json
import logging

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import privacy as privacy_rights
from ..core.errors import form_expired
from ..core.page_cache import FilledPageCache, cacheable_request
from ..core.signing import generate_csrf
from ..database import deferred_transactions
from ..extensions import db, limited, limiter
from ..i18n import html_lang
from ..models import Event, Registration
from ..outbox import dispatch
from . import bp, services
from .forms import ActionForm, EraseForm, RegistrantFields, RegistrationForm, WithdrawForm

log = logging.getLogger(__name__)

# The empty registration form, rendered once per event, language and address (see page_cache).
_form_pages = FilledPageCache()


@bp.get("/")
def index() -> str:
    return render_template("registration/index.html", events=services.open_events())


@bp.get("/privacy")
def privacy() -> str:
    return render_template("registration/privacy.html")


def _email_key() -> str:
    """The per-address rate-limit key: a hash, so the limiter's store (Redis) holds no
    addresses, as the sign-in throttle's does not."""
    address = (request.form.get("email") or "").strip().lower()[:254]
    return "email:" + hashlib.sha256(address.encode()).hexdigest()


def _no_address() -> bool:
    """A submission without anything like an address is not counted per email: it sends no
    mail, and every visitor who left the field empty would share one count (the sixth of
    them in an hour got "too many requests" instead of the form's errors)."""
    return "@" not in (request.form.get("email") or "")


@bp.route("/events/<slug>/register", methods=["GET", "POST"])
@limited(
    limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"]),
    limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_EMAIL"], methods=["POST"],
                  key_func=_email_key, exempt_when=_no_address),
)
def register(slug: str) -> str | Response | tuple[str, int]:
    # Read the event and validate the form without SQLite's write lock (profiled: holding it
    # from the first SELECT serialized all of the form's work across server processes); the
    # lock is taken for the write alone, and submit() checks the event again inside it.
    with deferred_transactions():
        event = services.event_for_form(slug)
        if event is None or not event.is_published:
            abort(404, description=_("There is no event at this address."))
        if not event.is_open():
            return render_template("registration/closed.html", event=event,
                                   state=event.registration_state()), 403
        if cacheable_request():
            return _empty_form_page(event)
        form = RegistrationForm()
        if request.method == "POST" and form.looks_automated(current_app.config[
                "FORM_MIN_FILL_SECONDS"]):
            log.info("registration form: silent reject of an automated-looking submission")
            return redirect(url_for(".submitted", slug=event.slug), code=303)
        form.stamp()
        valid = form.validate_on_submit()
        if valid:
            # End the read transaction (if any); the write begins IMMEDIATE. ``event`` is a
            # copy outside the session: submit() checks its stored state again inside the
            # write transaction with one small query.
            db.session.rollback()
    if valid:
        try:
            result = services.submit(event, form.registrant_data())
        except services.RegistrationClosed:
            db.session.rollback()
            return render_template("registration/closed.html", event=event, state="closed"), 403
        slug = event.slug  # read before the commit expires it (that would cost a SELECT)
        db.session.commit()
        dispatch(result.outbox_ids)
        return redirect(url_for(".submitted", slug=slug), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("registration/register.html", event=event, form=form), status


def _empty_form_page(event: Event) -> str:
    """The registration form as a first visit sees it, from the page cache."""
    values = {"csrf_token": generate_csrf(), "started": RegistrationForm.new_stamp()}

    def render() -> str:
        form = RegistrationForm(formdata=None)
        form.started.data = values["started"]
        # emails in the language the visitor reads the form in, unless they choose otherwise
        form.language.data = html_lang()
        return render_template("registration/register.html", event=event, form=form)

    key = (event.id, event.content_key(), str(get_locale()), request.script_root, request.path)
    return _form_pages.page(key, render, values)


@bp.get("/events/<slug>/registered")
def submitted(slug: str) -> str:
    # The same page whether the address was new or already registered.
    event = services.get_event(slug)
    if event is None or not event.is_published:  # as the form: unpublished is not public
        abort(404, description=_("There is no event at this address."))
    return render_template("registration/submitted.html", event=event)


def _registration_or_404(token: str) -> Registration:
    reg = services.find_by_token(token)
    if reg is None:
        abort(404, description=_("This link is not valid. It may have been replaced by a "
                                 "newer link sent to your email address."))
    return reg


def _manage_page(reg: Registration, token: str, *, form: RegistrantFields | None = None,
                 erase_form: EraseForm | None = None, withdraw_form: WithdrawForm | None = None,
                 status: int = 200) -> tuple[str, int]:
    """The registrant's page; a form given here was submitted and shows its errors."""
    return render_template(
        "registration/manage.html", reg=reg, token=token,
        form=form or RegistrantFields(obj=reg), action_form=ActionForm(),
        erase_form=erase_form or EraseForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        can_restore=reg.event.is_open()), status


@bp.route("/r/<token>", methods=["GET", "POST"])
def manage(token: str) -> str | Response | tuple[str, int]:
    reg = _registration_or_404(token)
    form = RegistrantFields(obj=reg)
    if request.method == "POST":
        if reg.status == "withdrawn":
            flash(_("This registration is withdrawn. Restore it first to make changes."), "error")
            return redirect(url_for(".manage", token=token), code=303)
        if form.validate_on_submit():
            changed = services.update(reg, form.registrant_data())
            db.session.commit()
            flash(_("Your changes are saved.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for(".manage", token=token), code=303)
        return _manage_page(reg, token, form=form, status=422)
    return _manage_page(reg, token, form=form)


@bp.post("/r/<token>/withdraw")
def withdraw(token: str) -> Response | tuple[str, int]:
    reg = _registration_or_404(token)
    form = WithdrawForm()
    if not form.validate_on_submit():
        form_expired()
    can_restore = reg.event.is_open()
    if reg.status != "withdrawn" and not can_restore and not form.understood.data:
        form.understood.errors = [_("Tick the box to confirm that you want to withdraw.")]
        return _manage_page(reg, token, withdraw_form=form, status=422)
    if services.withdraw(reg):
        db.session.commit()
    flash(_("Your registration is withdrawn. You can restore it from this page.") if can_restore
          else _("Your registration is withdrawn."), "success")
    return redirect(url_for(".manage", token=token), code=303)


@bp.post("/r/<token>/data")
def download_data(token: str) -> Response:
    """Right to know: everything we store about the registrant, as a JSON download."""
    reg = _registration_or_404(token)
    if not ActionForm().validate_on_submit():
        form_expired()
    data = privacy_rights.personal_data(reg)
    privacy_rights.record_access(reg)
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="my-registration.json"',
        "Cache-Control": "no-store"})


@bp.post("/r/<token>/erase")
def erase(token: str) -> Response | tuple[str, int]:
    """Right to delete: erase the registrant's personal data after an explicit confirmation."""
    reg = _registration_or_404(token)
    form = EraseForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            form_expired()
        return _manage_page(reg, token, erase_form=form, status=422)
    privacy_rights.erase(reg)
    db.session.commit()
    return redirect(url_for(".erased"), code=303)


@bp.get("/erased")
def erased() -> str:
    return render_template("registration/erased.html")


@bp.post("/r/<token>/restore")
def restore(token: str) -> Response | tuple[str, int]:
    reg = _registration_or_404(token)
    if not ActionForm().validate_on_submit():
        form_expired()
    try:
        if services.restore(reg):
            db.session.commit()
    except services.RegistrationClosed:
        db.session.rollback()
        return render_template("registration/closed.html", event=reg.event, state="closed"), 403
    flash(_("Your registration is active again."), "success")
    return redirect(url_for(".manage", token=token), code=303)
