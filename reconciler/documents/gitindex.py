"""What git's index says of a folder's files, without reading them: how a file git finds
unchanged is named by its blob id (`desired.fleet`).

`git ls-files -s` lists the blob id of every file the index holds, `git status` (`WorkTree`)
the files the work tree changed since: both in C, run beside other work. The one status
serves the plan's revision too (`history.git.current_revision`): on 100,000 files each walk
of the work tree is ~0.1 s of a core.
A blob id is the id of the file's bytes (`documents.cache.content_id`) unless git converts
the file on checkout: line ends change nothing a YAML or TOML reader returns, but a filter,
`ident` or a working-tree encoding would, and such attributes turn the shortcut off.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from reconciler.errors import GitError
from reconciler.gitbinary import start_git

# Attributes that make a file's work-tree bytes differ from its blob by more than line ends
# (which neither YAML nor TOML reads differently).
_CONVERSIONS = ("filter", "ident", "working-tree-encoding")


class CleanIndex:
    """What git's index says of the files directly in a folder, without reading them: the
    blob id of each regular file, and which files the work tree changed since (`git
    status`). A blob id names its file's bytes only where git converts nothing on checkout;
    the attributes that would (a filter, `ident`, an encoding) make `blobs` empty."""

    def __init__(
        self, folder: str, listing: bytes, changed: Callable[[], frozenset[str] | None], converts: bool
    ) -> None:
        self._prefix = folder.strip("/") + "/"
        self.listing = listing  # `git ls-files -s -z` of the folder, as git printed it
        self._changed = changed  # waits for git's status; None where it could not say
        self.converts = converts

    @cached_property
    def changed(self) -> frozenset[str]:
        """File names (in the folder) the work tree changed since the index. git's status
        is waited for only now: what needs the listing alone goes on meanwhile. Where the
        status could not be had, every file the listing holds: each is read."""
        said = self._changed()
        return said if said is not None else frozenset(self._listed)

    @cached_property
    def blobs(self) -> dict[str, str]:
        """{file name: blob id} of the files the work tree did not change."""
        if self.converts:
            return {}
        blobs = dict(self._listed)
        for name in self.changed:
            blobs.pop(name, None)
        return blobs

    @cached_property
    def _listed(self) -> dict[str, str]:
        """{file name: blob id} of every regular file the listing holds."""
        # One regular expression over the whole listing: a loop in Python costs 0.25 s a 100,000 files.
        entries = re.compile("(?:100644|100755) ([0-9a-f]{40}) 0\t" + re.escape(self._prefix) + "([^/\0]+)\0")
        listing = self.listing.decode("utf-8", "surrogateescape")
        return {name: blob for blob, name in entries.findall(listing)}


@dataclass(frozen=True)
class Status:
    """What `git status` says of the work tree: ROOT's path inside the repository ("" at its
    top, else ending in "/") and each file that differs, as (XY, path from the repository's
    top): X the index against HEAD, Y the work tree against the index, "??" untracked."""

    prefix: str
    entries: tuple[tuple[str, str], ...]

    def paths(self) -> set[str]:
        """The path of every file named, relative to the root."""
        return {path[len(self.prefix):] for _, path in self.entries if path.startswith(self.prefix)}

    def changed(self, folder: str) -> frozenset[str]:
        """The paths under FOLDER (relative to the root) of the files the work tree changed
        since the index (modified, deleted, unmerged: what `git diff-files` lists), relative
        to the folder. Untracked files are not among them."""
        inner = _normal(folder)
        prefix = self.prefix + ("" if inner == "." else inner + "/")
        return frozenset(
            path[len(prefix):] for state, path in self.entries
            if state != "??" and state[1] != " " and path.startswith(prefix)
        )


class WorkTree:
    """git's status of the work tree under INPUTS (paths relative to `root`; all of it
    without), started at once and answered once, to any thread that asks."""

    def __init__(self, root: Path, inputs: Sequence[str] = ()) -> None:
        self.inputs = tuple(_normal(path) for path in inputs)
        self._asked = (
            start_git(root, "rev-parse", "--is-inside-work-tree", "--show-prefix"),
            start_git(
                root, "status", "--porcelain", "-z", "--no-renames", "--untracked-files=all", "--", *(self.inputs or ["."])
            ),
        )
        self._lock = threading.Lock()
        self._answered = False
        self._answer: Status | GitError | None = None

    def covers(self, folder: str) -> bool:
        """Whether the status is of every file under FOLDER (relative to the root)."""
        folder = _normal(folder)
        return not self.inputs or any(
            path in (".", folder) or folder.startswith(path + "/") for path in self.inputs
        )

    def status(self) -> Status | None:
        """The status; None outside a work tree (in a `.git` folder, say). GitError as git
        said it (outside a repository: "not a git repository")."""
        with self._lock:
            if not self._answered:
                self._answer, self._answered = self._wait(), True
        if isinstance(self._answer, GitError):
            raise self._answer
        return self._answer

    def _wait(self) -> Status | GitError | None:
        where, status = self._asked
        said: list[bytes | GitError] = []
        for question in (where, status):  # each waited for, so none is left running
            try:
                said.append(question())
            except GitError as exc:
                said.append(exc)
        located, listed = said
        if isinstance(located, GitError):
            return located
        inside, _, prefix = located.decode("utf-8", "surrogateescape").partition("\n")
        if inside != "true":
            return None
        if isinstance(listed, GitError):
            return listed
        entries = listed.decode("utf-8", "surrogateescape").split("\0")
        return Status(prefix.removesuffix("\n"), tuple((entry[:2], entry[3:]) for entry in entries if entry))


def _normal(path: str) -> str:
    """PATH (relative to the root) as one spelling: "." for the root itself."""
    return os.path.normpath(path).strip("/")


def clean_index(
    root: Path, folder: str, suffixes: Sequence[str], work_tree: WorkTree | None = None
) -> Callable[[], CleanIndex | None]:
    """Start asking git about the files directly in FOLDER (relative to `root`); the function
    returned waits for the answer (None outside a repository), so the asking runs beside
    other work. WORK_TREE: git's status, when the caller started it for more than this."""
    prefix = folder.strip("/") + "/"
    commands = {
        "index": ["ls-files", "-s", "-z", "--", folder],
        "attributes": ["check-attr", "-z", *_CONVERSIONS, "--", *(f"{prefix}x{suffix}" for suffix in suffixes)],
    }
    try:
        running = {name: start_git(root, *args) for name, args in commands.items()}
        tree = work_tree if work_tree is not None and work_tree.covers(folder) else WorkTree(root, [folder])
    except GitError:  # no git at all
        return lambda: None

    def changed() -> frozenset[str] | None:
        try:
            status = tree.status()
        except GitError:
            return None
        return status.changed(folder) if status is not None else None

    def answer() -> CleanIndex | None:
        output: dict[str, bytes] = {}
        for name, asked in running.items():  # each waited for, so none is left running
            with suppress(GitError):  # not a repository, say: the files are read instead
                output[name] = asked()
        if len(output) != len(running):
            with suppress(GitError):
                tree.status()  # waited for too
            return None
        attributes = output["attributes"].split(b"\0")
        converts = any(value not in (b"unspecified", b"unset", b"") for value in attributes[2::3])
        return CleanIndex(folder, output["index"], changed, converts)

    return answer
