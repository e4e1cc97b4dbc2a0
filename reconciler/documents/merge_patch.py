"""JSON Merge Patch (RFC 7386) over plain documents, and the fields a patch sets.

A patch's mappings merge into the target's, key by key; any other value (a scalar, a list)
replaces the target's value whole; null removes the key, so the field falls back to its
model default. Nothing is modified in place: the result shares no mutable part with the
target or the patch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

FieldLoc = tuple[str, ...]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2, `MergePatch(Target, Patch)`."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    merged: dict[str, Any] = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def patched_fields(patch: Mapping[str, Any], prefix: FieldLoc = ()) -> Iterator[tuple[FieldLoc, Any]]:
    """Every field a patch sets and the value it sets there (None: removed), depth first.

    A mapping in the patch is a branch, not a value: `{config: {tags: [a]}}` sets
    `config.tags`, and leaves the rest of `config` alone.
    """
    for name, value in patch.items():
        loc = (*prefix, name)
        if isinstance(value, Mapping) and value:
            yield from patched_fields(value, loc)
        else:
            yield loc, value
