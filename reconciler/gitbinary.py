"""The `git` binary through a subprocess, the one way the package runs git: `run_git` (its
answer, or a `GitError` that says what went wrong) and `start_git` (started now, answered
when asked, so git works on another core meanwhile). Below everything that asks git
something: `history` (revisions, history), `documents.gitindex` (what the index says of a
folder), the agent's repository."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import GitError


def run_git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run `git -C root ARGS`; its stdout, or GitError with git's own reason."""
    return start_git(root, *args, stdin=stdin)()


def start_git(root: Path, *args: str, stdin: bytes | None = None) -> Callable[[], bytes]:
    """`run_git`, started now: the function returned (call it once) waits for git and gives
    its stdout, or raises its GitError. Started early, git works on another core meanwhile.

    git writes to files, not pipes: a pipe holds 64 KiB, and git would wait on a full one
    (a listing of 100,000 files is 9 MB) until Python came to read it. Without a writable
    temporary folder (a full disk, say) it writes to pipes, read when answered."""
    try:
        # Closed by `answer`: they outlive this call, so no `with` can hold them.
        files = (tempfile.TemporaryFile(), tempfile.TemporaryFile())  # noqa: SIM115
    except OSError:
        files = None
    output, errors = files if files is not None else (subprocess.PIPE, subprocess.PIPE)
    try:
        process = subprocess.Popen(
            ["git", "-C", str(root), *args],
            stdin=subprocess.PIPE if stdin is not None else None, stdout=output, stderr=errors,
        )
    except FileNotFoundError as exc:
        for file in files or ():
            file.close()
        raise GitError("git is not installed (no `git` on PATH)") from exc

    def answer() -> bytes:
        found, said = process.communicate(stdin)
        if files is not None:
            with files[0] as written, files[1] as complained:
                written.seek(0)
                complained.seek(0)
                found, said = written.read(), complained.read()
        if process.returncode != 0:
            message = said.decode("utf-8", "replace").strip()
            if "not a git repository" in message:
                raise GitError(f"{root}: not a git repository")
            raise GitError(f"git {args[0]} failed: {message.removeprefix('fatal: ')}")
        return found

    return answer
