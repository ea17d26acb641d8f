"""Mail transports: SMTP (plain, STARTTLS, implicit TLS), a folder of .eml files, the console.

Transports only move finished bytes; they neither render nor touch the database. Errors are
classified so the outbox can decide: :class:`TransientMailError` (retry later),
:class:`PermanentMailError` (give up on this message), :class:`RelayMailError` (the relay
itself refuses us: pause the whole queue).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit


class MailError(Exception):
    pass


class TransientMailError(MailError):
    """Try again later: 4xx replies, timeouts, refused or dropped connections."""


class PermanentMailError(MailError):
    """The relay rejected this message for good (5xx)."""


class RelayMailError(MailError):
    """Authentication or TLS failure: no message can go until an operator fixes the relay."""


class Transport(Protocol):
    def __enter__(self) -> Transport: ...

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None: ...


class FileTransport:
    """Writes each message as ``<n>.eml`` into a folder (atomically: temp file then rename)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __enter__(self) -> FileTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        final = Path(tmp).with_name(Path(tmp).name.removeprefix(".tmp-"))
        os.replace(tmp, final)


class ConsoleTransport:
    """Prints messages to standard output (development)."""

    def __init__(self, stream: object = None) -> None:
        self.stream = stream or sys.stdout

    def __enter__(self) -> ConsoleTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        text = raw.decode("utf-8", "replace")
        print(f"----- mail from {sender} to {', '.join(recipients)}\n{text}\n-----",
              file=self.stream, flush=True)  # type: ignore[call-overload]


class SMTPTransport:
    """One SMTP connection reused for every message sent inside the ``with`` block."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> SMTPTransport:
        # Loading the CA store costs tens of milliseconds: only when TLS is used.
        context = ssl.create_default_context() if self.security != "none" else None
        try:
            if self.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayMailError(
                f"SMTP authentication failed: {exc.smtp_code} {_text(exc)}"
            ) from exc
        except (ssl.SSLError, smtplib.SMTPNotSupportedError) as exc:
            raise RelayMailError(f"TLS with the relay failed: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientMailError(f"cannot reach {self.host}:{self.port}: {exc}") from exc
        self._conn = conn
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                self._conn.close()
            self._conn = None

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        assert self._conn is not None, "use the transport in a with block"
        try:
            refused = self._conn.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{r}: {c} {_decode(m)}" for r, (c, m) in exc.recipients.items())
            if all(500 <= c < 600 for c in codes):
                raise PermanentMailError(detail) from exc
            raise TransientMailError(detail) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._conn = None
            raise TransientMailError(f"connection to {self.host}:{self.port} lost: {exc}") from exc
        if refused:  # pragma: no cover - only with several recipients
            raise TransientMailError(f"refused: {refused}")


def _decode(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


def _text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error)


def _classify(exc: smtplib.SMTPResponseException) -> MailError:
    text = f"{exc.smtp_code} {_text(exc)}"
    if exc.smtp_code in (530, 535, 538):
        return RelayMailError(text)
    if 500 <= exc.smtp_code < 600:
        return PermanentMailError(text)
    return TransientMailError(text)


def transport_from_url(url: str) -> Transport:
    """Build a transport from ``CIIE_RSVP_MAIL_URL``.

    ``file:///path``, ``console:``, ``smtp://user:pass@host:port``, ``smtp+starttls://...``,
    ``smtps://...``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return FileTransport(unquote(parts.path))
    if scheme == "console":
        return ConsoleTransport()
    security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "ssl"}.get(scheme)
    if security is None:
        raise ValueError(f"unsupported mail URL scheme {scheme!r} in {url!r}")
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
    return SMTPTransport(
        parts.hostname or "localhost",
        parts.port or default_port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
