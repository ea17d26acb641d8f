"""Organizer console forms (shape only)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
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
)
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..choices import CALIFORNIA_COUNTIES, INTERESTS, SECTORS, STATUSES
from ..registration.forms import RegistrantWithEmail, _strip
from ..validation import NoControlChars
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
    date_from = DateField("Registered from", validators=[Optional()])
    date_to = DateField("Registered until", validators=[Optional()])
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
    consent = BooleanField(
        "The registrant has read the privacy notice and agreed that the organizers store and "
        "use this information to handle the registration.",
        validators=[DataRequired("Confirm the registrant agreed to the privacy notice.")])
    send_mail = BooleanField("Email the registrant a confirmation with their private link",
                             default=True)


class ImportUploadForm(FlaskForm):
    file = FileField("CSV file (UTF-8)", validators=[FileRequired("Choose a CSV file.")])


class ImportConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])


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
