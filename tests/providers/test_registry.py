"""Providers by name: built-ins, plug-ins from the `reconciler.providers` entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import reconciler.providers as registry
from reconciler.errors import ProviderError
from reconciler.providers import available_providers, create_provider, provider_class
from reconciler.providers.sqlite import SqliteProvider


def _plugins(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    def entry_points(*, group: str) -> list[EntryPoint]:
        assert group == "reconciler.providers"
        return list(points)

    monkeypatch.setattr(registry, "entry_points", entry_points)


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="reconciler.providers")


def test_an_unknown_provider_names_the_available_ones() -> None:
    with pytest.raises(ProviderError) as caught:
        create_provider("x", {}, environ={}, root=Path("."))
    assert str(caught.value) == "unknown provider 'x'; available: connexcs, postgresql, sqlite"


def test_a_plugin_is_found_by_its_entry_point(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _plugins(monkeypatch, _point("embedded", "reconciler.providers.sqlite:SqliteProvider"))
    assert available_providers() == ["connexcs", "embedded", "postgresql", "sqlite"]
    provider = create_provider("embedded", {"path": "x.sqlite"}, environ={}, root=tmp_path)
    assert isinstance(provider, SqliteProvider)


def test_a_plugin_cannot_take_a_builtin_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(monkeypatch, _point("sqlite", "reconciler.providers.postgresql:PostgresqlProvider"))
    assert provider_class("sqlite") is SqliteProvider
    assert available_providers() == ["connexcs", "postgresql", "sqlite"]


def test_a_plugin_that_is_not_a_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(monkeypatch, _point("bad", "pathlib:Path"))
    with pytest.raises(ProviderError) as caught:
        provider_class("bad")
    assert str(caught.value) == "provider 'bad' is not a reconciler.providers.base.Provider subclass"


def test_a_plugin_that_fails_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(monkeypatch, _point("gone", "no_such_module_here:Provider"))
    with pytest.raises(ProviderError) as caught:
        provider_class("gone")
    assert str(caught.value) == (
        "provider 'gone' (no_such_module_here:Provider) failed to load: No module named 'no_such_module_here'"
    )
