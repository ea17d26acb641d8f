"""``has_control_chars`` refuses exactly what its definition says, for every code point.

The check is one regular-expression character class; the definition it must match is
Unicode's categories Cc, Cs, Zl and Zp plus U+FEFF, U+FFFE and U+FFFF, with tab, line feed
and carriage return allowed in multi-line text.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from ciie_rsvp.validation import has_control_chars, normalize_email


def _refused_by_definition(ch: str, multiline: bool) -> bool:
    if multiline and ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in "\ufeff\ufffe\uffff"


def test_every_code_point_is_judged_as_the_definition_says():
    for multiline in (False, True):
        wrong = [hex(cp) for cp in range(sys.maxunicode + 1)
                 if has_control_chars(chr(cp), multiline=multiline)
                 != _refused_by_definition(chr(cp), multiline)]
        assert wrong == [], (multiline, wrong[:20])


def test_in_context():
    assert not has_control_chars("Golden State Almond Growers, Inc. 金州杏仁")
    assert has_control_chars("Almonds\x00") and has_control_chars("line\nbreak")
    assert not has_control_chars("line\r\nbreak\tand tab", multiline=True)
    assert has_control_chars("bell\x07", multiline=True)
    assert has_control_chars("sep\u2028arator", multiline=True)
    assert has_control_chars("\ufeffbom") and not has_control_chars("")


@pytest.mark.parametrize(("address", "reason"), [
    ("foo", "it needs an @ sign"),
    ("foo@", "something must come after the @"),
    ("@example.com", "something must come before the @"),
    ("a@b", "the part after the @ must be a domain such as example.com"),
    ("a..b@example.com", "a period is misplaced"),
    ("ü@example.com", "use only Latin letters, digits and . _ - + before the @"),
    ("a b@example.com", "it contains characters that are not allowed"),
    ("a@-example.com", "a hyphen is misplaced"),
])
def test_an_invalid_address_is_explained_in_words_both_languages_have(app, address, reason):
    """email-validator's reasons are English only; a Chinese page used to show them as they
    were, in the middle of a Chinese sentence."""
    with app.test_request_context(), pytest.raises(ValueError) as refused:
        normalize_email(address)
    assert str(refused.value) == f"Enter a valid email address ({reason})."
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}), \
            pytest.raises(ValueError) as refused:
        normalize_email(address)
    message = str(refused.value)
    assert message.startswith("请输入有效的电子邮箱地址（")
    assert not re.search(r"[A-Za-z]{3,}", message.replace("example.com", "")), message
