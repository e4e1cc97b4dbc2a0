"""The embedded default: the SQL live store in one SQLite file, created on first use.

WAL and a busy timeout let two processes share the file; every write transaction starts
with BEGIN IMMEDIATE, so writers queue for the lock instead of failing half-way through.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from reconciler.providers.options import check_options
from reconciler.providers.sql import Clock, SqlProvider, utc_now

DEFAULT_PATH = ".reconciler/live.sqlite"
BUSY_TIMEOUT_MS = 30_000


class SqliteProvider(SqlProvider):
    """Options: `path` (default .reconciler/live.sqlite, relative to the repository root)."""

    name = "sqlite"

    def __init__(self, path: Path, *, shown_as: str | None = None, clock: Clock = utc_now) -> None:
        super().__init__(target=f"sqlite {shown_as or path}", clock=clock)
        self.path = path

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, environ: Mapping[str, str], root: Path) -> Self:
        check_options(cls.name, options, {"path": str})
        configured = options.get("path", DEFAULT_PATH)
        return cls(root / configured, shown_as=configured)

    def _create_engine(self) -> Engine:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(URL.create("sqlite", database=str(self.path)))
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        return engine


def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's BEGIN (below) be the only one: pysqlite's own would be DEFERRED.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _on_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get("reconciler_read_only", False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")
