"""CSV import of registrations: parse and check every row, preview, then all-or-nothing.

Rules:

* The file is UTF-8 CSV (a BOM is fine; the CSV export reads straight back in). The header
  names the columns, either by their code (``first_name``) or by the export's human header
  ("First name"); unknown columns (status, dates, ids) are ignored and listed.
* Every row goes through the same field checks as the public form (``RegistrantFields``) plus
  the email check. Sector, company size, language and interests may be given as codes or as
  their labels; interests are separated by ``;``.
* Duplicates by email (normalized, case-insensitive) are reported and skipped, never doubled:
  against the event's existing registrations and against earlier rows of the same file.
* Nothing is written unless every row is valid; then all the new rows are inserted in one
  transaction (no mail is sent to imported registrants).

No commits here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from werkzeug.datastructures import MultiDict

from ..choices import CALIFORNIA_COUNTIES, COMPANY_SIZES, INTERESTS, LANGUAGES, SECTORS
from ..extensions import db
from ..models import Event, ImportBatch, Organizer, Registration, utcnow, written_name
from ..registration.forms import RegistrantFields
from ..validation import normalize_email
from . import services
from .exports import undefuse

MAX_ROWS = 5000
FIELDS = ("company", "website", "sector", "company_size", "county", "first_name", "last_name",
          "job_title", "email", "phone", "interests", "delegates", "language", "notes")
REQUIRED = ("company", "sector", "company_size", "county", "first_name", "last_name", "email",
            "phone", "interests")
BATCH_TTL = dt.timedelta(hours=12)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, header, size)."""


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


def _aliases() -> dict[str, str]:
    from .exports import REGISTRATION_COLUMNS

    out = {_norm(name): name for name in FIELDS}
    out.update({_norm(c.header): c.key for c in REGISTRATION_COLUMNS if c.key in FIELDS})
    out.update({"email address": "email", "company name": "company", "phone number": "phone",
                "notes": "notes", "title": "job_title", "language": "language"})
    return out


def _lookup(pairs: list[tuple[str, str]], extra: dict[str, str] | None = None
            ) -> dict[str, str]:
    table = {_norm(code): code for code, _ in pairs}
    table.update({_norm(label): code for code, label in pairs})
    table.update(extra or {})
    return table


SECTOR_CODES = _lookup(SECTORS)
SIZE_CODES = _lookup(COMPANY_SIZES)
LANGUAGE_CODES = _lookup(LANGUAGES, {"english": "en", "chinese": "zh-Hans", "zh": "zh-Hans",
                                     "简体中文": "zh-Hans", "中文": "zh-Hans"})
INTEREST_CODES = _lookup(INTERESTS)
COUNTIES = {_norm(c): c for c in CALIFORNIA_COUNTIES}
# What the upload page lists for the coded columns (each takes the code or the English label;
# county takes any of CALIFORNIA_COUNTIES, with or without "County").
CODED_COLUMNS: list[tuple[str, list[tuple[str, str]]]] = [
    ("sector", SECTORS), ("company_size", COMPANY_SIZES), ("interests", INTERESTS),
    ("language", LANGUAGES)]
_CODED = {name for name, _values in CODED_COLUMNS} | {"county"}  # a value from a fixed list


@dataclass
class RowResult:
    line: int  # the row as a spreadsheet numbers it (the header is row 1), not the text line
    raw: dict[str, str]
    data: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    duplicate: str = ""  # why this row is skipped as a duplicate

    @property
    def status(self) -> str:
        return "error" if self.errors else "duplicate" if self.duplicate else "new"

    @property
    def name(self) -> str:
        """The name as the list will write it (王晓明, not 晓明 王)."""
        return written_name(self.raw.get("first_name", "").strip(),
                            self.raw.get("last_name", "").strip())


@dataclass
class Preview:
    rows: list[RowResult]
    ignored_columns: list[str]

    @property
    def new(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == "new"]

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.errors]

    @property
    def duplicates(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == "duplicate"]

    @property
    def can_commit(self) -> bool:
        return not self.errors and bool(self.new)


def decode(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("The file is not UTF-8 text. In Excel, save it as "
                           "“CSV UTF-8 (Comma delimited)”.") from exc
    if "\x00" in text:  # a spreadsheet or other binary file; no field can hold a NUL either
        raise ImportFileError("The file contains NUL characters, so it is not CSV text. In "
                              "Excel, save it as “CSV UTF-8 (Comma delimited)”.")
    return text


def _map_value(name: str, value: str) -> Any:
    # A CSV export reads straight back in: its "'=..." cells lose the apostrophe it added.
    value = undefuse(value).strip()
    if name == "sector":
        return SECTOR_CODES.get(_norm(value), value)
    if name == "company_size":
        return SIZE_CODES.get(_norm(value), value)
    if name == "language":
        return LANGUAGE_CODES.get(_norm(value), value) if value else "en"
    if name == "county":
        return COUNTIES.get(_norm(value.removesuffix(" County")), value)
    if name == "interests":
        return [INTEREST_CODES.get(_norm(p), p.strip())
                for p in value.replace(",", ";").split(";") if p.strip()]
    if name == "delegates":
        return value or "1"
    return value


def _error_text(name: str, cell: str, messages: list[Any]) -> str:
    """A field's error, naming the value of ``cell`` that caused it ("Not a valid choice."
    alone left the organizer to guess which value and why)."""
    text, value = " ".join(str(m) for m in messages), cell.strip()
    if not value or name == "email":  # empty, or the email: its row shows it already
        return text
    if name not in _CODED:
        return f"“{value[:80]}”: {text}"
    if name == "interests":  # the items of the cell that are not accepted
        known = {code for code, _label in INTERESTS}
        value = "; ".join(item for item in _map_value(name, value) if item not in known) \
            or value
    return f"“{value}” is not one of the accepted values (listed on the upload page)."


def _check_row(line: int, raw: dict[str, str]) -> RowResult:
    result = RowResult(line, raw)
    formdata = MultiDict()
    for name in FIELDS:
        if name == "email":
            continue
        value = _map_value(name, raw.get(name, ""))
        if isinstance(value, list):
            for item in value:
                formdata.add(name, item)
        else:
            formdata.add(name, value)
    form = RegistrantFields(formdata=formdata, meta={"csrf": False})
    valid = form.validate()
    for name, messages in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        result.errors.append(f"{label}: {_error_text(name, raw.get(name) or '', messages)}")
    email = raw.get("email", "").strip()
    try:
        email = normalize_email(email) if email else ""
        if not email:
            result.errors.append("Email: Email is required.")
    except ValueError as exc:
        result.errors.append(f"Email: {exc}")
        email = ""
    if valid and email and not result.errors:
        result.data = {**form.registrant_data(), "email": email}
    return result


def parse(event: Event, text: str) -> Preview:
    """Check every row of ``text`` against the rules and the event's registrations."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(f"The file is not valid CSV: {exc}.") from exc
    aliases = _aliases()
    columns: list[str | None] = []
    ignored = []
    for name in header:
        key = aliases.get(_norm(name.lstrip("\ufeff")))
        if key is None or key in columns:
            ignored.append(name)
            key = None
        columns.append(key)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError("The header row lacks the columns: " + ", ".join(missing) +
                           ". Start from a CSV export of the list, or use these names.")
    rows: list[RowResult] = []
    try:
        # Rows are numbered as Excel shows them: a cell with a line break inside is still
        # one row (reader.line_num counts text lines, and was off after such a cell).
        for number, raw_row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in raw_row):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportFileError(f"The file has more than {MAX_ROWS} rows; split it.")
            raw = {key: cell for key, cell in zip(columns, raw_row, strict=False) if key}
            result = _check_row(number, raw)
            if len(raw_row) > len(columns):
                result.errors.append("This row has more cells than the header.")
                result.data = None
            rows.append(result)
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV: {exc}.") from exc
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    _mark_duplicates(event, rows)
    return Preview(rows, ignored)


def _mark_duplicates(event: Event, rows: list[RowResult]) -> None:
    emails = {r.data["email"].lower() for r in rows if r.data}
    existing: set[str] = set()
    batch = sorted(emails)
    for start in range(0, len(batch), 500):
        existing.update(db.session.scalars(select(Registration.email_normalized).where(
            Registration.event_id == event.id,
            Registration.email_normalized.in_(batch[start:start + 500]))))
    seen: dict[str, int] = {}
    for row in rows:
        if not row.data:
            continue
        key = row.data["email"].lower()
        if key in existing:
            row.duplicate = f"{row.data['email']} is already registered for this event."
        elif key in seen:
            row.duplicate = f"Same email as row {seen[key]} of this file."
        else:
            seen[key] = row.line


def stage(event: Event, organizer: Organizer, filename: str, text: str) -> ImportBatch:
    """Keep an uploaded file until its preview is confirmed (older leftovers are dropped)."""
    db.session.execute(delete(ImportBatch).where(ImportBatch.created_at < utcnow() - BATCH_TTL))
    batch = ImportBatch(token=secrets.token_urlsafe(24), event_id=event.id,
                        organizer_id=organizer.id, content=text,
                        filename="".join(c for c in filename if c.isprintable())[:200]
                        or "upload.csv")
    db.session.add(batch)
    db.session.flush()
    return batch


def get_batch(event: Event, organizer: Organizer, token: str) -> ImportBatch | None:
    """The organizer's own staged upload for this event, or None."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(ImportBatch).where(
        ImportBatch.token == token, ImportBatch.event_id == event.id,
        ImportBatch.organizer_id == organizer.id))


@dataclass
class CommitResult:
    imported: int
    skipped_duplicates: int
    preview: Preview


def commit(event: Event, organizer: Organizer, batch: ImportBatch) -> CommitResult:
    """Re-check the staged file against the database as it is now and insert its new rows.

    Raises :class:`ImportRejected` (nothing written) when any row has an error now.
    """
    preview = parse(event, batch.content)
    if preview.errors:
        raise ImportRejected(preview)
    imported = services.bulk_insert_registrations(
        event, [r.data for r in preview.new if r.data], organizer)
    db.session.delete(batch)
    return CommitResult(imported, len(preview.duplicates), preview)


class ImportRejected(ValueError):
    def __init__(self, preview: Preview) -> None:
        super().__init__(f"{len(preview.errors)} rows have errors; nothing was imported.")
        self.preview = preview
