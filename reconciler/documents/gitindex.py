"""What git's index says of a folder's files, without reading them: how a file git finds
unchanged is named by its blob id (`desired.fleet`).

`git ls-files -s` lists the blob id of every file the index holds, `git diff-files` the
files the work tree changed since (by their stat data): both in C, run beside other work.
A blob id is the id of the file's bytes (`documents.cache.content_id`) unless git converts
the file on checkout: line ends change nothing a YAML or TOML reader returns, but a filter,
`ident` or a working-tree encoding would, and such attributes turn the shortcut off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import cached_property
from pathlib import Path

from reconciler.errors import GitError
from reconciler.gitbinary import start_git

# Attributes that make a file's work-tree bytes differ from its blob by more than line ends
# (which neither YAML nor TOML reads differently).
_CONVERSIONS = ("filter", "ident", "working-tree-encoding")


class CleanIndex:
    """What git's index says of the files directly in a folder, without reading them: the
    blob id of each regular file, and which files the work tree changed since (by their stat
    data). A blob id names its file's bytes only where git converts nothing on checkout; the
    attributes that would (a filter, `ident`, an encoding) make `blobs` empty."""

    def __init__(self, folder: str, listing: bytes, changed: frozenset[str], converts: bool) -> None:
        self._prefix = folder.strip("/") + "/"
        self.listing = listing  # `git ls-files -s -z` of the folder, as git printed it
        self.changed = changed  # file names (in the folder) the work tree changed
        self.converts = converts

    @cached_property
    def blobs(self) -> dict[str, str]:
        """{file name: blob id} of the files the work tree did not change."""
        if self.converts:
            return {}
        # One regular expression over the whole listing: a loop in Python costs 0.25 s a 100,000 files.
        entries = re.compile("(?:100644|100755) ([0-9a-f]{40}) 0\t" + re.escape(self._prefix) + "([^/\0]+)\0")
        listing = self.listing.decode("utf-8", "surrogateescape")
        blobs = {name: blob for blob, name in entries.findall(listing)}
        for name in self.changed:
            blobs.pop(name, None)
        return blobs


def clean_index(root: Path, folder: str, suffixes: Sequence[str]) -> Callable[[], CleanIndex | None]:
    """Start asking git about the files directly in FOLDER (relative to `root`); the function
    returned waits for the answer (None outside a repository), so the asking runs beside
    other work."""
    prefix = folder.strip("/") + "/"
    commands = {
        "index": ["ls-files", "-s", "-z", "--", folder],
        "changed": ["diff-files", "--name-only", "--relative", "-z", "--", folder],
        "attributes": ["check-attr", "-z", *_CONVERSIONS, "--", *(f"{prefix}x{suffix}" for suffix in suffixes)],
    }
    try:
        running = {name: start_git(root, *args) for name, args in commands.items()}
    except GitError:  # no git at all
        return lambda: None

    def answer() -> CleanIndex | None:
        output: dict[str, bytes] = {}
        for name, asked in running.items():  # each waited for, so none is left running
            with suppress(GitError):  # not a repository, say: the files are read instead
                output[name] = asked()
        if len(output) != len(running):
            return None
        attributes = output["attributes"].split(b"\0")
        converts = any(value not in (b"unspecified", b"unset", b"") for value in attributes[2::3])
        changed = frozenset(
            path[len(prefix):] for path in output["changed"].decode("utf-8", "surrogateescape").split("\0")
            if path.startswith(prefix)
        )
        return CleanIndex(folder, output["index"], changed, converts)

    return answer
