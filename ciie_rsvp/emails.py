"""Build outgoing messages: multipart text + HTML, a Message-ID and safe headers.

Python's email package lets an encoded word that carries a newline (``=?UTF-8?Q?=0A?=``) turn
into a real header when a message is re-parsed, so every header value built here is checked:
CR, LF and other control characters are removed, and encoded words that decode to one are
refused.
"""

from __future__ import annotations

import base64
import functools
import random
import re
import sys
import uuid
from dataclasses import dataclass, field
from email import encoders, quoprimime
from email.charset import QP, Charset
from email.header import Header, decode_header
from email.headerregistry import Address
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, parseaddr

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


@functools.lru_cache(maxsize=256)
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


# Bodies as quoted-printable UTF-8: readable in the raw, safe for any relay (7bit lines).
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _header(value: str) -> str | Header:
    value = clean_header(value)
    return value if value.isascii() else Header(value, "utf-8")


@functools.lru_cache(maxsize=1024)  # pure; From and Reply-To repeat across a big send
def _address(value: str) -> str:
    """One address as a header value, its display name RFC 2047-encoded when not ASCII."""
    name, addr = parseaddr(clean_header(value))
    if not addr or _CONTROL.search(addr):
        raise HeaderInjectionError(f"not an address: {value!r}")
    return formataddr((name, addr), charset="utf-8")


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
) -> Message:
    """A ready-to-send message: text (+ HTML alternative) (+ attachments).

    Built with the ``email.mime`` classes (the legacy API) because they are several times
    faster than ``EmailMessage`` for the same bytes, which matters when thousands of
    invitations are queued at once. Every header value goes through :func:`clean_header`.
    """
    body: MIMEBase = MIMEText(text, "plain", _UTF8_QP)
    if html is not None:
        body = MIMEMultipart("alternative", _subparts=[body, MIMEText(html, "html", _UTF8_QP)])
    msg: MIMEBase = body
    if attachments:
        msg = MIMEMultipart("mixed", _subparts=[body])
        for att in attachments:
            part = MIMEBase(att.maintype, att.subtype, **att.params)
            part.set_payload(att.data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=att.filename)
            msg.attach(part)
    msg["From"] = _address(sender)
    msg["To"] = _address(to)
    if reply_to:
        msg["Reply-To"] = _address(reply_to)
    msg["Subject"] = _header(subject)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = clean_header(message_id or make_message_id(domain_of(sender)))
    for name, value in (headers or {}).items():
        msg[clean_header(name)] = _header(value)
    return msg


# --- the fast path: the same bytes, assembled directly ------------------------------------------

_WIRE = compat32.clone(linesep="\r\n")  # what outbox rows store: compat32, CRLF line ends
_NEWLINES = re.compile(r"\r\n|\r|\n")
_PART_HEAD = {
    subtype: (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
              "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode()
    for subtype in ("plain", "html")
}


@dataclass
class BuiltMessage:
    """A finished message as the bytes to send, with the envelope and what the outbox lists."""

    raw: bytes
    message_id: str
    sender: str  # envelope sender (address only)
    recipient: str  # envelope recipient (address only)
    subject: str  # the cleaned subject, decoded


def _boundary(body: bytes) -> str:
    """A boundary like the email package's own, that occurs nowhere in ``body``."""
    while True:
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="  # noqa: S311
        if ("--" + boundary).encode() not in body:
            return boundary


def _fold(name: str, value: str | Header) -> bytes:
    if isinstance(value, Header):
        return _fold_cached(name, str(value), True)
    return _fold_cached(name, value, False)


@functools.lru_cache(maxsize=4096)
def _fold_cached(name: str, value: str, encoded: bool) -> bytes:
    """Headers repeat across a big send (From, Reply-To, Date, a subject per language):
    fold each distinct one once."""
    return _WIRE.fold_binary(name, Header(value, "utf-8") if encoded else value)  # type: ignore[arg-type]


def _multipart(subtype: str, parts: list[bytes], boundary: str | None,
               headers: bytes = b"") -> bytes:
    """A multipart entity of ``parts`` (each an entity's bytes), as email.generator lays it out."""
    boundary = boundary or _boundary(b"\r\n".join(parts))
    sep = f"\r\n--{boundary}\r\n".encode()
    return b"".join((
        _fold("Content-Type", f'multipart/{subtype}; boundary="{boundary}"'),
        b"MIME-Version: 1.0\r\n", headers, b"\r\n",
        f"--{boundary}\r\n".encode(), sep.join(parts), f"\r\n--{boundary}--\r\n".encode(),
    ))


def _text_part(text: str, subtype: str) -> bytes:
    """A text/<subtype> entity, UTF-8 quoted-printable (as MIMEText with the QP charset)."""
    body = quoprimime.body_encode(text.encode("utf-8", "surrogateescape").decode("latin-1"))
    return _PART_HEAD[subtype] + _NEWLINES.sub("\r\n", body).encode("ascii")


def _attachment_part(att: Attachment) -> bytes:
    head = _attachment_head(att.maintype, att.subtype, tuple(att.params.items()), att.filename)
    return head + base64.encodebytes(att.data).replace(b"\n", b"\r\n")


@functools.lru_cache(maxsize=64)
def _attachment_head(maintype: str, subtype: str, params: tuple[tuple[str, str], ...],
                     filename: str) -> bytes:
    head = Message()  # header values formatted (parameters quoted) by the email package
    head.add_header("Content-Type", f"{maintype}/{subtype}", **dict(params))
    head["MIME-Version"] = "1.0"
    head["Content-Transfer-Encoding"] = "base64"
    head.add_header("Content-Disposition", "attachment", filename=filename)
    return b"".join(_fold(k, v) for k, v in head.raw_items()) + b"\r\n"


def build_message_bytes(
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
    date: str | None = None,
    boundaries: tuple[str, str] | None = None,
) -> BuiltMessage:
    """What ``build_message(...).as_bytes()`` (compat32, CRLF) gives, without the object tree.

    Queueing thousands of invitations spent most of its time building ``email.mime`` objects
    and flattening them again. This writes the same bytes directly: every header value is
    cleaned exactly as :func:`build_message` does and folded by the email package's own
    policy; bodies are encoded by the same codecs. ``tests/test_emails.py`` checks that both
    paths give identical bytes (``boundaries``, outer then inner, and ``date`` pin what is
    random or timed) for ordinary and hostile input.
    """
    from_value, to_value = _address(sender), _address(to)
    subject_value = _header(subject)
    message_id = clean_header(message_id or make_message_id(domain_of(sender)))
    top = [("From", from_value), ("To", to_value)]
    if reply_to:
        top.append(("Reply-To", _address(reply_to)))
    top += [("Subject", subject_value),
            ("Date", date or formatdate(localtime=False, usegmt=True)),
            ("Message-ID", message_id)]
    top += [(clean_header(name), _header(value)) for name, value in (headers or {}).items()]
    head = b"".join(_fold(name, value) for name, value in top)
    outer, inner = boundaries or (None, None)
    if html is None:
        body = _text_part(text, "plain")
    else:
        body = _multipart("alternative", [_text_part(text, "plain"), _text_part(html, "html")],
                          inner, b"" if attachments else head)
    if attachments:
        raw = _multipart("mixed", [body, *(_attachment_part(a) for a in attachments)], outer,
                         head)
    elif html is None:  # a single text entity: the top headers follow its own
        raw = body.replace(b"\r\n\r\n", b"\r\n" + head + b"\r\n", 1)
    else:
        raw = body
    return BuiltMessage(raw, message_id, getaddresses([str(from_value)])[0][1],
                        getaddresses([str(to_value)])[0][1], str(subject_value)[:500])
