"""Shared fixtures: a project written into tmp_path, and the CLI run in-process against it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import main

# Live stores for the tests: SQLite in tmp_path, a real PostgreSQL server per session.
pytest_plugins = ["live_stores"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "customers.d"


@dataclass(frozen=True)
class Outcome:
    """What one CLI run did: its exit code and everything it printed."""

    code: int
    out: str
    err: str

    def assert_success(self) -> Outcome:
        assert self.code == 0, f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        return self


Run = Callable[..., Outcome]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository root holding the example customers and a minimal reconciler.toml."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root / "customers.d")
    shutil.copy(REPO / "reconciler.toml", root / "reconciler.toml")
    return root


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """`run(root, "validate", ...)` runs the CLI in-process with ROOT as -C."""
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(root: Path, *args: str) -> Outcome:
        capsys.readouterr()
        code = main(["-C", str(root), *args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke
