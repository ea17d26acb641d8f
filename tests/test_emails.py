"""The fast message builder gives byte for byte what the email package gives, and stays safe."""

from __future__ import annotations

import email
from email.policy import compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciie_rsvp.emails import (
    Attachment,
    HeaderInjectionError,
    build_message,
    build_message_bytes,
)

OUTER = "===============1111111111111111111=="
INNER = "===============2222222222222222222=="
DATE = "Sun, 29 Nov 2026 23:01:01 GMT"
MID = "<0123456789abcdef@trade-office.example.org>"
ICS = Attachment(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n" * 20, "text",
                 "calendar", "invitation.ics", {"method": "REQUEST"})
HEADERS = {"List-Unsubscribe": "<https://rsvp.example.org/unsubscribe/" + "a" * 43 + ">",
           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Content-Language": "zh-Hans"}


def both(**kwargs: object) -> tuple[bytes, bytes]:
    """(reference bytes from build_message, fast bytes), boundaries and date pinned."""
    msg = build_message(**kwargs)  # type: ignore[arg-type]
    msg.replace_header("Date", DATE)
    if msg.is_multipart():
        msg.set_boundary(OUTER if kwargs.get("attachments") else INNER)
        if kwargs.get("attachments") and kwargs.get("html") is not None:
            msg.get_payload()[0].set_boundary(INNER)
    reference = msg.as_bytes(policy=compat32.clone(linesep="\r\n"))
    fast = build_message_bytes(**kwargs, date=DATE, boundaries=(OUTER, INNER))  # type: ignore[arg-type]
    return reference, fast.raw


def invitation(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = dict(
        sender="CIIE Office <invitations@trade-office.example.org>",
        to="Delegate Number 1 <d1@example.com>", reply_to="Organizers <team@wtcla.example.org>",
        subject="Welcome to Meet in Shanghai, Share the Future", text="Dear Delegate,\n\nHello\n",
        html="<p>Dear Delegate,</p>\n", message_id=MID, headers=HEADERS, attachments=[ICS])
    base.update(overrides)
    return base


@pytest.mark.parametrize("overrides", [
    {},
    {"to": "张 伟 <zhang@example.cn>", "subject": "欢迎参加 相约上海，共享未来 " * 4},
    {"subject": "A very long ASCII subject line, " * 6, "reply_to": None},
    {"text": "From the start\r\nline\rtwo\n.\n" + "x" * 300 + " \t\n\n", "html": None},
    {"html": None, "attachments": None},
    {"attachments": None},
    {"headers": None, "attachments": [ICS, Attachment(b"\x00\xff" * 500, "application",
                                                       "octet-stream", "a b;c.bin")]},
    {"to": '"Quoted, Name" <q@example.com>', "text": "=3D =?utf-8?q?x?= é\u2028\n"},
])
def test_fast_bytes_equal_the_email_package(overrides: dict[str, object]) -> None:
    reference, fast = both(**invitation(**overrides))
    assert fast == reference


printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=150, deadline=None)
@given(name=printable.map(lambda s: s[:60]), subject=printable.map(lambda s: s[:200] or "x"),
       text=printable, html=st.none() | printable, attach=st.booleans())
def test_fast_bytes_equal_the_email_package_for_any_text(name: str, subject: str, text: str,
                                                          html: str | None, attach: bool) -> None:
    kwargs = invitation(to=f"{name} <d@example.com>", subject=subject, text=text, html=html,
                        attachments=[ICS] if attach else None)
    try:
        reference, fast = both(**kwargs)
    except (HeaderInjectionError, ValueError) as exc:  # refused alike by both paths
        with pytest.raises(type(exc)):
            build_message_bytes(**kwargs)  # type: ignore[arg-type]
        return
    assert fast == reference


@pytest.mark.parametrize("field", ["subject", "to", "reply_to"])
@pytest.mark.parametrize("evil", ["x\r\nBcc: victim@example.com", "=?UTF-8?Q?=0A?=Bcc: v@e.com",
                                  "x\nBcc: v@e.com"])
def test_fast_path_blocks_header_injection(field: str, evil: str) -> None:
    value = evil if field == "subject" else f"{evil} <a@example.com>"
    try:
        built = build_message_bytes(**invitation(**{field: value}))  # type: ignore[arg-type]
    except HeaderInjectionError:
        return
    parsed = email.message_from_bytes(built.raw)
    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in built.raw.split(b"\r\n\r\n", 1)[0]


def test_fast_message_parses_back() -> None:
    built = build_message_bytes(**invitation(to="张 伟 <zhang@example.cn>"))  # type: ignore[arg-type]
    parsed = email.message_from_bytes(built.raw, policy=email.policy.default)
    assert parsed["Message-ID"] == MID == built.message_id
    assert (built.sender, built.recipient) == ("invitations@trade-office.example.org",
                                               "zhang@example.cn")
    text = parsed.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "Dear Delegate,\n\nHello\n"
    [ics] = [p for p in parsed.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_content().replace("\r\n", "\n") == ICS.data.decode().replace("\r\n", "\n")
