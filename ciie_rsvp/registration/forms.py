"""The registration form: shape and field-level checks only. Database rules live in services."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..choices import CALIFORNIA_COUNTIES, COMPANY_SIZES, INTERESTS, LANGUAGES, SECTORS
from ..validation import NoControlChars, normalize_email, normalize_phone, normalize_website


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _line(label: str, max_len: int, required: bool = True, **kw: Any) -> StringField:
    checks = [DataRequired(f"{label} is required.")] if required else [Optional()]
    checks += [Length(max=max_len, message=f"{label} must be at most {max_len} characters."),
               NoControlChars()]
    return StringField(label, validators=checks, filters=[_strip], **kw)


def _choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _placeholder(pairs: list[tuple[str, str]], text: str) -> list[SelectChoice]:
    return _choices([("", text), *pairs])


class RegistrantFields(FlaskForm):
    """Everything a registrant may change about their registration (all but the email)."""

    company = _line("Company (legal name)", 200, render_kw={"autocomplete": "organization"})
    website = URLField("Company website", filters=[_strip],
                       validators=[Optional(), Length(max=300), NoControlChars()],
                       render_kw={"autocomplete": "url", "placeholder": "https://"})
    sector = SelectField("Industry sector (CIIE exhibition area)",
                         choices=_placeholder(SECTORS, "Choose a sector…"),
                         validators=[DataRequired("Choose the sector closest to your business.")])
    company_size = SelectField("Company size", choices=_placeholder(COMPANY_SIZES, "Choose…"),
                               validators=[DataRequired("Choose the size of your company.")])
    county = SelectField("California county",
                         choices=_placeholder([(c, c) for c in CALIFORNIA_COUNTIES],
                                              "Choose a county…"),
                         validators=[DataRequired("Choose the county where you are based.")])
    first_name = _line("First name", 100, render_kw={"autocomplete": "given-name"})
    last_name = _line("Last name", 100, render_kw={"autocomplete": "family-name"})
    job_title = _line("Job title", 150, required=False,
                      render_kw={"autocomplete": "organization-title"})
    phone = TelField("Phone", filters=[_strip],
                     validators=[DataRequired("Phone is required."), Length(max=40)],
                     render_kw={"autocomplete": "tel", "placeholder": "+1 213 555 0100"})
    interests = MultiCheckboxField("I am interested in", choices=_choices(INTERESTS),
                                   validators=[DataRequired("Choose at least one interest.")])
    delegates = IntegerField("Number of delegates", default=1, validators=[
        InputRequired("Give the number of delegates."),
        NumberRange(1, 20, "The number of delegates must be between 1 and 20."),
    ], render_kw={"min": 1, "max": 20, "inputmode": "numeric"})
    language = RadioField("Preferred language", choices=_choices(LANGUAGES), default="en",
                          validators=[DataRequired("Choose a language.")])
    notes = TextAreaField("Notes (optional)", filters=[_strip], validators=[
        Optional(), Length(max=2000, message="Notes must be at most 2000 characters."),
        NoControlChars(multiline=True)])

    # Normalized values, set by the validators below.
    phone_e164: str = ""
    website_clean: str = ""

    def validate_phone(self, field: Any) -> None:
        try:
            self.phone_e164 = normalize_phone(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_website(self, field: Any) -> None:
        try:
            self.website_clean = normalize_website(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def registrant_data(self) -> dict[str, Any]:
        """The cleaned values, keyed as the Registration model names them."""
        return {
            "company": self.company.data,
            "website": self.website_clean,
            "sector": self.sector.data,
            "company_size": self.company_size.data,
            "county": self.county.data,
            "first_name": self.first_name.data,
            "last_name": self.last_name.data,
            "job_title": self.job_title.data or "",
            "phone": self.phone_e164,
            "interests": list(self.interests.data or []),
            "delegates": self.delegates.data,
            "language": self.language.data,
            "notes": self.notes.data or "",
        }


class RegistrationForm(RegistrantFields):
    """The public form: the registrant fields plus email and consent."""

    email = EmailField("Email", filters=[_strip], validators=[
        DataRequired("Email is required."), Length(max=254)],
        render_kw={"autocomplete": "email"})
    consent = BooleanField(
        "I have read the privacy notice and agree that the organizers store and use this "
        "information to handle my registration.",
        validators=[DataRequired("Please agree to the privacy notice to register.")])

    email_normalized_value: str = ""

    def validate_email(self, field: Any) -> None:
        try:
            self.email_normalized_value = normalize_email(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def registrant_data(self) -> dict[str, Any]:
        data = super().registrant_data()
        data["email"] = self.email_normalized_value
        return data


class ActionForm(FlaskForm):
    """A CSRF-only form for button POSTs (withdraw, restore)."""
