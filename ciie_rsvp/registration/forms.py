"""The registration form: shape and field-level checks only. Database rules live in services.

Labels and messages are lazy translations; choice labels are translated when a form is built
(inside the request, so in the visitor's language).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
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
from wtforms.i18n import messages_path
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

from ..choices import CALIFORNIA_COUNTIES, COMPANY_SIZES, INTERESTS, LANGUAGES, SECTORS
from ..core import signing
from ..validation import NoControlChars, normalize_email, normalize_phone, normalize_website


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Tick(BooleanField):
    """A tick box that is ticked only by a yes: what a browser sends ("y"), or "yes", "on",
    "true", "1" in any case. Anything else is not ticked ("No", "FALSE", " no", "null"...):
    WTForms' own check took every value but a few exact lowercase ones as a yes, so a
    scripted ``confirm=No`` erased personal data."""

    YES = frozenset({"y", "yes", "on", "true", "1"})

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = bool(valuelist) and isinstance(valuelist[0], str) \
            and valuelist[0].strip().lower() in self.YES


class FastSelect(Select):
    """WTForms' ``Select`` with each choice list's ``<option>`` markup built once per process.

    Profiled: rendering the 58 counties option by option (``html_params``, ``escape``, a
    ``Choice`` per option) was a quarter of the form page. The markup of an option depends
    only on its value and (translated) label, so it is kept per distinct choice list (one per
    language); only the ``selected`` mark is chosen per request. The output is the same bytes
    WTForms writes. Choices with ``render_kw`` or optgroups take WTForms' own path.
    """

    _cache: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
    _CACHE_MAX = 64

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        choices = field.choices
        if (not isinstance(choices, list | tuple) or self.multiple
                or any(c.render_kw or c.optgroup is not None or type(c.value) is not str
                       or not (c.label is None or type(c.label) is str) for c in choices)):
            return super().__call__(field, **kwargs)
        key = tuple((c.value, str(c.label or c.value)) for c in choices)
        options = self._cache.get(key)
        if options is None:
            options = tuple(
                (f"<option {html_params(value=v)}>{escape(label)}</option>",
                 f"<option {html_params(value=v, selected=True)}>{escape(label)}</option>")
                for v, label in key)
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            self._cache[key] = options
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        coerce, data = field.coerce, field.data
        for (value, _label), (plain, selected) in zip(key, options, strict=True):
            html.append(selected if coerce(value) == data else plain)
        html.append("</select>")
        # every value went through html_params/escape, as in WTForms' Select
        return Markup("".join(html))  # noqa: S704


@functools.lru_cache(maxsize=8)
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsTranslations:
    """WTForms' own messages in the request's language, each catalog read once per process.

    Flask-WTF reads the catalog file again on every request (profiled: about 0.4 ms); the
    catalogs never change while the process runs, and the language is still the request's.
    """

    def gettext(self, string: str) -> str:
        return _wtforms_catalog(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


_WTFORMS_TRANSLATIONS = _WTFormsTranslations()


class ChoiceList(tuple[SelectChoice, ...]):
    """A fixed choice list that also knows its values as a set (see :class:`KnownChoices`)."""

    known: frozenset[str]

    def __new__(cls, choices: Any) -> ChoiceList:
        self = super().__new__(cls, choices)
        self.known = frozenset(choice.value for choice in self)
        return self


class KnownChoices:
    """Field mixin: check a submitted value against the :class:`ChoiceList`'s value set.

    WTForms walks every option for it, building a normalized choice per option (profiled:
    the form's four lists, with the 58 counties, cost a tenth of a submission's checks).
    Same rule and message; any other kind of ``choices`` takes WTForms' own path.
    """

    def pre_validate(self, form: Any) -> None:
        field: Any = self
        known = getattr(field.choices, "known", None)
        if known is None or field.coerce is not str or field.process_errors:
            super().pre_validate(form)  # type: ignore[misc]
            return
        if not field.validate_choice:
            return
        data = field.data if isinstance(field.data, list) else [field.data]
        if field.data is None or any(value not in known for value in data):
            super().pre_validate(form)  # type: ignore[misc]  # WTForms words the error


class ChoiceField(KnownChoices, SelectField):
    pass


class ChoiceRadioField(KnownChoices, RadioField):
    pass


class MultiCheckboxField(KnownChoices, SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _line(label: Any, max_len: int, required: Any = None, **kw: Any) -> StringField:
    checks: list[Any] = [DataRequired(required)] if required else [Optional()]
    checks += [Length(max=max_len, message=_l("Enter at most %(max)d characters.")),
               NoControlChars()]
    return StringField(label, validators=checks, filters=[_strip], **kw)


def translated(pairs: list[tuple[str, str]], placeholder: str | None = None
               ) -> list[SelectChoice]:
    """Choices with labels in the current language (labels are msgids in choices.py)."""
    out = [SelectChoice("", placeholder)] if placeholder else []
    return out + [SelectChoice(value, _(label)) for value, label in pairs]


# The public choice lists per language, built once per process: they hold only msgids and
# their translations (profiled: about 15 gettext calls per form, on every request).
_CHOICES_BY_LOCALE: dict[str, tuple[ChoiceList, ...]] = {}


def _choice_lists() -> tuple[ChoiceList, ...]:
    locale = str(get_locale())
    lists = _CHOICES_BY_LOCALE.get(locale)
    if lists is None:
        lists = (ChoiceList(translated(SECTORS, _("Choose a sector…"))),
                 ChoiceList(translated(COMPANY_SIZES, _("Choose…"))),
                 ChoiceList((SelectChoice("", _("Choose a county…")), *_COUNTY_CHOICES)),
                 ChoiceList(translated(INTERESTS)),
                 ChoiceList(SelectChoice(code, label) for code, label in LANGUAGES))
        if len(_CHOICES_BY_LOCALE) < 16:
            _CHOICES_BY_LOCALE[locale] = lists
    return lists


# County names are proper nouns (not translated): build the 58 choices once, not per request.
_COUNTY_CHOICES: tuple[SelectChoice, ...] = tuple(SelectChoice(c, c) for c in CALIFORNIA_COUNTIES)


# Bound fields kept as prototypes, per form class, field and language (a few dozen at most).
_PROTOTYPES: dict[tuple[Any, ...], Any] = {}


def bind_from_prototype(meta: Any, form: Any, unbound_field: Any,
                        options: dict[str, Any]) -> Any:
    """WTForms' ``Meta.bind_field``: a copy of a field bound once, instead of a new binding.

    WTForms binds every field of every form anew: the constructor checks the validators,
    works out the flags, copies ``render_kw`` and builds the label (profiled: about 25 µs a
    field, 0.4 ms for the registration form, the most expensive step of a submission). All
    of that follows from the field's declaration and the language alone, so the first
    binding is kept and each form gets a shallow copy pointed at its own form and meta;
    what differs per request (data, raw data, errors, choices) is set on the copy as usual.
    """
    if getattr(type(form), options["name"], None) is not unbound_field:
        # Not a declared field (the CSRF field is made anew for every form): bind it as is.
        return unbound_field.bind(form=form, **options)
    language = meta.__dict__.get("_binding_language")  # looked up once per form
    if language is None:
        language = meta._binding_language = str(get_locale()) if has_request_context() else ""
    key = (type(form), unbound_field, options["name"], options["prefix"], language)
    prototype = _PROTOTYPES.get(key)
    if prototype is None:
        prototype = unbound_field.bind(form=form, **options)
        if len(_PROTOTYPES) >= 1024:  # never grows unbounded, whatever a caller does
            _PROTOTYPES.clear()
        _PROTOTYPES[key] = prototype
    # Not copy.copy: a Field's __new__ without ``_form`` makes an UnboundField.
    field = object.__new__(type(prototype))
    field.__dict__.update(prototype.__dict__)
    field.meta, field._form = meta, form
    if options.get("translations") is not None:
        field._translations = options["translations"]
    return field


class RegistrantFields(FlaskForm):
    """Everything a registrant may change about their registration (all but the email)."""

    class Meta:
        def get_translations(self, form: Any) -> Any:
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)  # type: ignore[misc]
            return _WTFORMS_TRANSLATIONS

        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            return bind_from_prototype(self, form, unbound_field, options)

    company = _line(_l("Company (legal name)"), 200, _l("Enter your company's legal name."),
                    render_kw={"autocomplete": "organization"})
    website = URLField(_l("Company website"), filters=[_strip],
                       validators=[Optional(), Length(max=300), NoControlChars()],
                       render_kw={"autocomplete": "url", "placeholder": "https://"})
    sector = ChoiceField(_l("Industry sector (CIIE exhibition area)"), widget=FastSelect(),
                         validators=[DataRequired(_l("Choose the sector closest to your "
                                                     "business."))])
    company_size = ChoiceField(_l("Company size"), widget=FastSelect(),
                               validators=[DataRequired(_l("Choose the size of your company."))])
    county = ChoiceField(_l("California county"), widget=FastSelect(),
                         validators=[DataRequired(_l("Choose the county where you are based."))])
    first_name = _line(_l("First name"), 100, _l("Enter your first name."),
                       render_kw={"autocomplete": "given-name"})
    last_name = _line(_l("Last name"), 100, _l("Enter your last name."),
                      render_kw={"autocomplete": "family-name"})
    job_title = _line(_l("Job title"), 150, render_kw={"autocomplete": "organization-title"})
    phone = TelField(_l("Phone"), filters=[_strip],
                     validators=[DataRequired(_l("Enter a phone number.")), Length(max=40)],
                     render_kw={"autocomplete": "tel", "placeholder": "+1 213 555 0100"})
    interests = MultiCheckboxField(_l("I am interested in"),
                                   validators=[DataRequired(_l("Choose at least one interest."))])
    delegates = IntegerField(_l("Number of delegates"), default=1, validators=[
        InputRequired(_l("Give the number of delegates as a whole number.")),
        NumberRange(1, 20, _l("The number of delegates must be between 1 and 20.")),
    ], render_kw={"min": 1, "max": 20, "inputmode": "numeric"})
    language = ChoiceRadioField(_l("Preferred language"), default="en",
                                validators=[DataRequired(_l("Choose a language."))])
    notes = TextAreaField(_l("Notes (optional)"), filters=[_strip], validators=[
        Optional(), Length(max=2000, message=_l("Enter at most %(max)d characters.")),
        NoControlChars(multiline=True)])

    # Normalized values, set by the validators below.
    phone_e164: str = ""
    website_clean: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sectors, sizes, counties, interests, languages = _choice_lists()
        # The shared per-language lists themselves (immutable tuples), not copies.
        self.sector.choices = sectors
        self.company_size.choices = sizes
        self.county.choices = counties
        self.interests.choices = interests
        self.language.choices = languages

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


class RegistrantWithEmail(RegistrantFields):
    """The registrant fields plus the email (the identity of a registration)."""

    email = EmailField(_l("Email"), filters=[_strip], validators=[
        DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "email"})

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


class RegistrationForm(RegistrantWithEmail):
    """The public form: the registrant fields plus email and consent.

    Two silent bot traps: ``nickname`` is a honeypot hidden from people (CSS, aria-hidden,
    no tab stop) and ``started`` is a signed timestamp of when the form was shown; a filled
    honeypot or a form sent back faster than a person can type looks like success to the
    bot but stores nothing.
    """

    class Meta:
        # CSRFProtect checks every POST before any view runs; the form's own CSRF field would
        # only check again and mint a token per submission (the template writes the token).
        csrf = False

    nickname = StringField(_l("Leave this field empty"),
                           render_kw={"autocomplete": "off", "tabindex": "-1"})
    started = HiddenField()

    consent = Tick(
        _l("I have read the privacy notice and agree that the organizers store and use this "
           "information to handle my registration."),
        validators=[DataRequired(_l("Please agree to the privacy notice to register."))])

    def stamp(self) -> None:
        """Sign the time the form is shown (kept across re-renders with errors)."""
        if not self.started.data:
            self.started.data = self.new_stamp()

    @staticmethod
    def new_stamp() -> str:
        """A signed "the form was shown now" value for the ``started`` field."""
        return _stamper().dumps(time.time())

    def looks_automated(self, min_seconds: float) -> bool:
        if self.nickname.data:
            return True
        try:
            shown = float(_stamper().loads(self.started.data or "", max_age=12 * 3600))
        except (BadSignature, ValueError, TypeError):
            return True
        return time.time() - shown < min_seconds


def _stamper() -> URLSafeTimedSerializer:
    return signing.serializer(current_app.config["SECRET_KEY"], "form-started")


class ActionForm(FlaskForm):
    """A CSRF-only form for button POSTs (withdraw, restore)."""


class WithdrawForm(FlaskForm):
    """Withdrawing: one click while a withdrawal can be undone; once the event's registration
    has closed it cannot, and the registrant ticks ``understood`` to say they know."""

    understood = Tick(_l("I understand that I cannot restore my registration after "
                         "withdrawing it."))


class EraseForm(FlaskForm):
    """Deleting personal data needs an explicit tick, not just a click."""

    confirm = Tick(_l("Yes, delete my personal data. I understand this cannot be undone."),
                   validators=[DataRequired(_l("Tick the box to confirm."))])
