"""The postgresql provider's options; its URL (and password) never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError, ProviderError, ReconcilerError
from reconciler.providers import create_provider

SECRET = "s3cret-Pa55word"  # the same as conftest's: every URL there carries it


def _configure(url: str | None, **options: str) -> object:
    environ = {} if url is None else {"RECONCILER_DATABASE_URL": url}
    return create_provider("postgresql", options, environ=environ, root=Path("."))


def _refusal(url: str | None, **options: str) -> str:
    with pytest.raises(ReconcilerError) as caught:
        _configure(url, **options)
    assert SECRET not in repr(caught.value)
    return str(caught.value)


def test_a_missing_variable_is_named() -> None:
    assert _refusal(None) == (
        "live.options.url_env: the environment variable RECONCILER_DATABASE_URL is not set; "
        "set it to the database URL (postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)"
    )


def test_url_env_names_another_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider("postgresql", {"url_env": "LIVE_DB"}, environ={"RECONCILER_DATABASE_URL": "x"}, root=Path("."))
    assert str(caught.value).startswith("live.options.url_env: the environment variable LIVE_DB is not set;")
    provider = create_provider(
        "postgresql", {"url_env": "LIVE_DB"}, environ={"LIVE_DB": f"postgresql://u:{SECRET}@db/live"}, root=Path(".")
    )
    assert provider.describe().target == "postgresql postgresql+psycopg://u@db/live"


UNREADABLE = (
    "RECONCILER_DATABASE_URL does not hold a database URL that can be read; expected "
    "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE, with @, : and / in the password percent-encoded "
    "(%40, %3A, %2F)"
)


@pytest.mark.parametrize(
    "url",
    [
        f"u:{SECRET}@db",  # no URL at all
        f"postgresql://u:{SECRET}@2@db/live",  # an unencoded @ in the password: its tail would be the host
        f"postgresql://u:{SECRET}@db:54x2/live",  # a port that is no number
        f"postgresql://u:{SECRET}@[::1/live",  # an unclosed IPv6 bracket
    ],
)
def test_a_value_that_cannot_be_read_is_refused_without_showing_any_of_it(url: str) -> None:
    assert _refusal(url) == UNREADABLE
    assert "2@db" not in _refusal(url)


def test_a_driver_that_is_not_installed_names_what_to_install() -> None:
    assert _refusal(f"postgresql+pg8000://u:{SECRET}@db/live") == (
        "RECONCILER_DATABASE_URL names the driver 'pg8000', which is not installed: pip install pg8000, or write "
        "postgresql+psycopg:// with the reconciler's postgresql extra (pip install 'reconciler[postgresql]')"
    )
    assert _refusal(f"postgresql+asyncpg://u:{SECRET}@db/live") == (
        "RECONCILER_DATABASE_URL names the driver 'asyncpg', which the reconciler cannot use (it needs a "
        "synchronous driver); write postgresql+psycopg:// (pip install 'reconciler[postgresql]')"
    )


def test_without_psycopg_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "psycopg" else find_spec(name))
    assert _refusal(f"postgresql://u:{SECRET}@db/live") == (
        "RECONCILER_DATABASE_URL names the driver 'psycopg', which is not installed: install the reconciler with "
        "its postgresql extra: pip install 'reconciler[postgresql]'"
    )


def test_a_url_of_another_database_is_refused() -> None:
    assert _refusal(f"mysql://u:{SECRET}@db/live") == (
        "RECONCILER_DATABASE_URL holds a mysql URL; expected postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
    )


def test_an_unknown_option_is_refused() -> None:
    assert _refusal("postgresql://db/live", path="x") == (
        "live.options.path: the postgresql provider has no option 'path'; its options: url_env"
    )


def test_the_target_shows_where_without_the_password() -> None:
    provider = create_provider(
        "postgresql", {},
        environ={"RECONCILER_DATABASE_URL": f"postgresql+psycopg://ci:{SECRET}@db.example:6432/live"
                                            f"?sslmode=require&password={SECRET}"},
        root=Path("."),
    )
    assert provider.describe().target == "postgresql postgresql+psycopg://ci@db.example:6432/live?sslmode=require"
    assert SECRET not in repr(provider)


def test_a_failed_connection_does_not_show_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres:{SECRET}@/live?host={tmp_path}&port=1"
    provider = create_provider("postgresql", {}, environ={"RECONCILER_DATABASE_URL": url}, root=tmp_path)
    with pytest.raises(ProviderError) as caught:
        provider.read()
    message = str(caught.value)
    assert message.startswith(f"postgresql postgresql+psycopg://postgres@/live?host={tmp_path}&port=1: ")
    assert "connection" in message
    assert SECRET not in message


@pytest.mark.postgresql
def test_nothing_a_working_provider_shows_holds_the_password(postgres_database: str) -> None:
    assert SECRET in postgres_database
    provider = create_provider("postgresql", {}, environ={"RECONCILER_DATABASE_URL": postgres_database}, root=Path("."))
    with provider:
        state = provider.open()
        shown = [repr(provider), str(provider.describe()), str(state), str(provider.read())]
    assert not [text for text in shown if SECRET in text]
