"""reconciler.toml (`config.load_settings`): read like a customer file, so its errors name the
line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_settings
from reconciler.errors import InvalidInput


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_errors_name_the_line_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "reconciler.toml", '[safety]\nmax_updates = -1\non_removal = "purge"\n\n[live]\nprovidr = "x"\n')
    with pytest.raises(InvalidInput) as caught:
        load_settings(tmp_path)
    path = tmp_path / "reconciler.toml"
    assert str(caught.value).splitlines() == [
        f"{path}:2:15: safety.max_updates: must be at least 0, not -1",
        f"{path}:3:14: safety.on_removal: 'purge' is not one of: deactivate, delete",
        f"{path}:6:1: live.providr: unknown field 'providr'; did you mean 'provider'?",
    ]


def test_settings_syntax_errors_name_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "reconciler.toml", "[safety]\nmax_updates = \n")
    with pytest.raises(InvalidInput) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'reconciler.toml'}:2:15: TOML syntax error: invalid value; fix the syntax here"
    )
