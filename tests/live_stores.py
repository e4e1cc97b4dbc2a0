"""A real PostgreSQL server for tests: one per session, a fresh database per test.

The server runs from initdb and pg_ctl in a temp dir, on a unix socket only (no TCP).
Without the binaries the tests that need it skip, except under CI=true, where a missing
server fails the run. Also `spec` and `provider`: every provider, each on a real store
(connexcs: the stand-in of its API on loopback, with a SQLite state store in tmp_path);
and `sql_spec`: the SQL live stores only, for tests that reach behind them with plain SQL.
Registered for the whole suite by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from connexcs_standin import ConnexcsStandIn
from sqlalchemy import Engine, create_engine

from reconciler.providers import create_provider
from reconciler.providers.base import Provider, ProviderConfig
from reconciler.providers.schema import SCHEMA_VERSION
from reconciler.providers.state import STATE_SCHEMA_VERSION

# Every PostgreSQL URL the tests hand out carries this password (the server trusts local
# connections and ignores it): no output may ever show it.
SECRET = "s3cret-Pa55word"
# The stand-in's credentials, which no output may show either.
CONNEXCS_USER = "api-user"
CONNEXCS_PASSWORD = "api-Pa55word-secret"
CONNEXCS_ENVIRON = {"RECONCILER_CONNEXCS_USER": CONNEXCS_USER, "RECONCILER_CONNEXCS_PASSWORD": CONNEXCS_PASSWORD}
# The catalog of account managers the contract's customers use, as ConnexCS user ids.
ACCOUNT_MANAGER_IDS = {"Dana Whitfield": 17, "Priya Raman": 18}

# Read once, at import: each test runs the CLI outside CI (conftest's `outside_ci`).
UNDER_CI = os.environ.get("CI") == "true"


@dataclass(frozen=True)
class PostgresServer:
    socket_dir: Path
    port: int

    def url(self, database: str = "postgres", *, password: str | None = SECRET) -> str:
        login = f"postgres:{password}" if password else "postgres"
        return f"postgresql+psycopg://{login}@/{database}?host={self.socket_dir}&port={self.port}"


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    found = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    return found if (found / "initdb").exists() and (found / "pg_ctl").exists() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (pg_config --bindir with initdb and pg_ctl)"
        if UNDER_CI:
            pytest.fail(f"{reason}; under CI=true every test must run")
        pytest.skip(reason)
    # initdb and postgres refuse to run as root: run them as the postgres system user.
    as_server_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    if as_server_user:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    pg_ctl = [*as_server_user, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [*as_server_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )
        settings = f"-p {port} -k {base} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        subprocess.run(
            [*pg_ctl, "-l", str(base / "server.log"), "-o", settings, "-w", "start"], check=True, capture_output=True
        )
        yield PostgresServer(base, port)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database; its URL (with the secret password)."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        yield postgres_server.url(name)
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        admin.dispose()


@dataclass(frozen=True)
class ProviderSpec:
    """How to build a provider the way the CLI does; picklable, so a child process can too."""

    name: str
    options: dict[str, Any]
    environ: dict[str, str] = field(default_factory=dict)
    root: Path = Path(".")
    database_url: str = ""  # what a test uses to reach behind a SQL store with plain SQL
    config: ProviderConfig | None = None
    capabilities: frozenset[str] = frozenset({"transactions", "audit", "lock"})
    schema_version: int = SCHEMA_VERSION  # of the store `open()` creates

    def make(self) -> Provider:
        return create_provider(self.name, self.options, environ=self.environ, root=self.root, config=self.config)

    def engine(self) -> Engine:
        assert self.database_url, f"the {self.name} provider has no SQL store to reach behind"
        return create_engine(self.database_url)


SQL_STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _sql_spec(request: pytest.FixtureRequest, tmp_path: Path) -> ProviderSpec:
    if request.param == "sqlite":
        return ProviderSpec("sqlite", {"path": "live.sqlite"}, root=tmp_path,
                            database_url=f"sqlite:///{tmp_path / 'live.sqlite'}")
    url: str = request.getfixturevalue("postgres_database")
    return ProviderSpec("postgresql", {}, environ={"RECONCILER_DATABASE_URL": url}, root=tmp_path, database_url=url)


@pytest.fixture
def connexcs_standin() -> Iterator[ConnexcsStandIn]:
    """The stand-in of the ConnexCS API, fresh for one test; it must have met no bug of its own."""
    with ConnexcsStandIn(user=CONNEXCS_USER, password=CONNEXCS_PASSWORD) as standin:
        yield standin
    assert standin.errors == []


def connexcs_spec(standin: ConnexcsStandIn, root: Path, **options: Any) -> ProviderSpec:
    """The connexcs provider on STANDIN, its state store in ROOT/.reconciler/state.sqlite."""
    return ProviderSpec(
        "connexcs", {"url": standin.url, **options}, environ=dict(CONNEXCS_ENVIRON), root=root,
        config=ProviderConfig(account_manager_ids=ACCOUNT_MANAGER_IDS),
        capabilities=frozenset({"audit", "lock", "concurrent_writes"}), schema_version=STATE_SCHEMA_VERSION,
    )


@pytest.fixture(params=[*SQL_STORES, "connexcs"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> ProviderSpec:
    """Every provider: the SQL stores, and connexcs on the stand-in."""
    if request.param == "connexcs":
        return connexcs_spec(request.getfixturevalue("connexcs_standin"), tmp_path)
    return _sql_spec(request, tmp_path)


@pytest.fixture(params=SQL_STORES)
def sql_spec(request: pytest.FixtureRequest, tmp_path: Path) -> ProviderSpec:
    """The SQL live stores, for tests that reach behind the provider with plain SQL."""
    return _sql_spec(request, tmp_path)


@pytest.fixture
def provider(spec: ProviderSpec) -> Iterator[Provider]:
    with spec.make() as made:
        yield made
