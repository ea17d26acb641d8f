"""Build outgoing messages: multipart text + HTML, a Message-ID and safe headers.

Python's email package lets an encoded word that carries a newline (``=?UTF-8?Q?=0A?=``) turn
into a real header when a message is re-parsed, so every header value built here is checked:
CR, LF and other control characters are removed, and encoded words that decode to one are
refused.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from email.header import decode_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


class HeaderInjectionError(ValueError):
    """A header value tried to smuggle a line break."""


def clean_header(value: str) -> str:
    """Return ``value`` as one safe header line.

    Line breaks and control characters collapse to a space; an RFC 2047 encoded word that would
    decode to a control character is refused outright.
    """
    for word in _ENCODED_WORD.findall(value):
        try:
            decoded = "".join(
                part.decode(enc or "ascii", "replace") if isinstance(part, bytes) else part
                for part, enc in decode_header(word)
            )
        except (ValueError, LookupError) as exc:
            raise HeaderInjectionError(f"malformed encoded word {word!r}") from exc
        if _CONTROL.search(decoded):
            raise HeaderInjectionError("encoded word carrying a control character")
    return " ".join(_CONTROL.sub(" ", value).split())


def make_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def format_address(display_name: str, email: str) -> str:
    """``Name <email>`` with the name safely encoded."""
    return str(Address(display_name=clean_header(display_name), addr_spec=clean_header(email)))


@dataclass
class Attachment:
    data: bytes
    maintype: str
    subtype: str
    filename: str
    params: dict[str, str] = field(default_factory=dict)


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: str | None = None,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[Attachment] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = clean_header(sender)
    msg["To"] = clean_header(to)
    if reply_to:
        msg["Reply-To"] = clean_header(reply_to)
    msg["Subject"] = clean_header(subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or make_message_id(domain_of(sender))
    msg["MIME-Version"] = "1.0"
    for name, value in (headers or {}).items():
        msg[clean_header(name)] = clean_header(value)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for att in attachments or []:
        msg.add_attachment(
            att.data, maintype=att.maintype, subtype=att.subtype, filename=att.filename,
            params=att.params,
        )
    return msg
