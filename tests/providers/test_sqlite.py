"""The sqlite provider's options and file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from reconciler.errors import ConfigError, ProviderError
from reconciler.providers import create_provider
from reconciler.providers.columns import json_text
from reconciler.providers.engines import database_error
from reconciler.providers.state import StateStore


def test_the_default_path_is_under_the_root(tmp_path: Path) -> None:
    with create_provider("sqlite", {}, environ={}, root=tmp_path) as provider:
        assert provider.describe().target == "sqlite .reconciler/live.sqlite"
        provider.open()
    assert (tmp_path / ".reconciler/live.sqlite").is_file()


def test_an_absolute_path_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.sqlite"
    with create_provider("sqlite", {"path": str(path)}, environ={}, root=Path("/nonexistent")) as provider:
        assert provider.describe().target == f"sqlite {path}"
        provider.open()
    assert path.is_file()


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider("sqlite", {"url_env": "X"}, environ={}, root=tmp_path)
    assert str(caught.value) == (
        "live.options.url_env: the sqlite provider has no option 'url_env'; its options: allow_in_ci, path"
    )


def test_an_option_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider("sqlite", {"path": 3}, environ={}, root=tmp_path)
    assert str(caught.value) == "live.options.path: expected a str, got int"


def test_a_path_whose_folder_cannot_be_made_is_one_error_naming_it(tmp_path: Path) -> None:
    """A file where the store's folder should be: the store's error, not a traceback; the
    live store and an API provider's state store alike (one way to make a SQLite engine)."""
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    provider = create_provider("sqlite", {"path": "blocker/live.sqlite"}, environ={}, root=tmp_path)
    with provider, pytest.raises(ProviderError) as caught:
        provider.open()
    assert str(caught.value) == (
        f"sqlite {tmp_path / 'blocker/live.sqlite'}: its folder cannot be made (File exists); set the store's "
        "path in reconciler.toml to a file in a folder that can be"
    )
    state = StateStore.from_settings({"path": "blocker/state.sqlite"}, environ={}, root=tmp_path)
    with pytest.raises(ProviderError) as refused:
        state.open()
    assert str(refused.value).startswith(f"sqlite {tmp_path / 'blocker/state.sqlite'}: its folder cannot be made")


def test_a_drivers_words_are_shown_escaped_and_without_secrets() -> None:
    """A driver's message may quote what the database holds: one line, nothing a terminal acts on."""
    failure = DBAPIError("SELECT 1", {}, Exception("bad value '\x1b[2Jx' for s3cret\n"))
    error = database_error("sqlite live.db", failure, ["s3cret"], key="acme")
    assert str(error) == "acme: sqlite live.db: bad value '\\x1b[2Jx' for ***"


def test_json_values_are_written_by_orjson_and_what_it_refuses_as_before() -> None:
    """The text of a JSON column: orjson's (compact, UTF-8) where it can write the value;
    where it cannot (an integer past 64 bits, a lone surrogate), the standard library's."""
    assert json_text({"lines": ["Straße 1"], "n": 3, "none": None}) == '{"lines":["Straße 1"],"n":3,"none":null}'
    assert json_text([2**70]) == f"[{2**70}]"
    assert json_text("\ud800") == '"\\ud800"'
