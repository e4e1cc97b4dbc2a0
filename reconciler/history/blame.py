"""`blame`: for each field of a customer's definition, the commit that set its value.

Which file a value comes from is the replay's record (`schedule.state_at`): the latest
overlay in effect that set the field, else the customer's own file. The commit is the
newest in `log` whose change to that file touched the field; uncommitted edits are named
as such.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import Settings
from reconciler.desired.schedule import FieldSource, overlay_setting, related_fields, state_at
from reconciler.desired.state import load_base, load_plans
from reconciler.documents.loader import Load, load_document
from reconciler.documents.merge_patch import FieldLoc
from reconciler.errors import UnknownCustomer
from reconciler.history import git
from reconciler.history.log import Documents, customer_log, entry_for, parent
from reconciler.model.diff import diff_documents
from reconciler.model.fields import NOT_LIVE_FIELDS, canonical_fields
from reconciler.model.types import instant_text


@dataclass(frozen=True)
class BlameLine:
    path: str  # the field
    value: Any  # its current value (JSON-compatible)
    commit: git.Commit | None  # None: uncommitted, or never set (a default)
    source: str  # the file that sets it: the customer file, an overlay, or "" for a default
    uncommitted: bool = False
    overlay: bool = False  # `source` is an overlay in plans/


def customer_blame(
    root: Path, settings: Settings, key: str, at: dt.datetime, *, load: Load = load_document
) -> list[BlameLine]:
    """For each field of `key`'s definition at `at`, the commit that set its value."""
    base = load_base(root, settings, load=load)
    state = state_at(base, load_plans(root, settings, load=load), at)
    if key not in state.customers:
        raise UnknownCustomer(f"customer '{key}' is not defined at {instant_text(at)}")
    leaves = {
        path: value
        for path, value in canonical_fields(state.customers[key]).items()
        if path not in NOT_LIVE_FIELDS
    }
    customers_dir, plans_dir = settings.customers_dir.strip("/"), settings.plans_dir.strip("/")
    file_path = f"{customers_dir}/{base[key].document.path.name}" if key in base else ""
    sources = state.sources.get(key, {})
    source = {path: _source_file(path, sources, plans_dir) or file_path for path in leaves}
    found: dict[str, BlameLine] = {}
    uncommitted = _uncommitted(root, set(source.values()) - {""}, key, plans_dir)
    for path in leaves:
        if path in uncommitted.get(source[path], set()):
            found[path] = BlameLine(
                path, leaves[path], None, source[path], uncommitted=True, overlay=parent(source[path]) == plans_dir
            )
    pending = {path for path in leaves if path not in found}
    if pending:
        for logged in customer_log(root, settings, key) if git.has_revision(root, "HEAD") else []:
            for section in logged.sections:
                for path in list(pending):
                    from_overlay = parent(source[path]) == plans_dir
                    if section.overlay != from_overlay or (from_overlay and section.path != source[path]):
                        continue
                    if any(related_fields(path, change.path) for change in section.changes):
                        found[path] = BlameLine(path, leaves[path], logged.commit, section.path, overlay=section.overlay)
                        pending.discard(path)
            if not pending:
                break
    for path in pending:
        found[path] = BlameLine(path, leaves[path], None, "")
    return [found[path] for path in leaves]


def _source_file(path: str, sources: Mapping[FieldLoc, FieldSource], plans_dir: str) -> str | None:
    """The overlay file the value at `path` comes from; None when the customer's own file sets it."""
    overlay = overlay_setting(sources, path)
    return f"{plans_dir}/{overlay.path.name}" if overlay is not None else None


def _uncommitted(root: Path, files: set[str], key: str, plans_dir: str) -> dict[str, set[str]]:
    """Fields of `key` that differ between HEAD and the working tree, per file."""
    head = git.tree_files(root, "HEAD", sorted(files)) if files and git.has_revision(root, "HEAD") else {}
    documents = Documents(root)
    result: dict[str, set[str]] = {}
    for name in files:
        before = documents.get(head.get(name), name)
        now = load_document(root / name).data
        if parent(name) == plans_dir:
            before, now = entry_for(before, {key}) or {}, entry_for(now, {key}) or {}
        result[name] = {change.path for change in diff_documents(before, now)}
    return result


