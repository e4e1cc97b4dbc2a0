"""The SQL live store on PostgreSQL, for teams that share one database between CI and the switch.

The URL (with its password) lives only in the environment variable the options name; it
never appears in a message, a repr or the provider's target, which shows the URL without
its password or query.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError

from reconciler.errors import ConfigError
from reconciler.providers.options import check_options
from reconciler.providers.sql import Clock, SqlProvider, utc_now

DEFAULT_URL_ENV = "RECONCILER_DATABASE_URL"
_EXAMPLE = "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


class PostgresqlProvider(SqlProvider):
    """Options: `url_env` (default RECONCILER_DATABASE_URL), the variable holding the URL."""

    name = "postgresql"

    def __init__(self, url: URL, *, clock: Clock = utc_now) -> None:
        super().__init__(target=f"postgresql {shown_url(url)}", clock=clock, secrets_to_hide=[url.password or ""])
        self._url = url

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, environ: Mapping[str, str], root: Path) -> Self:
        check_options(cls.name, options, {"url_env": str})
        variable = options.get("url_env", DEFAULT_URL_ENV)
        raw = environ.get(variable)
        if not raw:
            raise ConfigError(
                f"live.options.url_env: the environment variable {variable} is not set; "
                f"set it to the database URL ({_EXAMPLE})"
            )
        try:
            url = make_url(raw)
        except ArgumentError:
            # SQLAlchemy's message quotes the whole string, password included.
            raise ConfigError(f"{variable} does not hold a database URL; expected {_EXAMPLE}") from None
        if url.get_backend_name() != "postgresql":
            raise ConfigError(f"{variable} holds a {url.get_backend_name()} URL; expected {_EXAMPLE}")
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return cls(url)

    def _create_engine(self) -> Engine:
        return create_engine(self._url, hide_parameters=True)


def shown_url(url: URL) -> str:
    """The URL as it may be shown: no password, and only the query parameters that say where."""
    user = f"{url.username}@" if url.username else ""
    port = f":{url.port}" if url.port else ""
    shown = f"{url.drivername}://{user}{url.host or ''}{port}/{url.database or ''}"
    where = [f"{name}={url.query[name]}" for name in ("host", "port", "sslmode") if isinstance(url.query.get(name), str)]
    return f"{shown}?{'&'.join(where)}" if where else shown
