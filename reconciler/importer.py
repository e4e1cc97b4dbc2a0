"""Import: customer files written from the live platform, to bootstrap a repository.

A written file holds what the live record holds, in the model's field order, leaving out
every value that is the default (and `name` when it is the key), money as exact decimals
(25000.00, never a float). Planning right after an import finds nothing to change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from reconciler.desired.customers import load_customers
from reconciler.documents.edit import new_text
from reconciler.documents.loader import SUFFIXES
from reconciler.documents.writing import write_file
from reconciler.errors import ExistingFile
from reconciler.model.customer import Customer
from reconciler.model.fields import DECIMAL_FIELDS, LEAF_MAPS, MONEY_FIELDS, canonical_document
from reconciler.providers.base import LiveCustomer

Format = Literal["yaml", "toml"]
SCHEMA = "schemas/customer.schema.json"


@dataclass(frozen=True)
class Imported:
    key: str
    path: Path
    replaced: tuple[Path, ...]  # files of the same customer that were there before
    managed: bool  # False: the next apply adopts the record (no field changes)


def import_customers(
    root: Path, customers_dir: str, live: Mapping[str, LiveCustomer], *, file_format: Format,
    overwrite: bool, header: Sequence[str] = (),
) -> list[Imported]:
    """Write one file per live customer; ExistingFile (nothing written) for files already there."""
    directory = root / customers_dir
    existing = {key: [directory / f"{key}{suffix}" for suffix in SUFFIXES if (directory / f"{key}{suffix}").exists()]
                for key in sorted(live)}
    if not overwrite and any(existing.values()):
        raise ExistingFile("\n".join(
            f"{path.relative_to(root)} already exists; pass --overwrite to replace it"
            for paths in existing.values() for path in paths
        ))
    directory.mkdir(parents=True, exist_ok=True)
    schema = Path(os.path.relpath(root / SCHEMA, directory)).as_posix()
    imported: list[Imported] = []
    for key in sorted(live):
        record = live[key]
        path = directory / f"{key}.{file_format}"
        for old in existing[key]:
            old.unlink()
        write_file(path, customer_text(path, key, record.customer, schema=schema, header=header).encode("utf-8"))
        imported.append(Imported(key, path, tuple(existing[key]), record.managed))
    load_customers([entry.path for entry in imported])  # what we wrote must read back
    return imported


def customer_text(path: Path, key: str, customer: Customer, *, schema: str, header: Sequence[str] = ()) -> str:
    """The text of customer file `path` (.yaml or .toml) holding `customer`."""
    if path.suffix == ".toml":
        top = f"#:schema {schema}\n"  # taplo's directive; editors with TOML support read it
    else:
        top = f"# yaml-language-server: $schema={schema}\n"
    return top + new_text(path, minimal_document(key, customer), header)


def minimal_document(key: str, customer: Customer) -> dict[str, Any]:
    """The customer's canonical document without defaults, in the form's order; decimals as
    `Decimal` of their canonical text, so they are written as numbers (25000.00, 7.5)."""
    document = canonical_document(customer)
    defaults = canonical_document(Customer(currency=customer.currency))
    minimal = _prune(document, defaults, "")
    if minimal.get("name") == key:
        del minimal["name"]
    minimal.pop("renamed_from", None)  # the repository's bookkeeping: an import starts afresh
    minimal["currency"] = customer.currency  # required, so always written, in its place
    return {name: minimal[name] for name in document if name in minimal}


def _prune(document: Mapping[str, Any], defaults: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in document.items():
        path = f"{prefix}{name}"
        default = defaults.get(name) if defaults is not None else None
        if value is None or (defaults is not None and name in defaults and value == default):
            continue
        if isinstance(value, Mapping) and path not in LEAF_MAPS:
            branch = _prune(value, default if isinstance(default, Mapping) else None, f"{path}.")
            if branch:
                kept[name] = branch
            continue
        kept[name] = _written(path, value)
    return kept


def _written(path: str, value: Any) -> Any:
    """A value as the file writes it: decimals as numbers (whole ones that are not money as
    integers: 30, not 30.0), unset keys of list items left out."""
    if path in DECIMAL_FIELDS and isinstance(value, str):
        amount = Decimal(value)
        return int(amount) if path not in MONEY_FIELDS and amount == amount.to_integral_value() else amount
    if isinstance(value, list):
        return [_written(path, item) for item in value]
    if isinstance(value, Mapping):
        return {name: _written(f"{path}.{name}", item) for name, item in value.items() if item is not None}
    return value
