"""Field checks shared by every form that takes registration data (public, manage, organizer)."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from .emails import HeaderInjectionError, clean_header

WEBSITE_MAX = 300  # Registration.website

# The characters refused in text: Unicode's categories Cc (controls: U+0000-001F and
# U+007F-009F), Cs (surrogates), Zl and Zp (U+2028, U+2029; these sets are fixed by Unicode's
# stability policy), plus the byte-order mark and the noncharacters U+FFFE and U+FFFF. As one
# character class, checked by the regex engine rather than character by character in Python
# (tests/test_validation.py compares it with unicodedata over every code point).
_REFUSED = "\u0000-\u001f\u007f-\u009f\ud800-\udfff\u2028\u2029\ufeff\ufffe\uffff"
_CONTROL = re.compile(f"[{_REFUSED}]")
# Multi-line text may also hold line breaks and tabs.
_CONTROL_MULTILINE = re.compile(f"(?![\t\n\r])[{_REFUSED}]")


# email-validator explains what is wrong in English only: its reasons, matched by a phrase of
# its message (first match wins), in words the catalogs translate.
_EMAIL_REASONS = (
    ("must have an @-sign", _l("it needs an @ sign")),
    ("something before the @-sign", _l("something must come before the @")),
    ("something after the @-sign", _l("something must come after the @")),
    ("Internationalized characters before the @-sign",
     _l("use only Latin letters, digits and . _ - + before the @")),
    ("after the @-sign is not valid", _l("the part after the @ must be a domain such as "
                                         "example.com")),
    ("invalid characters", _l("it contains characters that are not allowed")),
    ("too long", _l("it is too long")),
    ("period", _l("a period is misplaced")),
    ("hyphen", _l("a hyphen is misplaced")),
)


def email_problem(message: str) -> str:
    """Why an address is invalid, in the current language, from email-validator's
    ``message``."""
    for phrase, reason in _EMAIL_REASONS:
        if phrase in message:
            return str(reason)
    return _("it is not an address we can send mail to")


def _hides_control_chars(value: str) -> bool:
    """True when an RFC 2047 encoded word in ``value`` decodes to a control character (the
    mail code refuses such a header, so storing it would break every later send)."""
    try:
        clean_header(value)
    except HeaderInjectionError:
        return True
    return False


def header_text_problem(value: str) -> str | None:
    """Why text that goes into a mail header (an event's name in a subject) cannot, or
    None."""
    if has_control_chars(value) or _hides_control_chars(value):
        return _("This text goes into email subjects: it must not contain line breaks, "
                 "control characters, or encoded words that hide them.")
    return None


def has_control_chars(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds control characters (line breaks allowed when ``multiline``)."""
    return (_CONTROL_MULTILINE if multiline else _CONTROL).search(value) is not None


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
    """Validate an address (syntax only, no DNS) and return its normalized form.

    Internationalized domains are fine; a non-ASCII local part (SMTPUTF8) is refused because
    the mail we send could not be addressed to it (Python's email package and most relays
    reject it), which used to turn such a submission into a 500. The lower-cased form is the
    unique key, so it must fit the column too (``İ`` lower-cases to two code points).
    """
    if has_control_chars(value):
        raise ValueError(_("The email address must not contain line breaks or control "
                           "characters."))
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(_("Enter a valid email address (%(reason)s).",
                           reason=email_problem(str(exc)))) from exc
    if len(result.normalized.lower()) > 254:
        raise ValueError(_("Enter a valid email address (%(reason)s).",
                           reason=_("it is too long")))
    return result.normalized


def normalize_mailbox(value: str) -> str:
    """An address header value, ``Name <address>`` or a bare address, checked and written out
    the standard way (the display name quoted when it needs to be, kept in Unicode)."""
    if has_control_chars(value) or _hides_control_chars(value):
        raise ValueError(_("The address must not contain line breaks or control characters."))
    found = getaddresses([value])
    name, addr = found[0] if len(found) == 1 else ("", "")
    if not addr or "@" not in addr:
        raise ValueError(_("Enter an address such as Delegation <delegation@example.org>."))
    addr = normalize_email(addr)
    return str(Address(display_name=name, addr_spec=addr)) if name else addr


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
    if len(value) > WEBSITE_MAX:  # the added https:// can push a 300-character entry over
        raise ValueError(_("Enter at most %(max)d characters.", max=WEBSITE_MAX))
    return value
