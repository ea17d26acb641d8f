"""Engine set-up per backend and the few portable write helpers the services share.

SQLite: WAL, a busy timeout, foreign keys, and write transactions that take the write lock up
front (``BEGIN IMMEDIATE``); a deferred transaction that reads and then writes fails with
"database is locked" when another process wrote in between. A request that may write (POST and
friends) and the outbox worker mark themselves with :func:`immediate_transactions`.

PostgreSQL: a statement timeout on every connection.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Table, event, insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert

from .extensions import db

log = logging.getLogger(__name__)

SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000

_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("immediate", default=False)


@contextlib.contextmanager
def immediate_transactions() -> Iterator[None]:
    """Within this block, SQLite transactions begin with ``BEGIN IMMEDIATE``."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


@contextlib.contextmanager
def deferred_transactions() -> Iterator[None]:
    """Within this block, SQLite transactions begin deferred, even in a POST request.

    For long reads after a request's writes (streaming an export): a deferred transaction
    does not hold the write lock, so registrations keep coming in meanwhile. Also for the
    read-and-validate part of a write request: the write lock is then taken only for the
    write itself (end the read transaction with a rollback before writing).
    """
    token = _immediate.set(False)
    try:
        yield
    finally:
        _immediate.reset(token)


def mark_immediate() -> contextvars.Token[bool]:
    """Make the rest of this request begin SQLite transactions immediately.

    Worker threads serve many requests in the same context: hand the returned token to
    :func:`unmark_immediate` when the request ends.
    """
    return _immediate.set(True)


def unmark_immediate(token: contextvars.Token[bool]) -> None:
    try:
        _immediate.reset(token)
    except ValueError:  # set in another context (a copied one); just switch it off
        _immediate.set(False)


def configure_engine(engine: Engine, statement_timeout_ms: int) -> None:
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
            dbapi_conn.commit()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        # Copy the WAL back into the database every 10,000 pages (about 40 MB) rather than
        # SQLite's 1,000: a registration rewrites the same few index and table pages, which a
        # longer WAL copies back once instead of ten times (measured on the registration
        # statements: 20% less time per write transaction; the commit that checkpoints takes
        # ~30 ms instead of ~5 ms, once per ~650 registrations instead of once per ~65).
        cur.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # Straight on the driver (see execute_direct): every write transaction pays for it.
        _run_on_driver(conn, "BEGIN IMMEDIATE" if _immediate.get() else "BEGIN", ())


def init_app(app: Flask) -> None:
    with app.app_context():
        configure_engine(db.engine, app.config["DB_STATEMENT_TIMEOUT_MS"])

    # Registered after Flask-SQLAlchemy's teardown, so it runs first.
    app.teardown_appcontext(_close_session)


def _close_session(_exc: BaseException | None) -> None:
    """End the request's session even when its connection died under it.

    A connection dropped between queries (a terminated backend, a database restart) makes the
    closing ROLLBACK fail after the response is built; SQLAlchemy then invalidates the
    connection, so closing again succeeds and the pool opens a fresh one next time (pre-ping).
    Without this the error would escape the request and the client would see a 500.
    """
    try:
        db.session.remove()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost at the end of a request: %s", exc.orig)
        db.session.remove()


def insert_ignore(model: type[Any], values: dict[str, Any], conflict: list[str]) -> Any | None:
    """INSERT a row unless it collides on the unique key ``conflict``; return its id or None.

    Racing inserts of the same key end in exactly one row and no error on SQLite and
    PostgreSQL (``ON CONFLICT DO NOTHING``).
    """
    stmt = _insert_ignore_statement(model.__table__, db.session.get_bind().dialect.name,
                                    tuple(conflict))
    rows = execute_direct(stmt, values)
    return rows[0][0] if rows else None


def insert_returning_id(model: type[Any], values: dict[str, Any]) -> Any:
    """INSERT one row with a Core statement (no ORM unit of work) and return its id."""
    return execute_direct(_insert_statement(model.__table__), values)[0][0]


# --- statements run straight on the session's DBAPI connection --------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A Core statement compiled once for one dialect and one set of given values."""

    sql: str
    names: tuple[str, ...]  # bound parameters, in the order of a positional paramstyle
    positional: bool
    bind: tuple[Callable[[Any], Any] | None, ...]  # the types' bind processors, by name
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # INSERT column defaults not given
    result: tuple[Callable[[Any], Any] | None, ...]  # result processors, by selected column


def execute_direct(stmt: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run ``stmt`` with ``params`` in the session's transaction; return its rows.

    The same SQL, types and transaction as ``db.session.execute``, minus SQLAlchemy's
    per-call execution machinery: the statement is compiled once per dialect and set of
    given keys, and runs on the DBAPI cursor with the types' bind and result processors
    (profiled: for the public form's three INSERTs and one SELECT that machinery cost several
    times the database work). Pending ORM changes are flushed first, as ``execute`` would.
    Driver errors come out as SQLAlchemy's ``DBAPIError`` family, with a dropped connection
    invalidated so the pool replaces it, exactly like errors from ``execute``.
    """
    session = db.session
    session.flush()
    conn = session.connection()
    dialect = conn.dialect
    prep = _prepare(stmt, frozenset(params), dialect)
    values = dict(params)
    for name, default in prep.defaults:
        values[name] = default()
    args: Any = [values[name] for name in prep.names]
    for i, process in enumerate(prep.bind):
        if process is not None:
            args[i] = process(args[i])
    if not prep.positional:
        args = dict(zip(prep.names, args, strict=True))
    rows = _run_on_driver(conn, prep.sql, args)
    if any(prep.result):
        rows = [tuple(value if process is None else process(value)
                      for process, value in zip(prep.result, row, strict=True)) for row in rows]
    return rows


def _run_on_driver(conn: Connection, sql: str, args: Any) -> list[Any]:
    """Execute ``sql`` on ``conn``'s DBAPI cursor; driver errors raised as ``DBAPIError``."""
    dialect = conn.dialect
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql, args)
        return cursor.fetchall() if cursor.description else []
    except dialect.loaded_dbapi.Error as exc:
        gone = dialect.is_disconnect(exc, dbapi_conn, cursor)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error,
                                  connection_invalidated=gone, dialect=dialect) from exc
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


@functools.lru_cache(maxsize=128)
def _prepare(stmt: Executable, keys: frozenset[str], dialect: Dialect) -> _Prepared:
    compiled = stmt.compile(dialect=dialect, column_keys=sorted(keys))
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    defaults = []
    table = getattr(stmt, "table", None)
    for name in names:
        if name in keys:
            continue
        default = table.c[name].default if table is not None and name in table.c else None
        if default is None or not (default.is_scalar or default.is_callable):
            raise KeyError(f"no value given for {name!r} and no Python-side default")
        if default.is_scalar:
            defaults.append((name, lambda value=default.arg: value))
        else:  # SQLAlchemy wraps a column's callable default to take an execution context
            defaults.append((name, functools.partial(default.arg, None)))
    bind = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                 for name in names)
    result = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                   for column in getattr(stmt, "exported_columns", ()))
    return _Prepared(str(compiled), names, bool(compiled.positional), bind, tuple(defaults),
                     result)


# The statements are built once per table: profiled, building an INSERT with its 30-odd
# ``.values()`` per call cost as much as executing it. The row goes in as parameters instead.
@functools.lru_cache(maxsize=32)
def _insert_statement(table: Table) -> Insert:
    return insert(table).returning(table.c.id)


def upsert_insert(table: Table, dialect: str) -> Any:
    """An INSERT into ``table`` that can take ``ON CONFLICT`` clauses: PostgreSQL's for
    ``postgresql``, SQLite's otherwise (the two backends we support)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@functools.lru_cache(maxsize=32)
def _insert_ignore_statement(table: Table, dialect: str, conflict: tuple[str, ...]) -> Insert:
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - not supported
        return insert(table).returning(table.c.id)
    return (upsert_insert(table, dialect).on_conflict_do_nothing(index_elements=list(conflict))
            .returning(table.c.id))


def insert_ignore_many(model: type[Any], rows: list[dict[str, Any]], conflict: list[str],
                       returning: list[str] | None = None, chunk: int = 500) -> list[Any]:
    """:func:`insert_ignore` for many rows at once (a few statements instead of one per row).

    Returns, for the rows actually inserted, their ``id`` (or the tuple of ``returning``
    columns) in no particular order.
    """
    if not rows:
        return []
    table = model.__table__
    columns = [table.c[name] for name in (returning or ["id"])]
    # One statement executed for many parameter sets: SQLAlchemy batches them into multi-row
    # INSERTs ("insertmanyvalues", RETURNING included) with one cached compilation, instead of
    # compiling a fresh VALUES list of hundreds of rows each time.
    stmt = (upsert_insert(table, db.session.get_bind().dialect.name)
            .on_conflict_do_nothing(index_elements=conflict).returning(*columns))
    out: list[Any] = []
    for start in range(0, len(rows), chunk):
        result = db.session.execute(stmt, rows[start:start + chunk])
        out.extend(result.scalars() if returning is None else (tuple(r) for r in result))
    return out
