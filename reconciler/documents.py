"""Customer documents as flat field paths: the common currency of diff, audit and blame.

A path is the dotted route to a leaf of `Customer.document()`: `debit_limit`,
`config.invoice.due_days`, `day_time_restriction.windows`. Lists and free-form maps
(`config.portal_access`) are leaves: they are compared, shown and audited whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Maps whose keys are data, not field names: a leaf, not a branch.
LEAF_MAPS = frozenset({"config.portal_access"})


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested document into {dotted path: leaf value}."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and path not in LEAF_MAPS:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten`."""
    document: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        branch = document
        for parent in parents:
            branch = branch.setdefault(parent, {})
        branch[leaf] = value
    return document
