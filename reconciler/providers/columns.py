"""Column types every store of ours uses, the same on SQLite and PostgreSQL: the SQL live
store (schema.py) and the state store of an API provider (state.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Dialect, Select, Table, TypeDecorator, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, the same out (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Json(TypeDecorator[Any]):
    """JSON: JSONB on PostgreSQL, JSON elsewhere. PostgreSQL's dialect is imported only for
    PostgreSQL (30 ms of every command on SQLite otherwise)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class JsonText(FunctionElement[Any]):
    """A JSON column's value as the text the database holds: on PostgreSQL cast to text, for
    psycopg reads JSONB itself as it fetches, and a value it cannot read (nested deeper than
    Python recurses) would stop the whole read, not be a matter of its record."""

    type = NullType()
    inherit_cache = True


@compiles(JsonText)
def _as_held(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(JsonText, "postgresql")
def _as_text(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


def readable(table: Table) -> Select[Any]:
    """TABLE's columns, its JSON ones as the text the database holds (`JsonText`), for
    `json_value` to read: a value someone wrote by hand that Python cannot read (nested
    deeper than it recurses, or not JSON) is that row's matter, and does not stop the read."""
    return select(*(JsonText(column).label(column.name) if isinstance(column.type, Json) else column for column in table.columns))


def json_value(held: Any) -> Any:
    """A JSON column's value from the text the database holds; the text itself where it
    holds no value Python reads (not JSON, or nested too deeply)."""
    if not isinstance(held, str):
        return held
    try:
        return json.loads(held)
    except (ValueError, RecursionError):
        return held


def json_text(value: Any) -> str:
    """The text a JSON column is given for VALUE (every engine's `json_serializer`): orjson's,
    compact and in UTF-8, ~10x sooner than `json.dumps` (100,000 creates write 800,000 JSON
    values: ~3 s); what orjson refuses (an integer past 64 bits, a lone surrogate) the
    standard library writes, or refuses, as it always did. The text is the database's to
    read: it says the same value either way."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)
