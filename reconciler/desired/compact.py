"""Compaction: fold overlays that have wholly taken effect into the customer files.

An overlay folds before DATE when it took effect before DATE and has no `until`, so from
DATE on it is in effect for good. Folding it moves its patches into the base files, which
keeps the state at every T >= DATE the same provided, for each customer, every folded
patch applied before every patch that stays. So an overlay that stays and is still in
effect at DATE (it has an `until` after DATE) holds back every later overlay touching one
of its customers; one that ended by DATE is never in effect again and holds back nothing.
Before DATE the state may change (folded overlays now hold from the beginning): that is
what compacting means.

An overlay folds whole or not at all.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.desired.customers import CustomerFile
from reconciler.desired.overlays import Overlay
from reconciler.documents.edit import new_text, patch_text
from reconciler.documents.loader import load_document
from reconciler.documents.merge_patch import merge_patch, patched_fields
from reconciler.documents.writing import write_file
from reconciler.model.customer import Customer
from reconciler.model.fields import field_path
from reconciler.model.types import instant_text


@dataclass(frozen=True)
class Compaction:
    """Which overlays fold before an instant, and why each other one that has started stays."""

    before: dt.datetime
    folded: tuple[Overlay, ...]
    kept: tuple[tuple[Overlay, str], ...]


def plan_compaction(overlays: Sequence[Overlay], before: dt.datetime) -> Compaction:
    folded: list[Overlay] = []
    kept: list[tuple[Overlay, str]] = []
    held: dict[str, Overlay] = {}  # customer -> the overlay in effect at DATE that holds it back
    for overlay in sorted(overlays, key=lambda overlay: overlay.order):
        if overlay.effective_at >= before:
            break
        if overlay.until is not None and overlay.until <= before:
            kept.append((overlay, f"it ended at {instant_text(overlay.until)}; delete it when its history is no longer wanted"))
            continue
        blocker = next((held[key] for key in sorted(overlay.customer_keys()) if key in held), None)
        if overlay.until is None and blocker is None:
            folded.append(overlay)
            continue
        if overlay.until is not None:
            kept.append((overlay, f"it is in effect until {instant_text(overlay.until)}"))
        elif blocker is not None:
            kept.append((overlay, f"{blocker.path.name} changes the same customer before it and stays"))
        for key in overlay.customer_keys():
            held.setdefault(key, overlay)
    return Compaction(before, tuple(folded), tuple(kept))


def fold_documents(
    base: Mapping[str, Mapping[str, Any]], folded: Sequence[Overlay]
) -> dict[str, dict[str, Any]]:
    """The base documents with `folded` applied, in order."""
    documents = {key: dict(document) for key, document in base.items()}
    for overlay in folded:
        for key, document in overlay.create.items():
            documents[key] = copy.deepcopy(dict(document))
        for key, patch in overlay.customers.items():
            documents[key] = merge_patch(documents[key], patch)
    return documents


@dataclass(frozen=True)
class FileEdit:
    """One file compaction writes (`text`) or removes (`text` None), and what it says about it."""

    path: Path
    text: str | None
    summary: str


def compaction_edits(
    base: Mapping[str, CustomerFile], compaction: Compaction, customers_dir: Path
) -> list[FileEdit]:
    """Every file to write or remove, in order; each rewritten file is checked to read back as intended."""
    patches: dict[str, list[Mapping[str, Any]]] = {}
    created: dict[str, tuple[Overlay, Mapping[str, Any]]] = {}
    notes: dict[str, list[str]] = {}
    for overlay in compaction.folded:
        for key, document in overlay.create.items():
            created[key] = (overlay, document)
            notes.setdefault(key, []).append(f"new customer (from {overlay.path.name})")
        for key, patch in overlay.customers.items():
            patches.setdefault(key, []).append(patch)
            fields = ", ".join(field_path(loc) for loc, _ in patched_fields(patch))
            notes.setdefault(key, []).append(f"{fields} (from {overlay.path.name})")
    intended = fold_documents(
        {key: customer_file.document.data for key, customer_file in base.items()}, compaction.folded
    )
    edits: list[FileEdit] = []
    for key in sorted(notes):
        if key in created:
            overlay, document = created[key]
            path = customers_dir / f"{key}{overlay.path.suffix}"
            header = [overlay.reason, f"Created by {overlay.path.name}, folded in by reconciler compact."]
            text = patch_text(path, new_text(path, document, header), patches.get(key, []))
        else:
            path = base[key].document.path
            text = patch_text(path, path.read_text(encoding="utf-8"), patches[key])
        _check_reads_back(path, text, intended[key])
        edits.append(FileEdit(path, text, "; ".join(notes[key])))
    edits.extend(FileEdit(overlay.path, None, "folded") for overlay in compaction.folded)
    return edits


def _check_reads_back(path: Path, text: str, expected: Mapping[str, Any]) -> None:
    # The rewrite must mean what the merge patch means; anything else is a bug, not a user error.
    written = Customer.model_validate(load_document(path, text.encode("utf-8")).data)
    if written != Customer.model_validate(expected):
        raise AssertionError(f"compact would change the meaning of {path}; not writing it")


def write_edits(edits: Sequence[FileEdit]) -> None:
    for edit in edits:
        if edit.text is None:
            edit.path.unlink()
        else:
            write_file(edit.path, edit.text.encode("utf-8"))
