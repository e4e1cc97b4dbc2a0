"""SQLAlchemy engines for our stores, made one way wherever a store lives: the SQL live
store (sqlite.py, postgresql.py) and the state store of an API provider (state.py).

SQLite: WAL and a busy timeout let two processes share the file; every write transaction
starts with BEGIN IMMEDIATE, so writers queue for the lock instead of failing half-way
through. PostgreSQL: the URL (with its password) comes only from the environment variable
an option names, and is shown without its password or query.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    URL,
    Connection,
    Dialect,
    Engine,
    Insert,
    Update,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from reconciler.errors import ConfigError, ProviderError, escaped
from reconciler.providers.columns import json_text

BUSY_TIMEOUT_MS = 30_000
DEFAULT_URL_ENV = "RECONCILER_DATABASE_URL"
_EXAMPLE = "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


def sqlite_engine(path: Path) -> Engine:
    """An engine on the SQLite file at PATH (its folder made if need be). A connection whose
    execution options say `reconciler_read_only` begins DEFERRED; every other IMMEDIATE."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder should be, no permission: the settings' to mend
        raise ProviderError(
            f"sqlite {path}: its folder cannot be made ({exc.strerror or exc}); set the store's path in "
            "reconciler.toml to a file in a folder that can be"
        ) from exc
    engine = create_engine(URL.create("sqlite", database=str(path)), json_serializer=json_text)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


# SQLite stores whatever bytes a writer gives a TEXT column; the driver's own decoding stops
# the whole read at one that is not UTF-8. Decoded so, a byte that is not UTF-8 reads as the
# replacement character (U+FFFD): the record is what it then is (a key no customer has, a
# value the model refuses, or a value that differs from the file's and is written over, as
# any edit made outside the reconciler), and every other record is read. (Kept as lone
# surrogates instead, its bytes would stop every encoding of the text further on.)
_TEXT = functools.partial(str, encoding="utf-8", errors="replace")


def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's BEGIN (below) be the only one: pysqlite's own would be DEFERRED.
    dbapi_connection.isolation_level = None
    dbapi_connection.text_factory = _TEXT
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _on_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get("reconciler_read_only", False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


@functools.cache
def dialect_of(drivername: str) -> Dialect:
    """The dialect of the driver DRIVERNAME ("sqlite", "postgresql+psycopg") as the store's
    engines configure it, without a connection or a credential: what makes a store's
    statements in a worker process (`sql.SqlProvider.preparing`)."""
    return create_engine(URL.create(drivername), json_serializer=json_text).dialect


def postgresql_url(option: str, variable: str, environ: Mapping[str, str]) -> URL:
    """The URL in the environment variable VARIABLE (named by the setting OPTION, for the
    message); ConfigError, never showing the value, when it is missing or no PostgreSQL URL."""
    raw = environ.get(variable)
    if not raw:
        raise ConfigError(
            f"{option}: the environment variable {variable} is not set; set it to the database URL ({_EXAMPLE})"
        )
    unreadable = ConfigError(
        f"{variable} does not hold a database URL that can be read; expected {_EXAMPLE}, with {_ENCODE}"
    )
    try:
        url = make_url(raw)
        url.port  # noqa: B018 - parsed when asked for: a bad port (or an unclosed [::1) fails here
    except (ArgumentError, ValueError):
        # SQLAlchemy's messages quote the string, password included: none of it is shown.
        raise unreadable from None
    if "@" in (url.host or "") or "@" in (url.database or ""):
        raise unreadable  # the host would be shown, and it holds the password's tail
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"{variable} holds a {url.get_backend_name()} URL; expected {_EXAMPLE}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    _check_driver(variable, url.get_driver_name())
    return url


# What a password must have percent-encoded in a URL.
_ENCODE = "@, : and / in the password percent-encoded (%40, %3A, %2F)"
# Driver -> the module it needs; the reconciler talks to the database synchronously.
_DRIVERS = {"psycopg": "psycopg", "psycopg2": "psycopg2", "pg8000": "pg8000"}


def _check_driver(variable: str, driver: str) -> None:
    module = _DRIVERS.get(driver)
    if module is None:
        raise ConfigError(
            f"{variable} names the driver '{driver}', which the reconciler cannot use (it needs a synchronous "
            f"driver); write postgresql+psycopg:// (pip install 'reconciler[postgresql]')"
        )
    if importlib.util.find_spec(module) is None:
        extra = (
            "install the reconciler with its postgresql extra: pip install 'reconciler[postgresql]'"
            if driver == "psycopg" else f"pip install {module}, or write postgresql+psycopg:// with the "
            "reconciler's postgresql extra (pip install 'reconciler[postgresql]')"
        )
        raise ConfigError(f"{variable} names the driver '{driver}', which is not installed: {extra}")


def postgresql_engine(url: URL) -> Engine:
    return create_engine(url, hide_parameters=True, json_serializer=json_text)


def shown_url(url: URL) -> str:
    """The URL as it may be shown: no password, and only the query parameters that say where."""
    user = f"{url.username}@" if url.username else ""
    port = f":{url.port}" if url.port else ""
    shown = f"{url.drivername}://{user}{url.host or ''}{port}/{url.database or ''}"
    where = [f"{name}={url.query[name]}" for name in ("host", "port", "sslmode") if isinstance(url.query.get(name), str)]
    return f"{shown}?{'&'.join(where)}" if where else shown


def hidden(text: str, secrets: Sequence[str]) -> str:
    """TEXT with every secret in it replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def database_error(target: str, exc: SQLAlchemyError, secrets: Sequence[str], key: str | None = None) -> ProviderError:
    """A database failure as a ProviderError naming the store (and the customer), without
    secrets, and with what a terminal would act on escaped (a driver may quote a value)."""
    reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    where = f"{key}: " if key else ""
    return ProviderError(f"{where}{target}: {escaped(hidden(reason.strip(), secrets))}")


class Many(NamedTuple):
    """A statement and the parameters of each of its rows, as the driver takes them (`many`)."""

    sql: str
    parameters: list[Any]


def execute_many(
    connection: Connection,
    statement: Insert | Update,
    rows: Sequence[Mapping[str, Any]],
    shared: Mapping[str, Any] | None = None,
) -> int:
    """STATEMENT once for each of ROWS (all with the same keys), each with the values of
    SHARED too, in one executemany of the DB-API cursor; the number of rows the database
    says it changed."""
    return run_many(connection, many(connection.dialect, statement, rows, shared))


def run_many(connection: Connection, made: Many) -> int:
    """The statement MADE holds, once for each of its rows' parameters; the number of rows
    the database says it changed."""
    if not made.parameters:
        return 0
    return connection.exec_driver_sql(made.sql, made.parameters).rowcount


def many(
    dialect: Dialect, statement: Insert | Update, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
) -> Many:
    """`execute_many`'s statement and parameters, made for DIALECT without a connection (a
    batch's, while the store commits the one before: `Provider.prepare_writes`).

    What SQLAlchemy's own executemany does, without its bookkeeping for each row: each value
    goes through the bind processor its type gives (the same function SQLAlchemy would call),
    a shared value once, and a value its column repeats (a currency, None) once. On a batch
    of creates SQLAlchemy's way cost more than the database's writes.
    """
    if not rows:
        return Many("", [])
    shared = shared or {}
    first = rows[0]
    compiled = statement.compile(dialect=dialect, column_keys=[*shared, *first])
    fixed = compiled.construct_params({**shared, **first})  # and the statement's own values (`version + 1`)
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    # Column by column: a value of a column without a processor is taken as it is, without
    # a call for each (a batch of 500 creates writes ~12,500 audit rows of 11 columns).
    values: list[Iterable[Any]] = []
    for name in names:
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name not in first:  # shared, or the statement's own: the same in every row
            value = fixed.get(name)
            values.append(itertools.repeat(value if processor is None else processor(value), len(rows)))
            continue
        column = [row[name] for row in rows]
        values.append(column if processor is None else _processed(column, processor))
    cells = list(zip(*values, strict=True)) if values else [()] * len(rows)  # a row's values, in order
    parameters: list[Any] = cells if compiled.positional else [dict(zip(names, row, strict=True)) for row in cells]
    return Many(compiled.string, parameters)


def _processed(column: list[Any], processor: Callable[[Any], Any]) -> list[Any]:
    """PROCESSOR over COLUMN's values, a repeated one processed once: plain values by value,
    any other by identity (every row, so every value, is alive until the end: no two share
    an id), so the one instant of a batch is processed once."""
    seen: dict[tuple[type, Any], Any] = {}
    processed = []
    for raw in column:
        key = (type(raw), raw if raw is None or type(raw) in _PLAIN else id(raw))
        found = seen.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = seen[key] = processor(raw)
        processed.append(found)
    return processed


_UNSEEN = object()


# Values a bind processor gives the same result for whenever type and value are equal (an
# instant is not one: equal instants in two zones may be written apart; a Decimal is not one:
# 1.0 and 1.00 are equal).
_PLAIN = frozenset({str, int, bool})
