"""The agent's clone: brought to the tip of the configured branch on every fetch.

The clone belongs to the agent: local edits, commits and untracked files are discarded, as a
deployment's checkout should be (the branch on the remote is the truth); ignored files (a
local SQLite store) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import GitError
from reconciler.gitbinary import run_git

# user:password@ in a remote URL: never in a log line.
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def without_credentials(text: str) -> str:
    return _CREDENTIALS.sub("***@", text)


@dataclass(frozen=True)
class Tracked:
    """Which remote branch the clone follows."""

    remote: str
    branch: str

    @classmethod
    def of(cls, root: Path, remote: str, branch: str | None) -> Tracked:
        """REMOTE's BRANCH, or the branch the clone has checked out; GitError when neither is there."""
        if branch is None:
            try:
                branch = run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD").decode().strip()
            except GitError:
                raise GitError(f"{root} has no branch checked out; name the branch to follow with --branch") from None
        remotes = run_git(root, "remote").decode().split()
        if remote not in remotes:
            raise GitError(f"{root} has no remote {remote!r}; clone the repository, or name its remote with --remote")
        return cls(remote, branch)

    def sync(self, root: Path) -> tuple[str, str]:
        """Fetch the branch and reset the clone to it; (commit before, commit after)."""
        before = run_git(root, "rev-parse", "--verify", "--quiet", "HEAD").decode().strip()
        try:
            run_git(root, "fetch", "--quiet", "--no-tags", "--end-of-options", self.remote, self.branch)
            run_git(root, "reset", "--quiet", "--hard", "FETCH_HEAD")
            # Files git does not know would be read as customers; ignored ones (a local store) stay.
            run_git(root, "clean", "--quiet", "-d", "--force")
        except GitError as error:
            raise GitError(without_credentials(str(error))) from None
        after = run_git(root, "rev-parse", "--verify", "HEAD").decode().strip()
        return before, after
