"""Row ids in addresses and forms: whole numbers a database integer column can hold.

A larger number cannot name a row; passed on to the database it is an error there
(SQLite: Python int too large to convert; PostgreSQL: integer out of range), so addresses
and form fields refuse it first.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every id column


def valid_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


class IdConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, bounded to :data:`MAX_ID` unless a rule says otherwise:
    a larger number does not match the route (404). Digits are ASCII only: Werkzeug's
    ``\\d+`` also matches other scripts' digits (``/registrations/٣`` was row 3)."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
