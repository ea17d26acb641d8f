"""Attendee-list exports: a pure ``(headers, rows)`` table plus one writer per format.

* :func:`registration_table` turns an event and the list filters into a :class:`Table`: the
  human headers and a lazy iterator of row tuples read from a server-side cursor
  (``yield_per``), so memory does not grow with the number of rows.
* Writers: :func:`csv_chunks` (UTF-8 with BOM, RFC 4180, CRLF), :func:`write_xlsx`
  (XlsxWriter in ``constant_memory`` mode: styled and frozen header, real dates, autofilter),
  :func:`json_chunks` (an array of objects, ISO-8601 dates).
* :func:`record_export` / :func:`complete_export`: the export log (who, when, which event,
  filters, format, row count).

Formula injection (OWASP "CSV Injection"):

* CSV: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return (or their
  full-width forms, which some East-Asian Excel locales also treat as formulas; or any of them
  after leading spaces) gets a leading ``'`` so the spreadsheet shows it as text. A cell that
  is *only* a signed number (``+12135550142``, ``-5``, ``+3.5``) is left as it is: it cannot
  call anything, and prefixing it would corrupt every E.164 phone number for the programs
  that read the CSV as data. (Excel may *display* such a phone as a number; the XLSX export,
  where phones are text cells, is the one to open in Excel.)
* XLSX: every string is written as a string cell (``strings_to_formulas`` off), never as a
  formula, so ``=HYPERLINK(...)`` is inert text and needs no prefix; values stay exact.

To add columns (the invitations feature adds RSVP columns), append :class:`Column` objects
whose ``needs`` name the SQL expressions they read and ``joins`` the outer joins they need,
and pass them as ``columns=``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import func, select

from ..choices import COMPANY_SIZES, INTERESTS, LANGUAGES, SECTORS, STATUSES
from ..extensions import db
from ..models import Event, ExportRecord, Organizer, Registration, utcnow
from .services import ListFilters, filter_conditions, ordered

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
YIELD_PER = 2000

# --- formula injection ------------------------------------------------------------------------

_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")


def defuse(value: str) -> str:
    """Make a CSV text cell safe to open in a spreadsheet (see the module docstring)."""
    if not value:
        return value
    first = value[0]
    if first in _TRIGGERS or (first in " \n" and value.lstrip(" \n")[:1] in _TRIGGERS):
        if first in "+-" and _PLAIN_NUMBER.match(value):
            return value
        return "'" + value
    return value


# --- the table ------------------------------------------------------------------------------

TEXT, INT, DATETIME = "text", "int", "datetime"


@dataclass(frozen=True)
class Column:
    key: str  # JSON key, stable
    header: str  # CSV/XLSX header, stable and human
    kind: str  # TEXT, INT or DATETIME (aware UTC)
    needs: tuple[Any, ...]  # SQL expressions this column reads
    value: Callable[[Any], Any]  # row -> cell value
    width: int = 16  # XLSX column width
    joins: tuple[tuple[Any, Any], ...] = ()  # (target, onclause) outer joins


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _labelled(name: str, pairs: list[tuple[str, str]]) -> Callable[[Any], Any]:
    labels = dict(pairs)
    return lambda row: labels.get(getattr(row, name), getattr(row, name))


def _interests(row: Any) -> str:
    return "; ".join(label for code, label in INTERESTS if getattr(row, f"interest_{code}"))


def _col(key: str, header: str, kind: str = TEXT, width: int = 16,
         value: Callable[[Any], Any] | None = None, needs: tuple[Any, ...] | None = None
         ) -> Column:
    return Column(key, header, kind, needs or (getattr(Registration, key),),
                  value or _attr(key), width)


REGISTRATION_COLUMNS: list[Column] = [
    _col("id", "Registration ID", INT, 10),
    _col("status", "Status", value=_labelled("status", STATUSES), width=12),
    _col("company", "Company", width=32),
    _col("website", "Website", width=28),
    _col("sector", "Sector", value=_labelled("sector", SECTORS), width=30),
    _col("company_size", "Company size", value=_labelled("company_size", COMPANY_SIZES)),
    _col("county", "County", width=16),
    _col("first_name", "First name"),
    _col("last_name", "Last name"),
    _col("job_title", "Job title", width=22),
    _col("email", "Email", width=32),
    _col("phone", "Phone", width=16),
    _col("interests", "Interests", value=_interests, width=40,
         needs=tuple(getattr(Registration, f"interest_{c}") for c, _ in INTERESTS)),
    _col("delegates", "Delegates", INT, 10),
    _col("language", "Preferred language", value=_labelled("language", LANGUAGES)),
    _col("notes", "Registrant notes", width=40),
    _col("source", "Source", width=10),
    _col("created_at", "Registered at (UTC)", DATETIME, 20),
    _col("updated_at", "Updated at (UTC)", DATETIME, 20),
    _col("consent_at", "Consent given at (UTC)", DATETIME, 20),
    _col("consent_notice_version", "Privacy notice version", width=14),
]


@dataclass
class Table:
    """Headers, column kinds and a lazy row iterator (the pure part of an export)."""

    columns: Sequence[Column]
    rows: Iterator[tuple[Any, ...]]
    count: int = 0  # rows produced so far
    _done: bool = field(default=False, repr=False)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self.rows:
            self.count += 1
            yield row
        self._done = True


def _statement(event_id: int, filters: ListFilters, columns: Sequence[Column]) -> Any:
    needs: dict[str, Any] = {}
    joins: dict[str, tuple[Any, Any]] = {}
    for column in columns:
        for expr in column.needs:
            needs.setdefault(expr.key, expr)
        for target, onclause in column.joins:
            joins.setdefault(str(target), (target, onclause))
    stmt = select(*needs.values()).select_from(Registration)
    for target, onclause in joins.values():
        stmt = stmt.outerjoin(target, onclause)
    return ordered(stmt.where(*filter_conditions(event_id, filters)), filters)


def registration_table(event_id: int, filters: ListFilters,
                       columns: Sequence[Column] = REGISTRATION_COLUMNS) -> Table:
    """The event's registrations matching ``filters``, in list order, as a lazy table.

    Takes the event's id, not the ORM object: the rows are read when the table is iterated,
    which for a streamed response is after the request's session has been committed.
    """
    stmt = _statement(event_id, filters, columns).execution_options(yield_per=YIELD_PER)
    getters = [c.value for c in columns]

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in db.session.execute(stmt):
            yield tuple(get(row) for get in getters)

    return Table(columns, rows())


def count_rows(event_id: int, filters: ListFilters) -> int:
    return db.session.scalar(select(func.count(Registration.id))
                             .where(*filter_conditions(event_id, filters))) or 0


# --- writers ----------------------------------------------------------------------------------

def _csv_cell(kind: str, value: Any) -> Any:
    if value is None:
        return ""
    if kind == DATETIME:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if kind == INT:
        return value
    return defuse(str(value))


def csv_chunks(table: Table, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The table as CSV bytes: UTF-8 with BOM (Excel then reads Chinese names right),
    RFC 4180 quoting, CRLF line ends, formula-looking cells defused."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(table.headers)
    kinds = [c.kind for c in table.columns]
    n = 0
    for row in table:
        writer.writerow([_csv_cell(k, v) for k, v in zip(kinds, row, strict=True)])
        n += 1
        if n >= rows_per_chunk:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
            n = 0
    yield buf.getvalue().encode("utf-8")


def _json_value(kind: str, value: Any) -> Any:
    if value is not None and kind == DATETIME:
        return value.astimezone(dt.UTC).isoformat()
    return value


def json_chunks(table: Table, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The table as a JSON array of objects keyed by the columns' stable keys."""
    keys = [c.key for c in table.columns]
    kinds = [c.kind for c in table.columns]
    parts: list[str] = ["["]
    first = True
    for row in table:
        obj = {k: _json_value(kind, v) for k, kind, v in zip(keys, kinds, row, strict=True)}
        parts.append(("\n" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts).encode("utf-8")
            parts = []
    parts.append("\n]\n")
    yield "".join(parts).encode("utf-8")


def write_xlsx(table: Table, target: str | IO[bytes], sheet_name: str = "Registrations") -> int:
    """Write the table as an XLSX workbook to a path or binary file; return the row count.

    XlsxWriter's ``constant_memory`` mode flushes each row to a temporary file as soon as the
    next one starts, so memory stays flat; the workbook is assembled on close.
    """
    from xlsxwriter import Workbook

    workbook = Workbook(target, {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "default_date_format": "yyyy-mm-dd hh:mm:ss",
        "remove_timezone": False,
    })
    sheet = workbook.add_worksheet(sheet_name[:31])
    header = workbook.add_format({"bold": True, "bg_color": "#8C1D18", "font_color": "#FFFFFF",
                                  "border": 1, "text_wrap": True, "valign": "top"})
    columns = list(table.columns)
    for i, column in enumerate(columns):
        sheet.set_column(i, i, column.width)
    sheet.set_row(0, 30)
    sheet.write_row(0, 0, table.headers, header)
    sheet.freeze_panes(1, 0)
    kinds = [c.kind for c in columns]
    datetime_cols = [i for i, k in enumerate(kinds) if k == DATETIME]
    write_row = sheet.write_row
    r = 0
    for r, row in enumerate(table, 1):  # noqa: B007 - r is the last row number afterwards
        if datetime_cols:
            values = list(row)
            for i in datetime_cols:
                if values[i] is not None:
                    values[i] = values[i].astimezone(dt.UTC).replace(tzinfo=None)
            write_row(r, 0, values)
        else:
            write_row(r, 0, row)
    sheet.autofilter(0, 0, max(r, 1), len(columns) - 1)
    workbook.close()
    return r


# --- filenames and the export log ---------------------------------------------------------------

def filename_for(event: Event, fmt: str, filters: ListFilters,
                 today: dt.date | None = None) -> str:
    """``<event-slug>-registrations[-<status>]-<YYYY-MM-DD>.<fmt>`` (ASCII only)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", event.slug.lower()).strip("-") or "event"
    status = f"-{filters.status}" if filters.status else ""
    day = (today or utcnow().date()).isoformat()
    return f"{slug}-registrations{status}-{day}.{fmt}"


def record_export(event: Event, fmt: str, filters: ListFilters, *, row_count: int,
                  filename: str, organizer: Organizer | None = None,
                  actor: str | None = None) -> ExportRecord:
    """Log an export before any byte of it leaves (flushes; the caller commits)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    record = ExportRecord(
        organizer_id=organizer.id if organizer else None,
        actor=actor or (organizer.email if organizer else "unknown"),
        event_id=event.id, event_slug=event.slug, format=fmt,
        filters=json.dumps(filters.criteria(), sort_keys=True, ensure_ascii=False),
        row_count=row_count, filename=filename)
    db.session.add(record)
    db.session.flush()
    return record


def complete_export(record_id: int, row_count: int) -> None:
    """Mark a logged export as fully written, with the number of rows that went out."""
    record = db.session.get(ExportRecord, record_id)
    if record is not None:
        record.row_count = row_count
        record.completed_at = utcnow()


def recent_exports(limit: int = 200) -> list[ExportRecord]:
    return list(db.session.scalars(
        select(ExportRecord).order_by(ExportRecord.at.desc(), ExportRecord.id.desc())
        .limit(limit)))
