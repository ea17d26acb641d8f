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
import itertools
import json
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import DateTime, String, case, func, literal, select, type_coerce

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


def undefuse(value: str) -> str:
    """The value :func:`defuse` was given, for a cell it defused; any other value as it is
    (a name that really begins with an apostrophe keeps it)."""
    if value.startswith("'") and defuse(value[1:]) == value:
        return value[1:]
    return value


# --- the table ------------------------------------------------------------------------------

TEXT, INT, DATETIME = "text", "int", "datetime"


@dataclass(frozen=True)
class Column:
    """One export column.

    ``needs`` are the SQL expressions it reads; ``value`` (optional) turns their values into
    the cell value, called with them as positional arguments. Without ``value`` the cell is
    the first need's value as it is.
    """

    key: str  # JSON key, stable
    header: str  # CSV/XLSX header, stable and human
    kind: str  # TEXT, INT or DATETIME (UTC: aware, or naive meaning UTC)
    needs: tuple[Any, ...]
    value: Callable[..., Any] | None = None
    width: int = 16  # XLSX column width
    joins: tuple[tuple[Any, Any], ...] = ()  # (target, onclause) outer joins
    # False for a TEXT column whose every possible value is known and harmless (labels of
    # CHECK-constrained codes, lists of fixed labels): the CSV writer then skips its scan.
    # tests/test_exports.py proves every such value is left alone by defuse().
    free_text: bool = True


def _labelled(key: str, pairs: list[tuple[str, str]]) -> Any:
    """SQL: the label of a stored code (the code itself when unknown)."""
    column = getattr(Registration, key)
    return case(dict(pairs), value=column, else_=column).label(key)


def _interests_sql() -> Any:
    """SQL: the labels of the ticked interests, joined with "; "."""
    parts = [case((getattr(Registration, f"interest_{code}"), literal(f"{label}; ")),
                  else_=literal("")) for code, label in INTERESTS]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.concat(part)
    return func.rtrim(joined, "; ", type_=String).label("interests")


def _col(key: str, header: str, kind: str = TEXT, width: int = 16, sql: Any = None,
         free_text: bool = True) -> Column:
    return Column(key, header, kind, (sql if sql is not None else getattr(Registration, key),),
                  None, width, free_text=free_text)


# Labels and the interests list are computed by the database (CASE expressions): the rows
# then come out ready, with no per-row Python work.
REGISTRATION_COLUMNS: list[Column] = [
    _col("id", "Registration ID", INT, 10),
    _col("status", "Status", sql=_labelled("status", STATUSES), width=12, free_text=False),
    _col("company", "Company", width=32),
    _col("website", "Website", width=28),
    _col("sector", "Sector", sql=_labelled("sector", SECTORS), width=30),
    _col("company_size", "Company size", sql=_labelled("company_size", COMPANY_SIZES)),
    _col("county", "County", width=16),
    _col("first_name", "First name"),
    _col("last_name", "Last name"),
    _col("job_title", "Job title", width=22),
    _col("email", "Email", width=32),
    _col("phone", "Phone", width=16),
    _col("interests", "Interests", sql=_interests_sql(), width=40, free_text=False),
    _col("delegates", "Delegates", INT, 10),
    _col("language", "Preferred language", sql=_labelled("language", LANGUAGES),
         free_text=False),
    _col("notes", "Registrant notes", width=40),
    _col("source", "Source", width=10),
    _col("created_at", "Registered at (UTC)", DATETIME, 20),
    _col("updated_at", "Updated at (UTC)", DATETIME, 20),
    _col("consent_at", "Consent given at (UTC)", DATETIME, 20),
    _col("consent_notice_version", "Privacy notice version", width=14),
]


Transform = tuple[int, Callable[..., Any], tuple[int, ...]]


@dataclass
class Table:
    """Headers, column kinds and a lazy row iterator (the pure part of an export).

    Writers read ``rows`` once and set ``count`` to the number of rows they wrote.
    """

    columns: Sequence[Column]
    rows: Iterable[tuple[Any, ...]]
    count: int = 0
    # True when every DATETIME value is naive UTC in whole seconds (or None), as
    # registration_table() produces them: the CSV writer can then leave them to the csv module.
    naive_datetimes: bool = False
    # For the CSV writer: ``batches(size)`` reads the same rows in lists of up to ``size``
    # straight from the database driver's cursor (no SQLAlchemy row objects), DATETIME cells
    # possibly as their "YYYY-MM-DD HH:MM:SS" text (str() of the naive datetime is the same
    # text). Only set with naive_datetimes. None: the writer reads ``rows``.
    batches: Callable[[int], Iterator[Sequence[tuple[Any, ...]]]] | None = None

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self.rows:
            self.count += 1
            yield row


class _Query:
    """Rows of a statement, executed when first iterated (after the caller's commit)."""

    def __init__(self, stmt: Any, width: int, transforms: list[Transform]) -> None:
        self.stmt, self.width, self.transforms = stmt, width, transforms

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # Through the session's connection (same transaction), as a Core statement; yield_per
        # streams it from a server-side cursor on PostgreSQL and in batches on SQLite.
        result = db.session.connection().execute(
            self.stmt, execution_options={"yield_per": YIELD_PER})
        if not self.transforms and len(result.keys()) == self.width:
            return map(tuple, result)  # no per-row Python frame at all
        return self._transformed(result)

    def batches(self, size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
        """The rows in lists of up to ``size`` from the DBAPI cursor of the session's connection.

        The SQL is the statement as SQLAlchemy compiles it for this dialect, with its
        parameters bound as SQLAlchemy would (type processors, positional order). On
        PostgreSQL the cursor is a named (server-side) one and each batch is one FETCH; the
        sqlite3 cursor steps through the result as it is fetched. Either way memory holds one
        batch. Only for statements whose rows need no Python work (no transforms).
        """
        conn = db.session.connection()  # same transaction as the rest of the request
        dialect = conn.dialect
        compiled = self.stmt.compile(dialect=dialect)
        params = _driver_params(compiled, dialect)
        if params is None:  # parameters only SQLAlchemy's execution knows how to expand
            result = conn.execute(self.stmt, execution_options={"yield_per": size})
            for part in result.partitions():
                yield [tuple(row) for row in part]
            return
        dbapi = conn.connection  # the pool's proxy of the DBAPI connection
        if dialect.name == "postgresql":
            cursor = dbapi.driver_connection.cursor(name=f"ciie_export_{uuid.uuid4().hex}")
        else:
            cursor = dbapi.cursor()
        try:
            cursor.execute(compiled.string, params)
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()

    def _transformed(self, result: Any) -> Iterator[tuple[Any, ...]]:
        width = self.width
        simple = [(i, fn) for i, fn, positions in self.transforms if len(positions) == 1]
        multi = [(i, fn, positions) for i, fn, positions in self.transforms
                 if len(positions) > 1]
        for row in result:
            values = list(row[:width])
            for i, fn in simple:
                values[i] = fn(values[i])
            for i, fn, positions in multi:
                values[i] = fn(*[row[p] for p in positions])
            yield tuple(values)


def _driver_params(compiled: Any, dialect: Any) -> Any:
    """The compiled statement's parameters as the DBAPI takes them (a list for positional
    paramstyles, else a dict), after each bind type's processor; None when a parameter needs
    SQLAlchemy's execution-time rendering (expanding IN lists, literal execution)."""
    if getattr(compiled, "escaped_bind_names", None):
        return None
    binds = compiled.binds
    values = compiled.construct_params()
    processed: dict[str, Any] = {}
    for name, value in values.items():
        bind = binds.get(name)
        if bind is None or bind.expanding or bind.literal_execute:
            return None
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        processed[name] = process(value) if process is not None else value
    if compiled.positiontup is not None:
        return [processed[name] for name in compiled.positiontup]
    return processed


def _core(expr: Any) -> Any:
    """The Core column behind an ORM attribute (Core results skip the ORM's row loading)."""
    return getattr(expr, "expression", expr)


def _plan(columns: Sequence[Column]) -> tuple[list[Any], list[Transform]]:
    """The select list and the per-row work.

    The first need of column ``i`` is selected at position ``i`` (so a plain column is
    copied by position); further needs follow at the end. Returns the expressions and, for
    the columns with a ``value`` function, ``(position, function, positions of its needs)``.
    """
    exprs: list[Any] = [_core(c.needs[0]) for c in columns]
    extra: dict[str, int] = {}
    transforms: list[Transform] = []
    for i, column in enumerate(columns):
        positions = [i]
        for expr in column.needs[1:]:
            if expr.key not in extra:
                extra[expr.key] = len(exprs)
                exprs.append(_core(expr))
            positions.append(extra[expr.key])
        if column.value is not None:
            transforms.append((i, column.value, tuple(positions)))
    return exprs, transforms


def _statement(event_id: int, filters: ListFilters, exprs: list[Any],
               columns: Sequence[Column]) -> Any:
    joins: dict[str, tuple[Any, Any]] = {}
    for column in columns:
        for target, onclause in column.joins:
            joins.setdefault(str(target), (target, onclause))
    stmt = select(*exprs).select_from(Registration)
    for target, onclause in joins.values():
        stmt = stmt.outerjoin(target, onclause)
    return ordered(stmt.where(*filter_conditions(event_id, filters)), filters)


def registration_table(event_id: int, filters: ListFilters,
                       columns: Sequence[Column] = REGISTRATION_COLUMNS) -> Table:
    """The event's registrations matching ``filters``, in list order, as a lazy table.

    Takes the event's id, not the ORM object: the rows are read when the table is iterated,
    which for a streamed response is after the request's session has been committed.
    """
    exprs, transforms = _plan(columns)
    dialect = db.session.get_bind().dialect.name
    plain_dates = [i for i, c in enumerate(columns) if c.kind == DATETIME and c.value is None]
    for i in plain_dates:
        exprs[i] = _utc_seconds(exprs[i], dialect)
    stmt = _statement(event_id, filters, exprs, columns)
    naive = len(plain_dates) == sum(1 for c in columns if c.kind == DATETIME)
    query = _Query(stmt, len(columns), transforms)
    raw = naive and not transforms and len(exprs) == len(columns)
    return Table(columns, query, naive_datetimes=naive, batches=query.batches if raw else None)


def _utc_seconds(expr: Any, dialect: str) -> Any:
    """SQL: a UTC timestamp column as a naive UTC datetime in whole seconds.

    Done by the database so that rows need no per-value Python work: SQLite stores UTC as
    text (the first 19 characters are the seconds), PostgreSQL converts and truncates.
    """
    if dialect == "sqlite":
        return type_coerce(func.substr(expr, 1, 19), DateTime()).label(expr.key)
    return func.date_trunc("second", func.timezone("UTC", expr),
                           type_=DateTime()).label(expr.key)


def count_rows(event_id: int, filters: ListFilters) -> int:
    return db.session.scalar(select(func.count(Registration.id))
                             .where(*filter_conditions(event_id, filters))) or 0


# --- writers ----------------------------------------------------------------------------------

_RISKY_FIRST = _TRIGGERS | {" ", "\n"}
# A cell (each preceded by \x1f) that defuse() would change: a trigger, possibly after spaces
# or newlines, except a sign followed by a plain number and the end of the cell. Starting
# with a literal lets the regex engine skip ahead quickly.
_RISKY_CELL = re.compile(
    "\x1f(?:[=@\t\r\uff1d\uff0b\uff0d\uff20]|[ \n]+[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]"
    "|[+\\-](?![0-9]+(?:\\.[0-9]+)?(?:\x1f|\\Z)))")


def _utc_naive(value: dt.datetime) -> dt.datetime:
    """A DATETIME cell as naive UTC (table values are aware, or naive meaning UTC)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _batched(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


class _CsvDefuser:
    """Defuses the text cells of a batch of rows with one regex scan of the whole batch.

    All text cells of the batch are joined into one string, each preceded by ``\x1f``;
    :data:`_RISKY_CELL` finds the cells that :func:`defuse` would change, and only those cells
    are rewritten (a hit's number of preceding separators gives its row and column). A batch
    where a value itself contains ``\x1f``, or where a text cell is not a string, is done
    cell by cell with :func:`defuse`, as are DATETIME cells that need converting.
    """

    def __init__(self, columns: Sequence[Column], date_cols: Sequence[int]) -> None:
        self.text_cols = [i for i, c in enumerate(columns) if c.kind == TEXT and c.free_text]
        self.date_cols = list(date_cols)
        n = len(self.text_cols)
        if n == 1:
            only = self.text_cols[0]
            self.pick: Callable[[Any], Any] = lambda row: (row[only],)
        elif n:
            self.pick = operator.itemgetter(*self.text_cols)

    def __call__(self, batch: Sequence[tuple[Any, ...]]) -> Sequence[Sequence[Any]]:
        ntext = len(self.text_cols)
        if self.date_cols:
            return [self.cell_by_cell(row) for row in batch]
        if not ntext or not batch:
            return batch
        cells = itertools.chain.from_iterable(map(self.pick, batch))
        try:
            joined = "\x1f" + "\x1f".join(cells)
        except TypeError:  # NULLs (written as empty cells), or a value that is not a string
            try:
                joined = "\x1f" + "\x1f".join(
                    ["" if v is None else v
                     for v in itertools.chain.from_iterable(map(self.pick, batch))])
            except TypeError:
                return [self.cell_by_cell(row) for row in batch]
        if joined.count("\x1f") != len(batch) * ntext:  # a value contains the separator
            return [self.cell_by_cell(row) for row in batch]
        out: list[Any] | None = None
        seen = pos = 0
        text_cols = self.text_cols
        for match in _RISKY_CELL.finditer(joined):
            start = match.start() + 1
            seen += joined.count("\x1f", pos, start)
            pos = start
            r, c = divmod(seen - 1, ntext)
            if out is None:
                out = list(batch)
            row = out[r]
            if type(row) is not list:
                row = out[r] = list(row)
            i = text_cols[c]
            row[i] = "'" + row[i]  # what defuse() does to exactly the cells _RISKY_CELL finds
        return batch if out is None else out

    def cell_by_cell(self, row: Sequence[Any]) -> list[Any]:
        cells = list(row)  # None is written as an empty cell by the csv module
        for i in self.text_cols:
            v = cells[i]
            if v and v[0] in _RISKY_FIRST:
                cells[i] = defuse(v)
        for i in self.date_cols:
            v = cells[i]
            if v is not None:
                cells[i] = _utc_naive(v).isoformat(" ", "seconds")
        return cells


def csv_chunks(table: Table, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The table as CSV bytes: UTF-8 with BOM (Excel then reads Chinese names right),
    RFC 4180 quoting, CRLF line ends, formula-looking cells defused.

    Works in batches of ``rows_per_chunk`` rows (one chunk each): read from the driver's
    cursor when the table offers ``batches``, defused with one scan per batch, written with
    one ``writerows`` call. Each chunk gets a new ``StringIO``: one emptied with
    ``seek(0)``/``truncate()`` leaves its fast append-only mode, which made writing ~15%
    slower.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(table.headers)
    kinds = [c.kind for c in table.columns]
    date_cols = [] if table.naive_datetimes else [i for i, k in enumerate(kinds) if k == DATETIME]
    defuse_batch = _CsvDefuser(table.columns, date_cols)
    if table.batches is not None and table.naive_datetimes:
        batches: Iterable[Sequence[tuple[Any, ...]]] = table.batches(rows_per_chunk)
    else:
        batches = _batched(table.rows, rows_per_chunk)
    count = pending = 0
    for batch in batches:
        writer.writerows(defuse_batch(batch))
        count += len(batch)
        pending += len(batch)
        if pending >= rows_per_chunk:
            yield buf.getvalue().encode("utf-8")
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            pending = 0
    table.count = count
    yield buf.getvalue().encode("utf-8")


def _json_value(kind: str, value: Any) -> Any:
    if value is not None and kind == DATETIME:
        return _utc_naive(value).isoformat() + "+00:00"
    return value


def json_chunks(table: Table, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The table as a JSON array of objects keyed by the columns' stable keys."""
    keys = [c.key for c in table.columns]
    kinds = [c.kind for c in table.columns]
    parts: list[str] = ["["]
    count = 0
    for count, row in enumerate(table.rows, 1):  # noqa: B007 - count is used afterwards
        obj = {k: _json_value(kind, v) for k, kind, v in zip(keys, kinds, row, strict=True)}
        parts.append(("\n" if count == 1 else ",\n") + json.dumps(obj, ensure_ascii=False))
        if len(parts) >= rows_per_chunk:
            yield "".join(parts).encode("utf-8")
            parts = []
    table.count = count
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
    datetime_cols = [] if table.naive_datetimes else [
        i for i, k in enumerate(kinds) if k == DATETIME]
    write_row = sheet.write_row
    r = 0
    for r, row in enumerate(table.rows, 1):  # noqa: B007 - r is the last row number afterwards
        if datetime_cols:
            values = list(row)
            for i in datetime_cols:
                if values[i] is not None:
                    values[i] = _utc_naive(values[i])
            write_row(r, 0, values)
        else:
            write_row(r, 0, row)
    table.count = r
    sheet.autofilter(0, 0, max(r, 1), len(columns) - 1)
    workbook.close()
    return r


# --- filenames and the export log ---------------------------------------------------------------

def filename_for(event: Event, fmt: str, filters: ListFilters,
                 today: dt.date | None = None) -> str:
    """``<event-slug>-registrations[-<status>][-<rsvp>][-filtered]-<YYYY-MM-DD>.<fmt>``
    (ASCII only).

    ``filtered`` when anything but the status narrows the list (a search, a county, dates),
    so that a partial list is not saved under the name of the whole one.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", event.slug.lower()).strip("-") or "event"
    status = f"-{filters.status}" if filters.status else ""
    # the invitation answer, as "accepted" or "not-invited": who is coming, by name
    rsvp = f"-{filters.rsvp.replace('_', '-')}" if filters.rsvp else ""
    narrowed = "-filtered" if set(filters.criteria()) - {"status", "rsvp"} else ""
    day = (today or utcnow().date()).isoformat()
    return f"{slug}-registrations{status}{rsvp}{narrowed}-{day}.{fmt}"


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
