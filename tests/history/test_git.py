"""reconciler.history.git: git failures as clear errors, blobs in batch, history with renames."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from git_repos import GitRepo

from reconciler import gitbinary
from reconciler.documents.gitindex import CleanIndex, WorkTree
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


def test_git_missing_from_path_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.errors import GitError
    from reconciler.gitbinary import run_git

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitError) as caught:
        run_git(tmp_path, "status")
    assert str(caught.value) == "git is not installed (no `git` on PATH)"


def test_a_plan_is_dirty_only_when_what_the_reconciler_reads_changed(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.write("reconciler.toml", "")
    commit = repo.commit("Customers")
    inputs = ["customers.d", "plans", "reconciler.toml"]
    (repo.root / "notes.txt").write_text("an editor's notes\n")
    (repo.root / "plan.md").write_text("a pipeline's output\n")
    assert git.current_revision(repo.root, inputs) == git.Revision(commit, False)
    (repo.root / "customers.d/b.yaml").write_text("currency: EUR\n")  # new, not yet committed
    assert git.current_revision(repo.root, inputs) == git.Revision(commit, True)
    (repo.root / "customers.d/b.yaml").unlink()
    (repo.root / "reconciler.toml").write_text("owned_fields = []\n")
    assert git.current_revision(repo.root, inputs).dirty


def test_git_started_early_finishes_before_its_answer_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`start_git` hands git a file, not a pipe: a listing larger than a pipe holds (64 KiB)
    is written while Python does other work, and git is done before anyone reads it."""
    import subprocess

    repo = GitRepo(tmp_path)
    for number in range(2000):
        repo.write(f"customers.d/customer-{number:05d}.yaml", f"channels: {number}\n")
    repo.commit("Many")
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    answer = gitbinary.start_git(tmp_path, "ls-files", "-s", "-z", "--", "customers.d")
    [process] = started
    assert process.wait(timeout=60) == 0  # git ended with nobody reading it
    listing = answer()
    assert len(listing) > 64 * 1024
    assert listing.count(b"\0") == 2000
    with pytest.raises(GitError) as caught:
        gitbinary.start_git(tmp_path, "rev-parse", "--verify", "--end-of-options", "nope")()
    assert str(caught.value) == "git rev-parse failed: Needed a single revision"


def test_changes_since_a_revision_report_a_failing_git_after_waiting_for_all(tmp_path: Path) -> None:
    """`start_changes` asks git all it needs at once; one that fails is reported as git said
    it, and the others are waited for (none left running)."""
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.commit("Add a")
    changed, _ = git.start_changes(tmp_path, "HEAD", ["customers.d"])()
    assert changed == set()
    (tmp_path / "customers.d/b.yaml").write_text("currency: EUR\n")
    assert git.start_changes(tmp_path, "HEAD", ["customers.d"])()[0] == {"customers.d/b.yaml"}
    answer = git.start_changes(tmp_path, "HEAD", [":(nope)customers.d"])
    with pytest.raises(GitError) as caught:
        answer()
    assert str(caught.value) == "git diff failed: Invalid pathspec magic 'nope' in ':(nope)customers.d'"


def test_git_answers_through_pipes_without_a_writable_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk or a read-only TMPDIR costs git's answers their files, not the command:
    they come through pipes, and git's own failures read as always."""
    import tempfile

    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.commit("Add a")

    def no_room(*_: Any, **__: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_room)
    assert gitbinary.run_git(tmp_path, "ls-files", "-z").split(b"\0")[0] == b"customers.d/a.yaml"
    with pytest.raises(GitError) as caught:
        gitbinary.run_git(tmp_path, "rev-parse", "--verify", "--end-of-options", "nope")
    assert str(caught.value) == "git rev-parse failed: Needed a single revision"


def test_the_work_tree_names_what_git_diff_files_names_from_a_root_inside_the_repository(tmp_path: Path) -> None:
    """`WorkTree`: one `git status` of what the reconciler reads. The files of a folder the
    work tree changed since the index are those `git diff-files` names (modified, deleted;
    not staged alone, not untracked), by their path in the folder, wherever the project's
    root sits in the repository."""
    repo = GitRepo(tmp_path / "repo")
    for name in ("edited", "deleted", "staged", "same", "touched"):
        repo.write(f"ops/customers.d/{name}.yaml", "currency: USD\n")
    repo.write("ops/customers.d/deeper/x.yaml", "currency: USD\n")
    repo.write("customers.d/elsewhere.yaml", "currency: USD\n")  # the same folder name, outside the root
    repo.commit("Customers")
    root = repo.root / "ops"
    (root / "customers.d/edited.yaml").write_text("currency: EUR\n")
    (root / "customers.d/deleted.yaml").unlink()
    (root / "customers.d/staged.yaml").write_text("currency: GBP\n")
    repo.git("add", "ops/customers.d/staged.yaml")
    (root / "customers.d/touched.yaml").touch()  # its stat data only
    (root / "customers.d/deeper/x.yaml").write_text("currency: EUR\n")
    (root / "customers.d/new.yaml").write_text("currency: USD\n")
    (repo.root / "customers.d/elsewhere.yaml").write_text("currency: EUR\n")
    said = WorkTree(root, ["customers.d", "plans", "reconciler.toml"]).status()
    assert said is not None and said.prefix == "ops/"
    assert said.changed("customers.d") == said.changed("./customers.d/") == {"edited.yaml", "deleted.yaml", "deeper/x.yaml"}
    assert said.changed(".") == {f"customers.d/{name}" for name in ("edited.yaml", "deleted.yaml", "deeper/x.yaml")}
    diff_files = repo.git("-C", "ops", "diff-files", "--name-only", "--relative", "--", "customers.d")
    assert {line.removeprefix("customers.d/") for line in diff_files.split()} - {"touched.yaml"} == said.changed("customers.d")
    assert git.current_revision(root, [], WorkTree(root, ["customers.d"])).dirty


def test_the_work_tree_outside_a_repository_and_inside_git_s_own_folder(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        WorkTree(tmp_path).status()
    assert git.current_revision(tmp_path) == git.Revision(None, False)
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.yaml", "currency: USD\n")
    repo.commit("One")
    assert WorkTree(repo.root / ".git").status() is None
    assert git.current_revision(repo.root / ".git") == git.Revision(None, False)


def test_a_work_tree_covers_the_folders_under_what_it_was_asked_of(tmp_path: Path) -> None:
    tree = WorkTree(tmp_path, ["customers.d", "./plans/", "reconciler.toml"])
    assert tree.covers("customers.d") and tree.covers("plans/2026") and tree.covers("./customers.d/")
    assert not tree.covers("customers") and not tree.covers("other")
    assert WorkTree(tmp_path).covers("anything") and WorkTree(tmp_path, ["."]).covers("customers.d")
    with contextlib.suppress(GitError):
        tree.status()  # waited for: nothing left running


def test_what_changed_since_a_revision_is_the_commits_since_and_the_status(tmp_path: Path) -> None:
    """`start_changes`: the files that differ between REV and git's index, and those git's
    status names (edited, staged, new); one changed and changed back is named too, which
    plans it for nothing; on a branch without a commit yet, the same."""
    repo = GitRepo(tmp_path / "repo")
    for name in ("a", "b", "c", "d", "back"):
        repo.write(f"customers.d/{name}.yaml", "currency: USD\n")
    repo.write("notes.txt", "not read\n")
    since = repo.commit("One", date="2026-11-01T10:00:00Z")
    repo.write("customers.d/a.yaml", "currency: EUR\n")
    repo.write("customers.d/back.yaml", "currency: EUR\n")
    repo.write("notes.txt", "still not read\n")
    repo.commit("Two")
    (repo.root / "customers.d/back.yaml").write_text("currency: USD\n")  # as it was at SINCE
    (repo.root / "customers.d/b.yaml").write_text("currency: GBP\n")
    (repo.root / "customers.d/c.yaml").write_text("currency: GBP\n")
    repo.git("add", "customers.d/c.yaml")
    (repo.root / "customers.d/new.yaml").write_text("currency: USD\n")
    inputs = ["customers.d", "plans", "reconciler.toml"]
    changed, committed = git.start_changes(repo.root, since, inputs)()
    assert changed == {f"customers.d/{name}.yaml" for name in ("a", "back", "b", "c", "new")}
    assert committed == dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    shared = WorkTree(repo.root, inputs)
    assert git.start_changes(repo.root, "HEAD", inputs, shared)()[0] == {
        f"customers.d/{name}.yaml" for name in ("back", "b", "c", "new")
    }
    assert shared.status() is not None  # the same answer, asked again
    repo.git("checkout", "-q", "--orphan", "fresh")  # a branch without a commit: no HEAD to compare with
    assert git.start_changes(repo.root, since, inputs)()[0] >= {"customers.d/new.yaml", "customers.d/b.yaml"}


def test_an_index_whose_status_could_not_be_had_reads_every_file(tmp_path: Path) -> None:
    """`CleanIndex`: git's status is waited for when `changed` is first asked; where it
    could not be had, every file of the listing counts as changed, and none is named by
    its blob."""
    repo = GitRepo(tmp_path)
    repo.write("customers.d/a.yaml", "currency: USD\n")
    repo.write("customers.d/b.yaml", "currency: EUR\n")
    repo.commit("Two")
    listing = gitbinary.run_git(tmp_path, "ls-files", "-s", "-z", "--", "customers.d")
    asked: list[str] = []

    def edited() -> frozenset[str]:
        asked.append("status")
        return frozenset({"a.yaml"})

    index = CleanIndex("customers.d", listing, edited, converts=False)
    assert asked == []  # the listing alone asks nothing of the status
    assert set(index.blobs) == {"b.yaml"} and index.changed == {"a.yaml"} and asked == ["status"]
    unknown = CleanIndex("customers.d", listing, lambda: None, converts=False)
    assert unknown.changed == {"a.yaml", "b.yaml"} and unknown.blobs == {}
