"""Organizer console pages: thin views (parse, one service call, one commit).

Every route is behind ``organizer_required``; every change is a CSRF-protected POST.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
    url_for,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from .. import privacy
from ..choices import CALIFORNIA_COUNTIES
from ..core.errors import form_expired, form_refused
from ..database import deferred_transactions, immediate_transactions
from ..extensions import csrf, db
from ..invitations.services import schedule_update_count
from ..models import Event, Registration
from ..outbox import dispatch
from ..registration import services as registration_services
from ..registration.forms import EraseForm
from . import accounts, bp, events, exports, imports, services
from .auth import current_organizer, organizer_required
from .forms import (
    BulkDecisionForm,
    DecisionForm,
    EventForm,
    ExportForm,
    ImportConfirmForm,
    ImportUploadForm,
    NewEventForm,
    NewOrganizerForm,
    NewRegistrationForm,
    NoteForm,
    OrganizerRegistrationForm,
    PostForm,
    parse_filters,
)


def _event_or_404(slug: str) -> Event:
    event = registration_services.get_event(slug)
    if event is None:
        abort(404, description="There is no event at this address.")
    return event


def _registration_or_404(reg_id: int) -> Registration:
    reg = services.get_registration(reg_id)
    if reg is None:
        abort(404, description="There is no registration with this number.")
    return reg


def _filters_or_400(formdata: Any) -> services.ListFilters:
    filters, errors = parse_filters(formdata)
    if filters is None:
        abort(400, description="Some filters are not valid: " + "; ".join(errors))
    return filters


@bp.get("/")
@organizer_required()
def dashboard() -> str:
    return render_template("organizer/dashboard.html", events=services.events_with_counts())


@bp.get("/events/<slug>")
@organizer_required()
def event_dashboard(slug: str) -> str:
    event = _event_or_404(slug)
    stats = services.event_stats(event)
    return render_template("organizer/event.html", event=event, stats=stats,
                           chart=services.bar_chart(stats.per_day))


@bp.get("/events/<slug>/registrations")
@organizer_required()
def registrations(slug: str) -> tuple[str, int]:
    event = _event_or_404(slug)
    form = _filter_form(request.args)
    if not form.validate():
        # The filters with their errors beside them, and no list: rows listed under a filter
        # that was not applied would look filtered.
        return render_template("organizer/registrations.html", event=event, filters=None,
                               page=None, filter_form=form), 400
    filters = form.to_filters()
    # Remembered for the registration pages' "Back to the list" (the menu's Registrations
    # starts afresh): the list as it was left, filters, order and page.
    session["list_view"] = {"slug": event.slug, "args": filters.query_args()}
    return _list_page(event, filters, request.args)


def _back_to_list(event: Event) -> str:
    """The registration list as this organizer last left it for ``event`` (else the list)."""
    remembered = session.get("list_view")
    args = remembered.get("args") if isinstance(remembered, dict) \
        and remembered.get("slug") == event.slug else None
    if not isinstance(args, dict) or not _filter_form(MultiDict(args)).validate():
        args = {}
    return url_for(".registrations", slug=event.slug, **args)


def _list_page(event: Event, filters: services.ListFilters, formdata: Any, *,
               status: int = 200) -> tuple[str, int]:
    """The registration list as ``filters`` select it (``formdata``: the list's query, or
    the filters posted along with a refused bulk decision)."""
    page = services.list_registrations(event, filters)
    return render_template("organizer/registrations.html", event=event, filters=filters,
                           page=page, filter_form=_filter_form(formdata),
                           bulk_form=BulkDecisionForm(formdata=None), export_form=ExportForm()
                           ), status


def _filter_form(formdata: Any) -> Any:
    from .forms import FilterForm

    return FilterForm(formdata)


@bp.post("/events/<slug>/registrations/bulk")
@organizer_required()
def bulk_decision(slug: str) -> BaseResponse | tuple[str, int]:
    event = _event_or_404(slug)
    filters = _filters_or_400(request.form)
    form = BulkDecisionForm()
    if not form.validate_on_submit():  # the list again, with the reason (nothing changed)
        flash(" ".join(e for errs in form.errors.values() for e in errs), "error")
        return _list_page(event, filters, request.form, status=422)
    try:
        result = services.bulk_change_status(
            event, form.decision.data, current_organizer(),
            ids=form.ids.data if form.scope.data == "selected" else None,
            filters=filters)
    except services.ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _list_page(event, filters, request.form, status=422)
    db.session.commit()
    flash(f"{result.changed} registration{'s' if result.changed != 1 else ''} "
          f"{form.decision.data}; {result.unchanged} left unchanged.", "success")
    if result.changed:
        _warn_over_capacity(event, form.decision.data)
    return redirect(url_for(".registrations", slug=slug, **filters.query_args()), code=303)


def _warn_over_capacity(event: Event, decision: str) -> None:
    warning = services.over_capacity_warning(event, decision)
    if warning:
        flash(warning, "warning")


@bp.post("/events/<slug>/export")
@organizer_required()
def export(slug: str) -> BaseResponse:
    from ..invitations.exports import ATTENDEE_COLUMNS  # registration + RSVP columns

    event = _event_or_404(slug)
    filters = _filters_or_400(request.form)
    form = ExportForm()
    if not form.validate_on_submit():
        form_refused(form, "Choose CSV, XLSX or JSON.")
    fmt = form.format.data
    event_id = event.id
    filename = exports.filename_for(event, fmt, filters)
    organizer = current_organizer()
    headers = {"Content-Disposition": f'attachment; filename="{filename}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if fmt == "xlsx":
        # The workbook is assembled on disk first (a zip needs its end), then streamed from
        # there; the export is logged before any byte leaves.
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes it
        db.session.commit()  # end the request's write transaction before the long read
        with deferred_transactions():
            table = exports.registration_table(event_id, filters, ATTENDEE_COLUMNS)
            rows = exports.write_xlsx(table, spool)
            db.session.rollback()
        exports.complete_export(exports.record_export(
            event, fmt, filters, row_count=rows, filename=filename, organizer=organizer).id, rows)
        db.session.commit()
        spool.seek(0)
        resp = send_file(spool, mimetype=exports.FORMATS[fmt], as_attachment=True,
                         download_name=filename, max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    record = exports.record_export(event, fmt, filters, filename=filename, organizer=organizer,
                                   row_count=exports.count_rows(event_id, filters))
    record_id = record.id
    db.session.commit()

    def body() -> Iterator[bytes]:
        with deferred_transactions():
            table = exports.registration_table(event_id, filters, ATTENDEE_COLUMNS)
            chunks = exports.csv_chunks(table) if fmt == "csv" else exports.json_chunks(table)
            yield from chunks
            db.session.rollback()
        with immediate_transactions():
            exports.complete_export(record_id, table.count)
            db.session.commit()

    # content_type, not mimetype: FORMATS already names the charset Werkzeug would add again
    return Response(stream_with_context(body()), content_type=exports.FORMATS[fmt],
                    headers=headers)


@bp.get("/registrations/<int:reg_id>")
@organizer_required()
def registration(reg_id: int) -> str:
    return _detail_page(_registration_or_404(reg_id))


def _detail_page(reg: Registration, note_form: NoteForm | None = None) -> str:
    """The registration's page; ``note_form`` is a submitted note to show with its error."""
    return render_template("organizer/registration.html", detail=services.registration_detail(reg),
                           event=reg.event, back_to_list=_back_to_list(reg.event),
                           decision_form=DecisionForm(formdata=None),
                           note_form=note_form or NoteForm(formdata=None), post_form=PostForm())


@bp.post("/registrations/<int:reg_id>/status")
@organizer_required()
def decide(reg_id: int) -> BaseResponse | tuple[str, int]:
    reg = _registration_or_404(reg_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        form_refused(form, "Choose approve, waitlist or decline.")
    try:
        changed = services.change_status(reg, form.status.data, current_organizer())
    except services.ServiceError as exc:  # e.g. withdrawn by the registrant: the page again
        db.session.rollback()
        flash(str(exc), "error")
        return _detail_page(reg), 409
    db.session.commit()
    flash(f"Registration {form.status.data}." if changed else "Nothing changed.", "success")
    if changed:
        _warn_over_capacity(reg.event, form.status.data)
    return redirect(url_for(".registration", reg_id=reg_id), code=303)


@bp.post("/registrations/<int:reg_id>/mail/<int:outbox_id>/resend")
@organizer_required()
def resend_mail(reg_id: int, outbox_id: int) -> BaseResponse | tuple[str, int]:
    """Send a message of this registration that failed again (the relay's reason is on the
    page)."""
    reg = _registration_or_404(reg_id)
    if not PostForm().validate_on_submit():
        form_expired()
    try:
        ids = services.resend_mail(reg, outbox_id, current_organizer())
    except LookupError:
        abort(404, description="This registration has no such message.")
    except services.ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _detail_page(reg), 409
    db.session.commit()
    dispatch(ids)
    flash("The message is queued again.", "success")
    return redirect(url_for(".registration", reg_id=reg_id) + "#mail", code=303)


@bp.post("/registrations/<int:reg_id>/data")
@organizer_required()
def registration_data(reg_id: int) -> BaseResponse:
    """A registrant's data for a request that came in by letter or email (audited)."""
    reg = _registration_or_404(reg_id)
    if not PostForm().validate_on_submit():
        form_expired()
    data = privacy.personal_data(reg)
    privacy.record_access(reg, actor="organizer", organizer_id=current_organizer().id)
    db.session.commit()
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="registration-{reg_id}.json"',
                             "Cache-Control": "no-store"})


@bp.post("/registrations/<int:reg_id>/erase")
@organizer_required("admin")
def erase_registration(reg_id: int) -> BaseResponse:
    """Erase a registrant's personal data on their request (admins; audited)."""
    reg = _registration_or_404(reg_id)
    form = EraseForm()
    if not form.validate_on_submit():
        form_refused(form, "Tick the confirmation box to erase the personal data.")
    privacy.erase(reg, actor="organizer", organizer_id=current_organizer().id)
    db.session.commit()
    flash("Personal data erased.", "success")
    return redirect(url_for(".registration", reg_id=reg_id), code=303)


@bp.post("/registrations/<int:reg_id>/notes")
@organizer_required()
def add_note(reg_id: int) -> BaseResponse | tuple[str, int]:
    reg = _registration_or_404(reg_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _detail_page(reg, note_form=form), 422
    try:
        services.add_note(reg, current_organizer(), form.body.data)
    except services.ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _detail_page(reg, note_form=form), 409
    db.session.commit()
    flash("Note added.", "success")
    return redirect(url_for(".registration", reg_id=reg_id) + "#notes", code=303)


@bp.route("/registrations/<int:reg_id>/edit", methods=["GET", "POST"])
@organizer_required()
def edit_registration(reg_id: int) -> str | BaseResponse | tuple[str, int]:
    reg = _registration_or_404(reg_id)
    if reg.erased_at is not None:  # filling it in again would undo the erasure
        abort(409, description="The personal data of this registration was erased; it "
                               "cannot be edited.")
    form = OrganizerRegistrationForm(obj=reg)
    if form.validate_on_submit():
        try:
            changed = services.correct_registration(reg, form.registrant_data(),
                                                    current_organizer())
        except services.ServiceError as exc:
            db.session.rollback()
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            db.session.commit()
            flash(f"Saved: {', '.join(changed)}." if changed else "Nothing was changed.",
                  "success")
            if "delegates" in changed and reg.status == "approved":
                # more delegates on an approved registration fill places like an approval
                _warn_over_capacity(reg.event, reg.status)
            return redirect(url_for(".registration", reg_id=reg_id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("organizer/registration_form.html", form=form, event=reg.event,
                           reg=reg), status


@bp.route("/events/<slug>/registrations/new", methods=["GET", "POST"])
@organizer_required()
def new_registration(slug: str) -> str | BaseResponse | tuple[str, int]:
    event = _event_or_404(slug)
    form = NewRegistrationForm()
    if form.validate_on_submit():
        try:
            result = services.add_registration(event, form.registrant_data(),
                                               current_organizer(),
                                               send_mail=bool(form.send_mail.data))
        except services.DuplicateRegistration as exc:
            db.session.rollback()
            form.email.errors = [*form.email.errors, str(exc)]
            flash(str(exc), "error")
            return render_template("organizer/registration_form.html", form=form, event=event,
                                   reg=None, existing_id=exc.registration_id), 409
        except services.ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("organizer/registration_form.html", form=form, event=event,
                                   reg=None), 409
        db.session.commit()
        dispatch(result.outbox_ids)
        flash("Registration added.", "success")
        return redirect(url_for(".registration", reg_id=result.registration_id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("organizer/registration_form.html", form=form, event=event,
                           reg=None), status


# --- CSV import -----------------------------------------------------------------------------

@bp.route("/events/<slug>/import", methods=["GET", "POST"])
@csrf.exempt  # checked below, after the larger upload limit applies
@organizer_required()
def import_registrations(slug: str) -> str | tuple[str, int]:
    event = _event_or_404(slug)
    if request.method == "POST":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        # Werkzeug's multipart parser buffers up to this much between reads of 64 KiB.
        request.max_form_memory_size = 1024 * 1024
        csrf.protect()
    form = ImportUploadForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _import_page(event, form), status
    upload = form.file.data
    try:
        text = imports.decode(upload.read())
        preview = imports.parse(event, text)
    except imports.ImportFileError as exc:
        db.session.rollback()
        form.file.errors = [str(exc)]
        return _import_page(event, form), 422
    batch = imports.stage(event, current_organizer(), upload.filename or "upload.csv", text)
    db.session.commit()
    confirm = ImportConfirmForm(token=batch.token)
    return render_template("organizer/import_preview.html", event=event, preview=preview,
                           confirm=confirm, filename=batch.filename)


def _import_page(event: Event, form: ImportUploadForm) -> str:
    """The upload form, with the values each coded column accepts."""
    return render_template("organizer/import.html", event=event, form=form,
                           vocabulary=imports.CODED_COLUMNS, counties=CALIFORNIA_COUNTIES)


@bp.post("/events/<slug>/import/confirm")
@organizer_required()
def confirm_import(slug: str) -> str | BaseResponse | tuple[str, int]:
    event = _event_or_404(slug)
    form = ImportConfirmForm()
    valid = form.validate_on_submit()
    if form.csrf_token.errors or form.token.errors:
        form_expired()
    batch = imports.get_batch(event, current_organizer(), form.token.data)
    if batch is None:
        abort(404, description="This import was already done or has expired. Upload the file "
                               "again.")
    if not valid:  # the consent box: the preview again, with its error at the box
        db.session.rollback()
        return render_template("organizer/import_preview.html", event=event,
                               preview=imports.parse(event, batch.content), confirm=form,
                               filename=batch.filename), 422
    try:
        result = imports.commit(event, current_organizer(), batch)
    except imports.ImportRejected as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template("organizer/import_preview.html", event=event,
                               preview=exc.preview, confirm=form, filename=batch.filename), 422
    db.session.commit()
    flash(f"Imported {result.imported} registrations; {result.skipped_duplicates} duplicates "
          "skipped.", "success")
    return redirect(url_for(".registrations", slug=slug, sort="created", direction="desc"),
                    code=303)


# --- admin ----------------------------------------------------------------------------------

@bp.route("/admin/organizers", methods=["GET", "POST"])
@organizer_required(role="admin")
def organizers() -> str | BaseResponse | tuple[str, int]:
    form = NewOrganizerForm()
    if form.validate_on_submit():
        try:
            created = accounts.create_organizer(form.email.data, form.name.data,
                                                form.password.data, form.role.data)
        except accounts.AccountError as exc:
            db.session.rollback()
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            db.session.commit()
            flash(f"Created {created.role} {created.email}.", "success")
            return redirect(url_for(".organizers"), code=303)
    return _organizers_page(form), 422 if request.method == "POST" else 200


def _organizers_page(form: NewOrganizerForm) -> str:
    return render_template("organizer/organizers.html", organizers=accounts.list_organizers(),
                           form=form, action_form=PostForm())


@bp.post("/admin/organizers/<int:organizer_id>/active")
@organizer_required(role="admin")
def set_organizer_active(organizer_id: int) -> BaseResponse | tuple[str, int]:
    if not PostForm().validate_on_submit():
        form_expired()
    target = accounts.get_organizer(organizer_id)
    if target is None:
        abort(404, description="There is no such organizer.")
    if request.form.get("active") not in ("0", "1"):
        abort(400, description="Say active=1 (reactivate) or active=0 (deactivate).")
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(target, active, by=current_organizer())
    except accounts.AccountError as exc:  # e.g. deactivating oneself: the page again
        db.session.rollback()
        flash(str(exc), "error")
        return _organizers_page(NewOrganizerForm(formdata=None)), 409
    db.session.commit()
    flash(f"{target.email} is now {'active' if active else 'deactivated'}.", "success")
    return redirect(url_for(".organizers"), code=303)


@bp.route("/admin/events/new", methods=["GET", "POST"])
@organizer_required(role="admin")
def new_event() -> str | BaseResponse | tuple[str, int]:
    form = NewEventForm()
    if form.validate_on_submit():
        try:
            event = events.create_event(form.slug.data, form.settings(),
                                        by=current_organizer(), labels=form.labels())
            db.session.commit()
        except events.EventError as exc:
            db.session.rollback()
            form.refuse(exc)
        except IntegrityError:  # the same address taken at the same moment by another admin
            db.session.rollback()
            form.refuse(events.EventError("slug", "Another event already has this address."))
        else:
            flash(f"Created {event.name_en}."
                  + ("" if event.is_published else " It is not published yet."), "success")
            return redirect(url_for(".event_settings", slug=event.slug), code=303)
    return _settings_page(form, None)


@bp.route("/events/<slug>/settings", methods=["GET", "POST"])
@organizer_required(role="admin")
def event_settings(slug: str) -> str | BaseResponse | tuple[str, int]:
    event = _event_or_404(slug)
    form = EventForm(data=None if request.method == "POST" else events.settings_of(event))
    if form.validate_on_submit():
        settings = form.settings()
        try:
            changed = events.update_event(event, settings, by=current_organizer(),
                                          labels=form.labels())
        except events.EventError as exc:
            db.session.rollback()
            form.refuse(exc)
        else:
            warnings = [events.zone_change_warning(event, changed),
                        events.translation_warning(event, changed, settings)]
            db.session.commit()
            flash("Saved." if changed else "Nothing was changed.", "success")
            for warning in filter(None, warnings):
                flash(warning, "warning")
            return redirect(url_for(".event_settings", slug=slug), code=303)
    return _settings_page(form, event)


def _settings_page(form: EventForm, event: Event | None) -> tuple[str, int]:
    """The settings form of ``event`` (None: a new one); 422 when a POST was refused."""
    return (render_template("organizer/event_settings.html", form=form, event=event,
                            stored_zone=events.event_zone(event) if event else None,
                            history=events.history(event) if event else [],
                            untold=schedule_update_count(event) if event else 0),
            422 if request.method == "POST" else 200)


@bp.get("/admin/exports")
@organizer_required(role="admin")
def export_log() -> str:
    return render_template("organizer/exports.html", records=exports.recent_exports())
