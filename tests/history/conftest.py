"""The history tests share one repository: seven commits by two authors (`git_repos.history_repo`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_repos import GitRepo, history_repo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return history_repo(tmp_path / "repo")
