"""Shared fixtures: a project written into tmp_path, and the CLI run in-process against it."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke import Outcome, invoke

# Live stores for the tests: SQLite in tmp_path, a real PostgreSQL server per session.
pytest_plugins = ["live_stores"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "customers.d"


Run = Callable[..., Outcome]


@pytest.fixture(autouse=True)
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run the reconciler as a person would, not as the CI job running the tests: the
    CI rules (no apply into a throwaway SQLite store) apply where a test sets CI itself."""
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository root holding the example customers and a minimal reconciler.toml."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root / "customers.d")
    shutil.copy(REPO / "reconciler.toml", root / "reconciler.toml")
    return root


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run(root, "validate", ...)` runs the CLI with ROOT as -C, as user "tester", with a
    document cache of its own and no colour, at the real time (a test that needs a pinned
    clock calls `invoke` itself)."""
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.delenv("RECONCILER_PLAN_KEY", raising=False)

    def run_in(root: Path, *args: str, **options: Any) -> Outcome:
        environ = {**os.environ, "USER": "tester", "RECONCILER_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
        options.setdefault("now", dt.datetime.now(dt.UTC))
        options.setdefault("environ", environ)
        return invoke(root, *args, **options)

    return run_in


@pytest.fixture
def live(project: Path, spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project pointed at the live store of `spec` (its environment set)."""
    return point_at(project, spec, monkeypatch)


@pytest.fixture
def sql_live(project: Path, sql_spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`live` on the SQL stores only: for tests that reach behind the provider with SQL."""
    return point_at(project, sql_spec, monkeypatch)


def point_at(project: Path, spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point PROJECT's reconciler.toml at the live store of SPEC and set its environment."""
    options = "".join(f'{name} = "{value}"\n' for name, value in spec.options.items())
    if spec.name == "sqlite":
        options = f'path = "{spec.root / "live.sqlite"}"\n'
    if spec.config is not None and spec.config.account_manager_ids:
        options += "[live.account_manager_ids]\n" + "".join(
            f'"{name}" = {user_id}\n' for name, user_id in spec.config.account_manager_ids.items()
        )
    config = (project / "reconciler.toml").read_text(encoding="utf-8")
    config = re.sub(r'provider = "sqlite".*\n', f'provider = "{spec.name}"\n', config)
    config = re.sub(r'path = "\.reconciler/live\.sqlite".*\n', options, config)
    config = config.replace("lock_wait_seconds = 30", "lock_wait_seconds = 0.3")
    (project / "reconciler.toml").write_text(config, encoding="utf-8")
    for name, value in spec.environ.items():
        monkeypatch.setenv(name, value)
    return project
