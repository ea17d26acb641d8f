"""Organizer console forms (shape only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    DateTimeLocalField,
    EmailField,
    Form,
    HiddenField,
    IntegerField,
    PasswordField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..choices import CALIFORNIA_COUNTIES, INTERESTS, SECTORS, STATUSES
from ..core.ids import valid_id
from ..registration.forms import RegistrantWithEmail, Tick, _strip
from ..validation import NoControlChars, normalize_mailbox
from ..zones import zone_label
from . import events
from .services import PER_PAGE_CHOICES, ListFilters


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class PostForm(FlaskForm):
    """CSRF-only form for button POSTs (sign out, single actions)."""


# --- the registration list --------------------------------------------------------------------

def _c(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _opt(pairs: list[tuple[str, str]], empty: str) -> list[SelectChoice]:
    return _c([("", empty), *pairs])


def _plausible_day(form: Any, field: Any) -> None:
    """Registrations are made in the years events may fall in (:data:`events.YEARS`); a day
    far outside them (9999-12-31) is a typo, and the day after it could not be computed."""
    first, last = events.YEARS
    if field.data and not first <= field.data.year <= last:
        raise ValidationError(f"Give a day between the years {first} and {last}.")


class FilterForm(Form):
    """The list's query string (GET, no CSRF): search, filters, order and paging.

    Also embedded as hidden fields in the bulk-decision and export forms, so that those act
    on exactly what the list shows.
    """

    q = SearchField("Search", filters=[_strip], validators=[Optional(), Length(max=200)],
                    render_kw={"placeholder": "Company, contact name or email"})
    status = SelectField("Status", choices=_opt(STATUSES, "Any status"), default="")
    sector = SelectField("Sector", choices=_opt(SECTORS, "Any sector"), default="")
    county = SelectField("County", choices=_opt([(c, c) for c in CALIFORNIA_COUNTIES],
                                                "Any county"), default="")
    interest = SelectField("Interest", choices=_opt(INTERESTS, "Any interest"), default="")
    # Who is coming: the accepted invitees are the attendee list to export.
    rsvp = SelectField("Invitation", choices=_opt([
        ("accepted", "Accepted"), ("declined", "Declined"), ("pending", "Invited, no answer"),
        ("not_invited", "Not invited")], "Invited or not"), default="")
    date_from = DateField("Registered from", validators=[Optional(), _plausible_day])
    date_to = DateField("Registered until", validators=[Optional(), _plausible_day])
    sort = SelectField("Sort by", default="created", choices=_c([
        ("created", "Registration date"), ("company", "Company"), ("name", "Last name"),
        ("email", "Email"), ("status", "Status"), ("county", "County"), ("sector", "Sector")]))
    direction = SelectField("Order", default="desc",
                            choices=_c([("desc", "Descending"), ("asc", "Ascending")]))
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(1, 1_000_000)])
    per_page = SelectField("Per page", default="50", choices=_c([
        (str(n), str(n)) for n in PER_PAGE_CHOICES]))

    def validate_date_to(self, field: Any) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

    def to_filters(self) -> ListFilters:
        return ListFilters(
            q=self.q.data or "", status=self.status.data or "", sector=self.sector.data or "",
            county=self.county.data or "", interest=self.interest.data or "",
            rsvp=self.rsvp.data or "",
            date_from=self.date_from.data, date_to=self.date_to.data,
            sort=self.sort.data or "created", direction=self.direction.data or "desc",
            page=self.page.data or 1, per_page=int(self.per_page.data or 50))


def parse_filters(formdata: Any) -> tuple[ListFilters | None, list[str]]:
    """Filters from a query string or posted form; (None, messages) when invalid."""
    form = FilterForm(formdata)
    if form.validate():
        return form.to_filters(), []
    return None, [f"{form[name].label.text}: {' '.join(errs)}"
                  for name, errs in form.errors.items()]


DECISIONS = [("approved", "Approve"), ("waitlisted", "Waitlist"), ("declined", "Decline")]


class DecisionForm(FlaskForm):
    """Approve, waitlist or decline (one registration, or a bulk selection)."""

    status = SelectField("Decision", choices=_c(DECISIONS),
                         validators=[DataRequired("Choose a decision.")])


class BulkDecisionForm(FlaskForm):
    """A decision for ticked rows or for everything the filters (posted along) match.

    The field is ``decision``, not ``status``: the posted filters have a ``status`` of their own.
    """

    decision = SelectField("Decision", choices=_c(DECISIONS),
                           validators=[DataRequired("Choose a decision.")])
    ids = SelectMultipleField("Registrations", coerce=int, validate_choice=False)
    scope = SelectField("Apply to", default="selected", validate_choice=True,
                        choices=_c([("selected", "Selected"), ("filtered", "All matching")]))

    def validate_ids(self, field: Any) -> None:
        if not all(valid_id(i) for i in field.data or ()):
            raise ValidationError("The selection is not valid.")
        if self.scope.data == "selected" and not field.data:
            raise ValidationError("Tick at least one registration, or apply the decision to "
                                  "all registrations matching the filters.")


class NoteForm(FlaskForm):
    body = TextAreaField("Add a note", filters=[_strip], validators=[
        DataRequired("The note is empty."), Length(max=5000), NoControlChars(multiline=True)])


class ExportForm(FlaskForm):
    format = SelectField("Format", default="csv", choices=_c([
        ("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("json", "JSON")]))


# --- on someone's behalf ------------------------------------------------------------------------

class OrganizerRegistrationForm(RegistrantWithEmail):
    """The public form's fields and checks, plus the email, for organizers."""


class NewRegistrationForm(OrganizerRegistrationForm):
    consent = Tick(
        "The registrant has read the privacy notice and agreed that the organizers store and "
        "use this information to handle the registration.",
        validators=[DataRequired("Confirm the registrant agreed to the privacy notice.")])
    send_mail = Tick("Email the registrant a confirmation with their private link",
                             default=True)


class ImportUploadForm(FlaskForm):
    file = FileField("CSV file (UTF-8)", validators=[FileRequired("Choose a CSV file.")])


class ImportConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    # Each imported registration records consent to the privacy notice at the import: the
    # organizer says so for them, as on "Add a registration".
    consent = Tick(
        "The people in this file have read the privacy notice and agreed that the organizers "
        "store and use their information to handle their registration.",
        validators=[DataRequired("Confirm that the people in this file agreed to the privacy "
                                 "notice.")])


# --- organizer accounts (admin) -------------------------------------------------------------

class NewOrganizerForm(FlaskForm):
    email = EmailField("Email", filters=[_strip], validators=[
        DataRequired("Email is required."), Length(max=254)])
    name = StringField("Name", filters=[_strip], validators=[
        DataRequired("Name is required."), Length(max=200), NoControlChars()])
    role = SelectField("Role", choices=_c([("staff", "Staff: reviews and exports"),
                                           ("admin", "Admin: also manages organizers")]))
    password = PasswordField("Initial password", validators=[
        DataRequired("Give an initial password."), Length(min=12, max=1024,
                                                          message="12 to 1024 characters.")],
        render_kw={"autocomplete": "new-password"})


# --- events (admin) ---------------------------------------------------------------------------

def _text(label: str, max_length: int, *, required: str | None = None,
          multiline: bool = False, **kwargs: Any) -> Any:
    """A stripped text field of at most ``max_length`` characters without control characters
    (line breaks allowed when ``multiline``); ``required`` is the message when left empty."""
    checks = [DataRequired(required) if required else Optional(),
              Length(max=max_length), NoControlChars(multiline=multiline)]
    if multiline:  # browsers send a textarea's line breaks as CRLF
        return TextAreaField(label, filters=[_strip, _unix_newlines], validators=checks,
                             **kwargs)
    return StringField(label, filters=[_strip], validators=checks, **kwargs)


def _unix_newlines(value: Any) -> Any:
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _local_time(label: str) -> DateTimeLocalField:
    """A wall-clock date and time at the event's place (the browser's datetime-local input
    sends ``2030-10-13T09:00``)."""
    return DateTimeLocalField(label, validators=[Optional()],
                              format=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                                      "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def _mailbox(form: Any, field: Any) -> None:
    if field.data:
        try:
            field.data = normalize_mailbox(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if len(field.data) > 254:  # quoting a display name makes it longer than typed
            raise ValidationError("At most 254 characters, written as a mail header.")


# Zones offered first: where the office's events take place.
_FIRST_ZONES = ("America/Los_Angeles", "Asia/Shanghai")


def _zone_choices() -> list[SelectChoice]:
    rest = [z for z in events.time_zones() if z not in _FIRST_ZONES]
    return _c([(z, zone_label(z)) for z in (*_FIRST_ZONES, *rest)])


class EventForm(FlaskForm):
    """An event's settings as an admin edits them. Times are on the event's clock
    (``timezone``); :meth:`settings` gives them in UTC, as stored."""

    name_en = _text("Name (English)", 200, required="Give the event a name.")
    name_zh = _text("Name (Simplified Chinese)", 200)
    summary_en = _text("Summary (English)", 5000, multiline=True)
    summary_zh = _text("Summary (Simplified Chinese)", 5000, multiline=True)
    # InputRequired, not DataRequired: an impossible date keeps its "Not a valid date value."
    start_date = DateField("First day", validators=[InputRequired("Give the first day.")])
    end_date = DateField("Last day", validators=[InputRequired("Give the last day.")])
    start_time = TimeField("Starts at", validators=[Optional()])
    end_time = TimeField("Ends at", validators=[Optional()])
    timezone = SelectField("Time zone", default="America/Los_Angeles",
                           validators=[InputRequired("Choose a time zone from the list.")])
    venue = _text("Venue", 200)
    city = _text("City", 120)
    country = _text("Country", 80)
    hosts = _text("Hosts", 2000, multiline=True)
    organizers = _text("Organizers", 2000, multiline=True)
    venue_zh = _text("Venue (Simplified Chinese)", 200)
    city_zh = _text("City (Simplified Chinese)", 120)
    country_zh = _text("Country (Simplified Chinese)", 80)
    hosts_zh = _text("Hosts (Simplified Chinese)", 2000, multiline=True)
    organizers_zh = _text("Organizers (Simplified Chinese)", 2000, multiline=True)
    registration_opens_at = _local_time("Registration opens")
    registration_closes_at = _local_time("Registration closes")
    capacity = IntegerField("Capacity", validators=[
        Optional(), NumberRange(1, 1_000_000, "Leave it empty, or give 1 to 1,000,000.")])
    is_published = Tick("Published: listed on the public site and open for "
                                "registration between the registration times below")
    mail_from = StringField("Invitations from", filters=[_strip],
                            validators=[Optional(), Length(max=254), _mailbox])
    mail_reply_to = StringField("Replies to", filters=[_strip],
                                validators=[Optional(), Length(max=254), _mailbox])
    rsvp_deadline = _local_time("RSVP deadline")
    guest_limit = IntegerField("Guests per invitee", default=0, validators=[
        Optional(), NumberRange(0, 50, "Give a number from 0 to 50.")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = _zone_choices()
        self._instants: dict[str, dt.datetime | None] = {}

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields' own checks, then each wall-clock time placed on the event's clock
        (a time the clocks skip there is refused on its field)."""
        self._instants = {}
        if not super().validate(extra_validators):
            return False
        for name in events.LOCAL_TIMES:
            value = self[name].data
            try:
                self._instants[name] = (None if value is None
                                        else events.to_utc(value, self.timezone.data))
            except ValueError as exc:
                self[name].errors = [*self[name].errors, str(exc)]
        return len(self._instants) == len(events.LOCAL_TIMES)

    def labels(self) -> dict[str, str]:
        """Each setting's label, for the event's history."""
        return {field.name: str(field.label.text) for field in self}

    def settings(self) -> dict[str, Any]:
        """The settings to store (after :meth:`validate`): times in UTC."""
        values = {name: self[name].data for name in events.SETTINGS}
        values.update(self._instants)
        values["is_published"] = bool(values["is_published"])
        values["guest_limit"] = values["guest_limit"] or 0
        for name in ("name_zh", "summary_en", "summary_zh", "venue", "city", "country",
                     "hosts", "organizers", "venue_zh", "city_zh", "country_zh", "hosts_zh",
                     "organizers_zh", "mail_from", "mail_reply_to"):
            values[name] = values[name] or ""
        return values

    def refuse(self, error: events.EventError) -> None:
        """Show a rule the event service refused on its field."""
        field = self[error.field]  # every rule names a field of this form
        field.errors = [*field.errors, str(error)]


class NewEventForm(EventForm):
    slug = StringField("Address", filters=[_strip, lambda v: v.lower() if isinstance(v, str)
                                           else v],
                       validators=[DataRequired("Give the event an address."),
                                   Length(max=events.SLUG_MAX)])
