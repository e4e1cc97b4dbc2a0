"""Real git repositories in tmp_path, with named authors and pinned dates (exact output)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

AUTHORS = {
    "dana": ("Dana Whitfield", "dana@carrier.example"),
    "priya": ("Priya Raman", "priya@carrier.example"),
    "ci": ("CI Bot", "ci@carrier.example"),
    "mallory": ("Mallory\x1b[31m Red", "mallory@contributor.example"),  # a contributor whose name moves a terminal
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


# --- the repository of the history tests (log, blame, diff) ---------------------------------

HISTORY_ACME = """currency: USD
name: Acme Telecom
channels: 100
debit_limit: 1000.00
config:
  tags: [wholesale]
  reseller: direct
notes: Net-30 terms.
"""


def history_repo(root: Path) -> GitRepo:
    """Seven commits by two authors: add, change, rename (renamed_from), overlay, change, revert,
    and an overlay for another customer."""
    repo = GitRepo(root)
    repo.write("customers.d/acme.yaml", HISTORY_ACME)
    repo.write("customers.d/kiwi.toml", 'currency = "NZD"\nchannels = 8\n')
    repo.commit("Add Acme and Kiwi", author="dana", date="2026-01-05T09:00:00Z")
    repo.write("customers.d/acme.yaml", HISTORY_ACME.replace("channels: 100", "channels: 150"))
    repo.commit("More channels for Acme", author="priya", date="2026-02-01T10:30:00+01:00")
    (root / "customers.d/acme.yaml").unlink()
    renamed = "renamed_from: [acme]\n" + HISTORY_ACME.replace("channels: 100", "channels: 150")
    repo.write("customers.d/acme-telecom.yaml", renamed)
    repo.commit("Rename acme to acme-telecom", author="dana", date="2026-03-01T08:00:00Z")
    repo.write(
        "plans/2026-12-01_acme-capacity.yaml",
        "reason: Peak season\ncustomers:\n  acme-telecom:\n    channels: 300\n    config:\n      tags: [wholesale, peak]\n",
    )
    repo.commit("Schedule peak capacity for Acme", author="priya", date="2026-03-10T12:00:00Z")
    repo.write("customers.d/acme-telecom.yaml", renamed.replace("1000.00", "2000.00"))
    repo.commit("Raise Acme's debit limit", author="dana", date="2026-03-11T09:00:00Z")
    repo.git("revert", "--no-edit", "HEAD", author="priya", date="2026-03-12T09:00:00Z")
    repo.write("plans/2027-01-04_kiwi-reopens.toml", 'reason = "Kiwi reopens"\n[customers.kiwi]\nchannels = 10\n')
    repo.commit("Kiwi reopens in January", author="dana", date="2026-03-13T09:00:00Z")
    return repo
