"""The embedded default: the SQL live store in one SQLite file, created on first use.

Two processes share the file (see `engines.sqlite_engine`: WAL, a busy timeout, and every
write transaction starting with BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from sqlalchemy import Engine

from reconciler.providers.base import ProviderConfig
from reconciler.providers.engines import sqlite_engine
from reconciler.providers.options import check_options, refuse_api_settings
from reconciler.providers.sql import Clock, SqlProvider, utc_now

DEFAULT_PATH = ".reconciler/live.sqlite"


class SqliteProvider(SqlProvider):
    """Options: `path` (default .reconciler/live.sqlite, relative to the repository root)."""

    name = "sqlite"
    # allow_in_ci: an SQLite store in CI lives only as long as the job; `apply` refuses it
    # there unless this says it is meant (see commands/apply.py).
    known_options: ClassVar[Mapping[str, Any]] = {"path": str, "allow_in_ci": bool}

    def __init__(self, path: Path, *, shown_as: str | None = None, clock: Clock = utc_now) -> None:
        super().__init__(target=f"sqlite {shown_as or path}", clock=clock)
        self.path = path

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, environ: Mapping[str, str], root: Path, config: ProviderConfig | None = None
    ) -> Self:
        check_options(cls.name, options, cls.known_options)
        refuse_api_settings(cls.name, config)
        configured = options.get("path", DEFAULT_PATH)
        return cls(root / configured, shown_as=configured)

    def _create_engine(self) -> Engine:
        return sqlite_engine(self.path)
