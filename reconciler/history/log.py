"""`log`: the commits that changed a customer's definition, each with its field changes.
The commit behind each current value is `blame`; desired state between revisions, `revisions`.

A customer's definition is its file in customers.d/ (followed across renames, by git's
rename detection and by `renamed_from`) plus its entry in every overlay of plans/ that
names it. One `git log --raw` over both folders gives every candidate commit; only the
blobs of files that concern the customer are read (one `git cat-file --batch`), each
parsed once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import Settings
from reconciler.desired.overlays import effective_instant
from reconciler.documents.loader import SUFFIXES, load_document
from reconciler.errors import InvalidInput, UnknownCustomer
from reconciler.history import git
from reconciler.model.diff import FieldChange, diff_documents
from reconciler.model.types import instant_text


@dataclass(frozen=True)
class Section:
    """What one commit did to one file that defines the customer."""

    path: str  # relative to the project root
    what: str  # "added", "changed", "removed", "renamed from X", "scheduled ..."
    changes: tuple[FieldChange, ...]
    overlay: bool = False


@dataclass(frozen=True)
class LogEntry:
    commit: git.Commit
    sections: tuple[Section, ...]


class Documents:
    """Blob -> parsed document, each blob read and parsed once."""

    def __init__(self, root: Path) -> None:
        self.blobs = git.BlobReader(root)
        self._parsed: dict[str, dict[str, Any]] = {}

    def get(self, blob: str | None, name: str) -> dict[str, Any]:
        if blob is None:
            return {}
        if blob not in self._parsed:
            try:
                self._parsed[blob] = load_document(Path(name), self.blobs.one(blob)).data
            except InvalidInput:
                self._parsed[blob] = {}  # a file broken in that commit defines nothing
        return self._parsed[blob]

    def names_any(self, blob: str | None, keys: set[str]) -> bool:
        """Cheap test before parsing: could the blob name one of `keys` at all?"""
        if blob is None:
            return False
        content = self.blobs.one(blob)
        return any(key.encode() in content for key in keys)


def customer_log(root: Path, settings: Settings, key: str, *, rev: str = "HEAD") -> list[LogEntry]:
    """The commits that changed `key`'s definition, newest first, each with its field changes."""
    customers_dir = settings.customers_dir.strip("/")
    plans_dir = settings.plans_dir.strip("/")
    documents = Documents(root)
    tracked = {key} | _current_renamed_from(root / customers_dir, key)
    entries: list[LogEntry] = []
    commits = list(git.log(root, [customers_dir, plans_dir], rev=rev))
    # One `cat-file --batch` for every blob the walk is likely to read: overlays, and the
    # customer's own file (earlier keys found on the way are read as they come).
    documents.blobs.read(
        blob
        for commit in commits
        for change in commit.files
        if parent(change.path) == plans_dir or stem(change.path) in tracked or stem(change.old_path) in tracked
        for blob in (change.old_blob, change.new_blob)
        if blob is not None
    )
    for commit in commits:
        customer_files = [change for change in commit.files if parent(change.path) == customers_dir and _is_data(change.path)]
        paired = _follow_renames(customer_files, tracked, documents)
        sections: list[Section] = []
        for change in customer_files:
            if change.status == "D" and any(removed is change for removed in paired.values()):
                continue  # shown as the rename it is part of
            if stem(change.path) not in tracked and stem(change.old_path) not in tracked:
                continue
            sections.append(_customer_section(change, paired.get(change.path), documents))
        for change in commit.files:
            if parent(change.path) == plans_dir and _is_data(change.path):
                section = _overlay_section(change, tracked, documents)
                if section is not None:
                    sections.append(section)
        if sections:
            entries.append(LogEntry(commit, tuple(sections)))
    if not entries and not _exists(root / customers_dir, key):
        raise UnknownCustomer(
            f"customer '{key}': no file {customers_dir}/{key}.yaml or .toml, and no commit touches one"
        )
    return entries


def _follow_renames(
    changes: list[git.FileChange], tracked: set[str], documents: Documents
) -> dict[str, git.FileChange]:
    """Extend `tracked` with the customer's earlier keys; new path -> the deletion that, with
    this add, is a rename git did not detect (renamed_from names the old key)."""
    paired: dict[str, git.FileChange] = {}
    deleted = {stem(change.old_path): change for change in changes if change.status == "D"}
    for change in changes:
        new_key, old_key = stem(change.path), stem(change.old_path)
        if new_key not in tracked:
            continue
        if change.status == "R":
            tracked.add(old_key)
        if change.status == "A":
            for earlier in documents.get(change.new_blob, change.path).get("renamed_from") or []:
                if isinstance(earlier, str):
                    tracked.add(earlier)
                    if earlier in deleted:
                        paired[change.path] = deleted[earlier]
    return paired


def _customer_section(change: git.FileChange, removed: git.FileChange | None, documents: Documents) -> Section:
    old_blob, old_path = change.old_blob, change.old_path
    if removed is not None:
        old_blob, old_path = removed.old_blob, removed.old_path
    before = documents.get(old_blob, old_path)
    after = documents.get(change.new_blob, change.path)
    if change.status == "A" and removed is None:
        what = "added"
    elif change.status == "D":
        what = "removed"
    elif old_path != change.path:
        what = f"renamed from {old_path}"
    else:
        what = "changed"
    return Section(change.path, what, tuple(_diff(before, after)))


def _overlay_section(change: git.FileChange, tracked: set[str], documents: Documents) -> Section | None:
    if not (documents.names_any(change.old_blob, tracked) or documents.names_any(change.new_blob, tracked)):
        return None
    before = entry_for(documents.get(change.old_blob, change.old_path), tracked)
    after = entry_for(documents.get(change.new_blob, change.path), tracked)
    if before is None and after is None:
        return None
    instant = effective_instant(Path(change.path))
    when = f"from {instant_text(instant)}" if isinstance(instant, dt.datetime) else "at an invalid instant"
    document = documents.get(change.new_blob, change.path) or documents.get(change.old_blob, change.old_path)
    until = document.get("until")
    if until is not None:
        when += f" until {until if isinstance(until, str) else instant_text(until)}"
    if before is None:
        what = f"scheduled {when}"
    elif after is None:
        what = f"unscheduled (was {when})"
    else:
        what = f"rescheduled {when}" if change.old_path != change.path else f"schedule changed ({when})"
    return Section(change.path, what, tuple(_diff(before or {}, after or {})), overlay=True)


def entry_for(document: Mapping[str, Any], keys: set[str]) -> dict[str, Any] | None:
    for section in ("customers", "create"):
        entries = document.get(section)
        if isinstance(entries, Mapping):
            for key in keys:
                if isinstance(entries.get(key), Mapping):
                    return dict(entries[key])
    return None


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    return diff_documents(before, after)


# --- helpers ------------------------------------------------------------------------------


def _current_renamed_from(directory: Path, key: str) -> set[str]:
    for suffix in SUFFIXES:
        path = directory / f"{key}{suffix}"
        if path.exists():
            try:
                earlier = load_document(path).data.get("renamed_from") or []
            except InvalidInput:
                return set()
            return {name for name in earlier if isinstance(name, str)}
    return set()


def _exists(directory: Path, key: str) -> bool:
    return any((directory / f"{key}{suffix}").exists() for suffix in SUFFIXES)


# Plain string work: this runs for every file of every commit (PurePosixPath is ~10x slower).


def parent(path: str) -> str:
    return path.rpartition("/")[0] or "."


def stem(path: str) -> str:
    return os.path.splitext(path.rpartition("/")[2])[0]


def _is_data(path: str) -> bool:
    name = path.rpartition("/")[2]
    return os.path.splitext(name)[1] in SUFFIXES and not name.startswith(".")
