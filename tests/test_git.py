"""reconciler.history.git: git failures as clear errors, blobs in batch, history with renames; and
`plan --changed-since`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, Run
from git_repos import GitRepo

from reconciler.errors import GitError
from reconciler.history import git


def test_not_a_git_repository(tmp_path: Path, run: Run) -> None:
    with pytest.raises(GitError, match=r": not a git repository$"):
        git.resolve(tmp_path, "HEAD")
    outcome = run(tmp_path, "diff", "HEAD~1..HEAD")
    assert (outcome.code, outcome.out, outcome.err) == (1, "", f"error: {tmp_path}: not a git repository\n")
    assert run(tmp_path, "log", "acme").err == f"error: {tmp_path}: not a git repository\n"


def test_unknown_revision(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.commit("Add a")
    outcome = run(tmp_path, "diff", "nope..HEAD")
    assert (outcome.code, outcome.err) == (1, "error: unknown revision nope: no branch, tag or commit of that name\n")
    assert run(tmp_path, "plan", "--changed-since", "v9").err == (
        "error: unknown revision v9: no branch, tag or commit of that name\n"
    )


def test_no_base_to_diff_against(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.commit("Add a")
    repo.git("branch", "-q", "-m", "trunk")
    outcome = run(tmp_path, "diff")
    assert outcome.err == "error: no upstream branch, origin/main or main to compare with; name a range: REV1..REV2\n"


def test_blobs_are_read_in_one_batch_and_cached(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.write("customers.d/b.toml", 'currency = "EUR"\n')
    repo.commit("Two")
    files = git.tree_files(tmp_path, "HEAD", ["customers.d"])
    assert sorted(files) == ["customers.d/a.yaml", "customers.d/b.toml"]
    reader = git.BlobReader(tmp_path)
    contents = reader.read(files.values())
    assert contents[files["customers.d/a.yaml"]] == b"currency: USD\n"
    assert reader.one(files["customers.d/b.toml"]) == b'currency = "EUR"\n'
    with pytest.raises(GitError, match="is missing from the repository"):
        reader.read(["0" * 39 + "1"])


def test_log_reports_renames_with_both_paths(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\nchannels: 10\nflow_speed: 2\nnotes: hello\n")
    repo.commit("Add a", author="dana", date="2026-01-01T00:00:00Z")
    repo.git("mv", "customers.d/a.yaml", "customers.d/b.yaml")
    repo.commit("Rename", author="priya", date="2026-01-02T00:00:00Z")
    commits = list(git.log(tmp_path, ["customers.d"]))
    assert [(commit.subject, commit.author, commit.email) for commit in commits] == [
        ("Rename", "Priya Raman", "priya@carrier.example"), ("Add a", "Dana Whitfield", "dana@carrier.example"),
    ]
    [renamed] = commits[0].files
    assert (renamed.status, renamed.old_path, renamed.path) == ("R", "customers.d/a.yaml", "customers.d/b.yaml")
    assert renamed.old_blob == renamed.new_blob


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


def test_git_missing_from_path_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.errors import GitError
    from reconciler.history.git import run_git

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitError) as caught:
        run_git(tmp_path, "status")
    assert str(caught.value) == "git is not installed (no `git` on PATH)"
