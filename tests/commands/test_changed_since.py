"""`plan --changed-since REV`: only the customers whose files, overlays or settings changed
since a revision (`reconcile.changed_keys` over `history.git.start_changes`), agreeing with a
full plan at the same instant."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, REPO, Run
from git_repos import GitRepo


def _example_repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    shutil.copytree(EXAMPLES, root / "customers.d")
    shutil.copytree(REPO / "plans", root / "plans")
    shutil.copy(REPO / "reconciler.toml", root / "reconciler.toml")
    repo.write(".gitignore", ".reconciler/\n")
    repo.commit("Examples", date="2026-11-20T00:00:00Z")
    return repo


def test_plan_changed_since_plans_only_what_changed(tmp_path: Path, run: Run) -> None:
    repo = _example_repo(tmp_path / "repo")
    run(repo.root, "apply", "--yes", "--at", "2026-11-20").assert_success()
    path = repo.root / "customers.d/fjord-connect.yaml"
    path.write_text(path.read_text().replace("channels: 40", "channels: 41"))
    assert "channels: 41" in path.read_text()
    # northwind's overlay took effect on 2026-11-01, before the commit: not planned.
    outcome = run(repo.root, "plan", "--changed-since", "HEAD", "--at", "2026-11-21").assert_success()
    assert outcome.out.splitlines()[1:] == [
        "  ~ fjord-connect           update",
        "      channels              40 -> 41",
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.",
    ]
    # By 2026-12-02 acme's raised limit has fallen due: acme is planned too.
    later = run(repo.root, "plan", "--changed-since", "HEAD", "--at", "2026-12-02").assert_success()
    assert [line for line in later.out.splitlines() if line.startswith("  ~")] == [
        "  ~ acme-telecom            update", "  ~ fjord-connect           update",
    ]
    # A full plan at the same instant agrees.
    full = run(repo.root, "plan", "--at", "2026-12-02").assert_success()
    assert full.out.splitlines()[1:] == later.out.splitlines()[1:]


def test_plan_changed_since_follows_overlay_edits_and_config(tmp_path: Path, run: Run) -> None:
    repo = _example_repo(tmp_path / "repo")
    run(repo.root, "apply", "--yes", "--at", "2026-11-20").assert_success()
    (repo.root / "plans/2026-11-01_northwind-more-channels.yaml").unlink()
    outcome = run(repo.root, "plan", "--changed-since", "HEAD", "--at", "2026-11-21").assert_success()
    assert [line for line in outcome.out.splitlines() if line.startswith("  ")] == [
        "  ~ northwind-voip          update",
        "      channels              30 -> 20",
        "      flow_speed            3 -> 2",
    ]
    config = repo.root / "reconciler.toml"
    config.write_text(config.read_text() + "\n")
    assert run(repo.root, "plan", "--changed-since", "HEAD", "--at", "2026-11-21").out == run(
        repo.root, "plan", "--at", "2026-11-21"
    ).out


def test_git_is_asked_what_changed_once_before_the_provider_opens(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command starts git's look at the work tree (`reconcile.start_changes`) before the
    provider opens, and the plan waits for that answer rather than asking again."""
    from reconciler import reconcile
    from reconciler.commands import session as session_module

    repo = _example_repo(tmp_path / "repo")
    run(repo.root, "apply", "--yes", "--at", "2026-11-20").assert_success()
    path = repo.root / "customers.d/fjord-connect.yaml"
    path.write_text(path.read_text().replace("channels: 40", "channels: 41"))
    asked: list[str] = []
    original = reconcile.start_changes

    def counting(root: Path, settings: Any, rev: str, work_tree: Any = None) -> Any:
        asked.append(rev)
        return original(root, settings, rev, work_tree)

    monkeypatch.setattr(reconcile, "start_changes", counting)
    monkeypatch.setattr(session_module, "start_changes", counting)
    outcome = run(repo.root, "plan", "--changed-since", "HEAD", "--at", "2026-11-21").assert_success()
    assert "  ~ fjord-connect           update" in outcome.out.splitlines()
    assert asked == ["HEAD"]
