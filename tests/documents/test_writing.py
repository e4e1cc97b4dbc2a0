"""Files the user names are written atomically and over regular files only (`plan --out`,
`import`, `compact --write`, `init`, `schema`, the document cache all write through it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import Run

from reconciler.documents.writing import write_file
from reconciler.errors import UsageError


def test_plan_out_to_a_device_leaves_the_device_alone(project: Path, run: Run) -> None:
    outcome = run(project, "plan", "--out", "/dev/null")
    assert outcome.code == 1
    assert outcome.err == "error: cannot write /dev/null: it is a device; name a regular file\n"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_plan_out_to_a_fifo_is_refused_without_blocking(project: Path, run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    outcome = run(project, "plan", "--out", str(fifo))
    assert (outcome.code, outcome.err) == (1, f"error: cannot write {fifo}: it is a FIFO; name a regular file\n")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_plan_out_to_a_folder_is_refused(project: Path, run: Run, tmp_path: Path) -> None:
    outcome = run(project, "plan", "--out", str(tmp_path))
    assert (outcome.code, outcome.err) == (1, f"error: cannot write {tmp_path}: it is a folder; name a regular file\n")


def test_plan_out_into_a_missing_folder_is_refused(project: Path, run: Run, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "plan.json"
    outcome = run(project, "plan", "--out", str(target))
    assert (outcome.code, outcome.err) == (
        1, f"error: cannot write {target}: folder {target.parent} does not exist; create it first\n"
    )
    assert not target.parent.exists()


def test_a_link_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("kept")
    link = tmp_path / "plan.json"
    link.symlink_to(elsewhere)
    with pytest.raises(UsageError, match="it is a symbolic link; name a regular file"):
        write_file(link, b"{}")
    assert elsewhere.read_text() == "kept"


def test_a_file_is_replaced_whole_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")
    target.chmod(0o600)
    write_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["plan.json"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")

    def full_disk(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(UsageError, match=r"cannot write .*plan.json: No space left on device"):
        write_file(target, b"new")
    assert [path.name for path in tmp_path.iterdir()] == ["plan.json"]
    assert target.read_text() == "old"
