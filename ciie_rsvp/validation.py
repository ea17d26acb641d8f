"""Field checks shared by every form that takes registration data (public, manage, organizer)."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from wtforms.validators import ValidationError

_LINE_BREAKS = {"\n", "\r"}


def has_control_chars(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds control characters (line breaks allowed when ``multiline``)."""
    for ch in value:
        if multiline and (ch in _LINE_BREAKS or ch == "\t"):
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in "\ufeff\ufffe\uffff":
            return True
    return False


class NoControlChars:
    """Refuse control characters, NUL bytes, and (unless ``multiline``) line breaks."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form: Any, field: Any) -> None:
        if field.data and isinstance(field.data, str) and has_control_chars(
            field.data, multiline=self.multiline
        ):
            raise ValidationError(
                _("This field must not contain control characters.") if self.multiline
                else _("This field must not contain line breaks or control characters."))


def normalize_email(value: str) -> str:
    """Validate an address (syntax only, no DNS) and return its normalized form."""
    if has_control_chars(value):
        raise ValueError(_("The email address must not contain line breaks or control "
                           "characters."))
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(_("Enter a valid email address (%(reason)s).", reason=str(exc))) from exc
    return result.normalized


def normalize_phone(value: str, region: str = "US") -> str:
    """Parse a phone number (US by default, +country for others) and return it in E.164."""
    if len(value) > 40 or has_control_chars(value):
        raise ValueError(_("Enter a valid phone number."))
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("Enter a valid phone number, for example +1 213 555 0100.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("This phone number is not valid; include the country code if "
                           "outside the US, for example +86 21 5555 0100."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_website(value: str) -> str:
    """Accept http(s) URLs only; a bare domain gets ``https://``."""
    value = value.strip()
    if not value:
        return ""
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value:
        raise ValueError(_("Enter a website starting with http:// or https://."))
    if "." not in parts.hostname and parts.hostname != "localhost":
        raise ValueError(_("Enter the website's full domain, for example https://example.com."))
    return value
