"""The SQL live store on PostgreSQL, for teams that share one database between CI and the switch.

The URL (with its password) lives only in the environment variable the options name; it
never appears in a message, a repr or the provider's target, which shows the URL without
its password or query (`engines.shown_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from sqlalchemy import URL, Engine

from reconciler.providers.base import ProviderConfig
from reconciler.providers.engines import (
    DEFAULT_URL_ENV,
    postgresql_engine,
    postgresql_url,
    shown_url,
)
from reconciler.providers.options import check_options, refuse_api_settings
from reconciler.providers.sql import Clock, SqlProvider, utc_now


class PostgresqlProvider(SqlProvider):
    """Options: `url_env` (default RECONCILER_DATABASE_URL), the variable holding the URL."""

    name = "postgresql"
    known_options: ClassVar[Mapping[str, Any]] = {"url_env": str}

    def __init__(self, url: URL, *, clock: Clock = utc_now) -> None:
        super().__init__(target=f"postgresql {shown_url(url)}", clock=clock, secrets_to_hide=[url.password or ""])
        self._url = url

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, environ: Mapping[str, str], root: Path, config: ProviderConfig | None = None
    ) -> Self:
        check_options(cls.name, options, cls.known_options)
        refuse_api_settings(cls.name, config)
        return cls(postgresql_url("live.options.url_env", options.get("url_env", DEFAULT_URL_ENV), environ))

    def _create_engine(self) -> Engine:
        return postgresql_engine(self._url)
