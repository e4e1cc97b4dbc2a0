"""Real git repositories in tmp_path, with named authors and pinned dates (exact output)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

AUTHORS = {
    "dana": ("Dana Whitfield", "dana@carrier.example"),
    "priya": ("Priya Raman", "priya@carrier.example"),
    "ci": ("CI Bot", "ci@carrier.example"),
}


class GitRepo:
    """A repository at `root`; `commit` stamps author and committer with the name and date given."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str = "dana", date: str = "2026-01-01T00:00:00Z") -> str:
        name, email = AUTHORS[author]
        env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date,
        }
        result = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args], cwd=self.root, env=env,
            capture_output=True, text=True, check=True,
        )
        return result.stdout.strip()

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, message: str, *, author: str = "dana", date: str = "2026-01-01T00:00:00Z") -> str:
        self.git("add", "-A", author=author, date=date)
        self.git("commit", "-q", "-m", message, author=author, date=date)
        return self.git("rev-parse", "HEAD")

    def short(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", "--short=7", rev)
