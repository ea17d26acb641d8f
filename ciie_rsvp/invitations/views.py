"""Public RSVP pages: show the invitation (GET), answer it (POST), one-click unsubscribe.

Mail scanners fetch links: a GET only records that the page was opened; answers change only
by POST. The one-click unsubscribe POST (RFC 8058) is the service's single CSRF exemption:
mail clients send it without cookies or tokens, and it can only ever opt an address out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import (
    abort,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from werkzeug.wrappers import Response

from ..core.errors import form_expired
from ..database import mark_immediate
from ..extensions import csrf, db
from ..i18n import locale_for, normalize_tag
from ..models import Invitation
from . import bp, services
from .forms import ActionForm, RsvpForm


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _invitation_or_404(token: str) -> Invitation:
    inv = services.find_invitation(token)
    if inv is None:
        abort(make_response(render_template("rsvp/invalid.html"), 404))
    return inv


def _language(inv: Invitation) -> str:
    """The invitee's language, unless they picked one with the language switch."""
    return normalize_tag(session.get("lang")) or (
        "zh-Hans" if inv.registration.language == "zh-Hans" else "en")


@contextmanager
def _in_language_of(inv: Invitation) -> Iterator[str]:
    lang = _language(inv)
    with force_locale(locale_for(lang)):
        yield lang


def _page(inv: Invitation, token: str, form: RsvpForm, status: int = 200,
          error: str = "", guests_error: bool = False) -> tuple[str, int]:
    """The RSVP page; ``error`` is shown at the top (and tied to the guests field when
    ``guests_error``)."""
    with _in_language_of(inv) as lang:
        return render_template(
            "rsvp/show.html", inv=inv, event=inv.event, reg=inv.registration, token=token,
            form=form, when=services.format_event_when(inv.event, lang),
            event_name=services.event_data(inv.event, lang)["name"],
            rsvp_open=inv.event.rsvp_open(), error=error, guests_error=guests_error,
            preselect=request.args.get("answer", "")), status


@bp.get("/rsvp/<token>")
def show(token: str) -> tuple[str, int]:
    # The first visit records "opened": a write, so take SQLite's write lock up front; the
    # request guards switch that off again when the request ends.
    g.sqlite_immediate = mark_immediate()
    inv = _invitation_or_404(token)
    if services.mark_opened(inv):
        db.session.commit()
    return _page(inv, token, RsvpForm(guests=inv.guests))


@bp.post("/rsvp/<token>")
def answer(token: str) -> Response | tuple[str, int]:
    inv = _invitation_or_404(token)
    with _in_language_of(inv):
        form = RsvpForm()
        if not form.validate_on_submit():
            errors = [str(e) for errs in form.errors.values() for e in errs]
            return _page(inv, token, form, 422, " ".join(errors), "guests" in form.errors)
        try:
            services.respond(inv, form.answer.data, guests=form.guests.data or 0)
        except services.RsvpClosed as exc:
            db.session.rollback()
            return _page(inv, token, form, 403, str(exc))
        except services.InvitationError as exc:
            db.session.rollback()
            return _page(inv, token, form, 422, str(exc),
                         isinstance(exc, services.TooManyGuests))
    db.session.commit()
    return redirect(url_for(".thanks", token=token), code=303)


@bp.get("/rsvp/<token>/thanks")
def thanks(token: str) -> str | Response:
    inv = _invitation_or_404(token)
    if inv.rsvp == "pending":  # nothing to thank for yet
        return redirect(url_for(".show", token=token), code=303)
    with _in_language_of(inv) as lang:
        return render_template("rsvp/thanks.html", inv=inv, token=token,
                               event_name=services.event_data(inv.event, lang)["name"],
                               when=services.format_event_when(inv.event, lang))


@bp.get("/rsvp/<token>/calendar.ics")
def calendar(token: str) -> Response:
    inv = _invitation_or_404(token)
    response = make_response(services.calendar_for(inv))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=REQUEST"
    response.headers["Content-Disposition"] = f'attachment; filename="{inv.event.slug}.ics"'
    return response


@bp.get("/rsvp/<token>/manage")
def manage(token: str) -> str:
    inv = _invitation_or_404(token)
    with _in_language_of(inv):
        return render_template("rsvp/manage.html", inv=inv, token=token, form=ActionForm())


@bp.post("/rsvp/<token>/manage")
def manage_link(token: str) -> Response:
    inv = _invitation_or_404(token)
    if not ActionForm().validate_on_submit():
        form_expired()
    manage_token = services.issue_manage_link(inv)
    db.session.commit()
    return redirect(url_for("registration.manage", token=manage_token), code=303)


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> str:
    inv = _invitation_or_404(token)
    with _in_language_of(inv):
        return render_template("rsvp/unsubscribe.html", inv=inv, token=token, done=False)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str) -> str:
    """RFC 8058 one-click: a POST with no cookie and no CSRF token opts the address out."""
    inv = _invitation_or_404(token)
    services.unsubscribe(inv)
    db.session.commit()
    with _in_language_of(inv):
        return render_template("rsvp/unsubscribe.html", inv=inv, token=token, done=True)
