"""Invitation forms: shape only. Rules (deadline, guest limit) live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from ..choices import STATUSES
from ..core.ids import MAX_ID
from .services import ANY_STATUS, NEVER_INVITED


class RsvpForm(FlaskForm):
    answer = StringField(_l("Your answer"), validators=[
        DataRequired(_l("Choose accept or decline.")),
        AnyOf(["accepted", "declined"], message=_l("Choose accept or decline."))])
    guests = IntegerField(_l("Guests"), default=0, validators=[
        Optional(), NumberRange(0, 50, _l("Enter a number of guests from 0 to 50."))])


class TemplateForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired("The subject is required."),
                                                 Length(max=500)])
    body_html = TextAreaField("HTML body", validators=[DataRequired("The HTML body is required."),
                                                       Length(max=64 * 1024)])
    body_text = TextAreaField("Text body", validators=[DataRequired("The text body is required."),
                                                       Length(max=64 * 1024)])
    registration_id = IntegerField("Preview for", validators=[
        Optional(), NumberRange(1, MAX_ID, "Not a registration number.")])


class SelectionForm(FlaskForm):
    """Who to send to: a template and a registration status."""

    template = StringField("Template", default="welcome",
                           validators=[DataRequired(), Length(max=40)])
    status = SelectField("Registrations with status", default="approved",
                         choices=[SelectChoice(v, label) for v, label in
                                  [*((v, label) for v, label in STATUSES
                                     if v not in NEVER_INVITED),
                                   ("", ANY_STATUS.capitalize())]],
                         validate_choice=True)


class RoundForm(FlaskForm):
    """Remind non-responders: the round shown on the page (a repeated click sends nothing)."""

    round = IntegerField("Round", validators=[DataRequired(), NumberRange(2, 1000)])


class ActionForm(FlaskForm):
    """A CSRF-only form for button POSTs."""

