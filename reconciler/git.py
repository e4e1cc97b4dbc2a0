"""The repository as the system of record: which commit desired state came from.

GitPython for history and metadata; the `git` binary itself where a walk is hot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.errors import GitError


@dataclass(frozen=True)
class Revision:
    commit: str | None  # None outside a repository, or before the first commit
    dirty: bool  # uncommitted changes under the repository


def current_revision(root: Path) -> Revision:
    """HEAD of the repository holding `root`, and whether the work tree differs from it."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return Revision(None, False)
    try:
        with repo:
            commit = repo.head.commit.hexsha if repo.head.is_valid() else None
            return Revision(commit, repo.is_dirty(untracked_files=True))
    except git.GitCommandError as exc:
        raise GitError(f"{root}: git failed: {exc.stderr.strip() or exc}") from exc


def commits_adding(root: Path, paths: Iterable[Path]) -> dict[Path, str | None]:
    """The commit that last added each file (None: not committed, or outside a repository)."""
    paths = list(paths)
    found: dict[Path, str | None] = dict.fromkeys(paths)
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return found
    try:
        with repo:
            if not repo.head.is_valid():
                return found
            for path in paths:
                output = repo.git.log("--diff-filter=A", "--format=%H", "-1", "--", str(path.resolve()))
                found[path] = output.strip() or None
    except git.GitCommandError as exc:
        raise GitError(f"{root}: git failed: {exc.stderr.strip() or exc}") from exc
    return found
