"""Organizer pages for invitations: template editor with live preview, preflight, send,
per-invitation status, resend failed, RSVP dashboard, remind non-responders, tell invitees
that the event's date, time or place changed.

Every route requires a signed-in organizer; every state change is a CSRF-protected POST that
calls one service, commits once, then hands the queued mail to the outbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from ..core.errors import form_expired, form_refused
from ..core.ids import valid_id
from ..extensions import db
from ..models import Event
from ..organizer.auth import current_organizer, organizer_required
from ..outbox import dispatch, queue_state, resume_queue, wake_worker
from ..registration.services import get_event
from . import batches, services
from .forms import ActionForm, RoundForm, SelectionForm, TemplateForm
from .rendering import PLACEHOLDERS, RenderError, TemplateParts, render, sample_data

# Why a reminder passed an invitee by (services.remind), as the flash says it.
SKIPPED = {"withdrawn": "withdrawn", "declined": "declined by the organizers",
           "opted_out": "unsubscribed",
           "already_reminded": "already reminded in this round",
           "changed_meanwhile": "answered or reminded while this round was being sent",
           **{problem: label.lower() for problem, label in services.PROBLEMS.items()
              if problem not in ("opted_out", "already_invited")}}

# The dashboard lists invitations a page at a time: 1,800 on one page were 700 KB of HTML.
INVITATIONS_PER_PAGE = 100

admin_bp = Blueprint("invitations_admin", __name__,
                     url_prefix="/organizer/events/<slug>/invitations")

PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
               "frame-ancestors 'self'; sandbox")


@admin_bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _event(slug: str) -> Event:
    event = get_event(slug)
    if event is None:
        abort(404, description="There is no event at this address.")
    return event


def _ids(name: str) -> list[int] | None:
    """Checked rows of a list form; None when none were checked (meaning: all)."""
    raw = request.form.getlist(name)
    if not raw:
        return None
    try:
        ids = [int(value) for value in raw[:5000]]
    except ValueError:
        ids = []
    if not ids or not all(valid_id(i) for i in ids):
        abort(400, description="The selection is not valid.")
    return ids


@admin_bp.get("")
@organizer_required()
def dashboard(slug: str) -> str:
    event = _event(slug)
    rsvp = request.args.get("rsvp") or None
    delivery = request.args.get("delivery") or None
    if rsvp not in (None, "pending", "accepted", "declined"):
        abort(400, description="Unknown RSVP filter.")
    if delivery not in (None, "queued", "sending", "retrying", "sent", "failed"):
        abort(400, description="Unknown delivery filter.")
    q = (request.args.get("q") or "").strip()
    if len(q) > 200:
        abort(400, description="The search is longer than 200 characters.")
    page = request.args.get("page", "1")
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 1_000_000:
        abort(400, description="The page must be a whole number from 1.")
    listed = services.invitation_page(event, rsvp=rsvp, delivery=delivery, q=q,
                                      page=int(page), per_page=INVITATIONS_PER_PAGE)
    plan = services.reminder_plan(event)
    return render_template(
        "invitations/dashboard.html", event=event,
        counts=services.dashboard_counts(event),
        rows=listed.items, total=listed.total, page=listed.page, pages=listed.pages, q=q,
        rsvp=rsvp, delivery=delivery, queue=queue_state(),
        templates=services.template_names(event), plan=plan,
        update_count=services.schedule_update_count(event),
        in_english=services.chinese_fallbacks(event),
        action_form=ActionForm(), round_form=RoundForm(round=plan.round))


# --- templates ------------------------------------------------------------------------------


def _template_page(event: Event, name: str, language: str, form: TemplateForm,
                   errors: list[str] | None = None, status: int = 200) -> tuple[str, int]:
    registrations = services.preview_candidates(event)
    row = services.templates_of(event, name).get(language)
    return render_template(
        "invitations/template.html", event=event, name=name, language=language, form=form,
        row=row, errors=errors or [], placeholders=PLACEHOLDERS,
        registrations=registrations, languages=services.LANGUAGES), status


def _check_language(language: str) -> None:
    if language not in services.LANGUAGES:
        abort(404, description="Unknown language.")


@admin_bp.get("/templates/<name>/<language>")
@organizer_required()
def edit_template(slug: str, name: str, language: str) -> tuple[str, int]:
    event = _event(slug)
    _check_language(language)
    _check_name(name)
    row = services.templates_of(event, name).get(language)
    form = TemplateForm(obj=row) if row else TemplateForm()
    if row is None and name == services.DEFAULT_TEMPLATE:
        parts = services.template_files(name, language)
        form = TemplateForm(subject=parts.subject, body_html=parts.html, body_text=parts.text)
    return _template_page(event, name, language, form)


def _check_name(name: str) -> None:
    """Template names are short words (``welcome``, ``reminder-2``): the editor opens for
    what can be saved, nothing else."""
    if len(name) > 40 or not name.replace("-", "").replace("_", "").isalnum():
        abort(404, description="Unknown template.")


@admin_bp.post("/templates/<name>/<language>")
@organizer_required()
def save_template(slug: str, name: str, language: str) -> Response | tuple[str, int]:
    event = _event(slug)
    _check_language(language)
    _check_name(name)
    form = TemplateForm()
    if not form.validate_on_submit():
        errors = [f"{form[k].label.text}: {' '.join(v)}" for k, v in form.errors.items()
                  if k != "csrf_token"] or ["The form expired. Reload the page."]
        return _template_page(event, name, language, form, errors, 422)
    parts = TemplateParts(form.subject.data or "", form.body_html.data or "",
                          form.body_text.data or "")
    try:
        row = services.save_template(event, name, language, parts,
                                     organizer_id=current_organizer().id)
    except services.InvitationError as exc:
        db.session.rollback()
        return _template_page(event, name, language, form, str(exc).split("; "), 422)
    db.session.commit()
    flash(f"Template saved (version {row.version}).", "success")
    return redirect(url_for(".edit_template", slug=slug, name=name, language=language),
                    code=303)


@admin_bp.post("/templates/<name>/<language>/preview")
@organizer_required()
def preview_template(slug: str, name: str, language: str) -> Response:
    """Render the unsaved form for a chosen registrant; shown in a sandboxed frame.

    A POST because it carries the draft, but it changes nothing.
    """
    event = _event(slug)
    _check_language(language)
    form = TemplateForm()
    rendered, error = None, ""
    if not form.validate_on_submit():
        error = " ".join(e for errs in form.errors.values() for e in errs)
    else:
        parts = TemplateParts(form.subject.data or "", form.body_html.data or "",
                              form.body_text.data or "")
        reg = services.preview_registration(event, form.registration_id.data)
        data = (services.placeholder_data(reg, event, language, services.links_for("preview"))
                if reg else {**sample_data(), "event": services.event_data(event, language)})
        try:
            rendered = render(parts, data)
        except RenderError as exc:
            error = str(exc)
    response = make_response(render_template("invitations/preview.html", rendered=rendered,
                                             error=error))
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@admin_bp.post("/templates/create")
@organizer_required()
def create_default_template(slug: str) -> Response:
    """Start this event's ``welcome`` invitation from the shipped starter (placeholders only:
    the conference's own invitation has the 2022 conference's facts written in)."""
    event = _event(slug)
    if not ActionForm().validate_on_submit():
        form_expired()
    created = services.seed_templates(event)
    db.session.commit()
    flash("Welcome invitation created from the standard template: check its wording for "
          "this event before sending." if created
          else "The welcome invitation already exists.", "success")
    return redirect(url_for(".dashboard", slug=slug), code=303)


# --- preflight and sending --------------------------------------------------------------------


class _Queued(Protocol):
    outbox_ids: list[int | None]


Q = TypeVar("Q", bound=_Queued)


def _budget() -> float:
    """Seconds a console request may spend starting parts of a batch (then it stops)."""
    return float(current_app.config["BATCH_REQUEST_SECONDS"])


def _more(remaining: int, how: str) -> str:
    """The flash's ending when a batch stopped for time with ``remaining`` recipients left."""
    if not remaining:
        return ""
    return (f" {remaining} more are left, to keep this page from timing out: {how} to "
            "continue (those already done are skipped), or use the command line.")


def _in_parts(action: Callable[[], Q]) -> Q:
    """Run a batch send (:mod:`.batches`, which commits and dispatches each part): 409 with
    its reason when the rules refuse it."""
    try:
        return action()
    except batches.BatchInterrupted as exc:  # unavailable, and says what was done
        abort(503, description=str(exc))
    except services.InvitationError as exc:
        abort(409, description=str(exc))


def _commit_and_dispatch(action: Callable[[], Q]) -> Q:
    """Run a sending service call: 409 with its reason when the rules refuse it (nothing is
    kept), else commit and hand the mail it queued to the outbox."""
    try:
        result = action()
    except services.InvitationError as exc:
        db.session.rollback()
        abort(409, description=str(exc))
    db.session.commit()
    dispatch(result.outbox_ids)
    return result


@admin_bp.get("/preflight")
@organizer_required()
def preflight(slug: str) -> tuple[str, int]:
    event = _event(slug)
    form = SelectionForm(request.args, meta={"csrf": False})
    if not form.validate():
        abort(400, description="Choose a template and a registration status.")
    report = services.preflight(event, form.template.data, status=form.status.data or None)
    db.session.rollback()
    return render_template("invitations/preflight.html", event=event, report=report,
                           counts=report.counts(), problems=services.PROBLEMS,
                           form=SelectionForm(template=form.template.data,
                                              status=form.status.data)), 200


@admin_bp.post("/send")
@organizer_required()
def send(slug: str) -> Response:
    event = _event(slug)
    form = SelectionForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired or the selection is not valid.")
    result = _in_parts(lambda: batches.send_invitations(
        event, form.template.data, status=form.status.data or None,
        organizer_id=current_organizer().id, after_commit=dispatch, seconds=_budget()))
    counts = result.preflight.counts()
    already = counts["already_invited"]
    problems = counts["selected"] - result.invited - already
    flash(f"{result.invited} invitation(s) queued."
          + (f" {already} had been invited before." if already else "")
          + (f" {problems} recipient(s) were left out: see the preflight." if problems else "")
          + _more(result.remaining, "press Send on this page again"), "success")
    if result.remaining:  # back to the preflight of the rest, whose button continues
        return redirect(url_for(".preflight", slug=slug, template=form.template.data,
                                status=form.status.data or ""), code=303)
    return redirect(url_for(".dashboard", slug=slug), code=303)


@admin_bp.post("/remind")
@organizer_required()
def remind(slug: str) -> Response:
    event = _event(slug)
    form = RoundForm()
    if not form.validate_on_submit():  # the expiry wording only for a stale token
        form_refused(form, "The reminder round must be a whole number from 2 to 1000.")
    result = _in_parts(lambda: batches.remind(
        event, round_=form.round.data, invitation_ids=_ids("invitation_id"),
        after_commit=dispatch, seconds=_budget()))
    left_out = Counter(reason for _id, reason in result.skipped)
    flash(f"{result.reminded} reminder(s) queued (round {form.round.data}); those who "
          "answered are never reminded."
          + (" Left out: " + ", ".join(f"{n} {SKIPPED.get(reason, reason)}"
                                       for reason, n in sorted(left_out.items())) + "."
             if left_out else "")
          + _more(result.remaining, "remind them with the same round"), "success")
    return redirect(url_for(".dashboard", slug=slug), code=303)


@admin_bp.post("/resend")
@organizer_required()
def resend(slug: str) -> Response:
    event = _event(slug)
    if not ActionForm().validate_on_submit():
        form_expired()
    result = _commit_and_dispatch(lambda: services.resend_failed(event, _ids("invitation_id")))
    flash(f"{len(result.outbox_ids)} failed message(s) queued again."
          + (f" {result.unsubscribed} left out: the address unsubscribed."
             if result.unsubscribed else ""), "success")
    return redirect(url_for(".dashboard", slug=slug), code=303)


@admin_bp.post("/update")
@organizer_required()
def update(slug: str) -> Response:
    """Send invitees who were given an earlier date, time or place the event's new ones."""
    event = _event(slug)
    if not ActionForm().validate_on_submit():
        form_expired()
    result = _in_parts(lambda: batches.send_schedule_update(
        event, organizer_id=current_organizer().id, after_commit=dispatch,
        seconds=_budget()))
    flash((f"{result.updated} update(s) queued with the new date, time and place."
           if result.updated or result.remaining else
           "Everyone invited already has the latest date, time and place: nothing was sent.")
          + _more(result.remaining, "send the update again"), "success")
    return redirect(url_for(".dashboard", slug=slug), code=303)


@admin_bp.post("/resume-delivery")
@organizer_required()
def resume(slug: str) -> Response:
    _event(slug)
    if not ActionForm().validate_on_submit():
        form_expired()
    resumed = resume_queue()
    db.session.commit()
    wake_worker()
    flash("Delivery resumed." if resumed else "Delivery was not paused.", "success")
    return redirect(url_for(".dashboard", slug=slug), code=303)
