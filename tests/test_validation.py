"""``has_control_chars`` refuses exactly what its definition says, for every code point.

The check is one regular-expression character class; the definition it must match is
Unicode's categories Cc, Cs, Zl and Zp plus U+FEFF, U+FFFE and U+FFFF, with tab, line feed
and carriage return allowed in multi-line text.
"""

from __future__ import annotations

import sys
import unicodedata

from ciie_rsvp.validation import has_control_chars


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
