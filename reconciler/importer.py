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

from reconciler.customers import load_customers
from reconciler.diff import money_text
from reconciler.errors import ReconcilerError
from reconciler.loader import SUFFIXES
from reconciler.model import Customer
from reconciler.providers.base import LiveCustomer
from reconciler.render.values import MONEY_FIELDS
from reconciler.roundtrip import new_text

Format = Literal["yaml", "toml"]
SCHEMA = "schemas/customer.schema.json"


class ExistingFile(ReconcilerError):
    """A customer file is already there and --overwrite was not given."""


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
        path.write_text(customer_text(path, key, record.customer, schema=schema, header=header), encoding="utf-8")
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
    """The customer's document without defaults, in the model's order; money as exact decimals."""
    document = customer.model_dump(by_alias=True)
    defaults = Customer(currency=customer.currency).model_dump(by_alias=True)
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
        if isinstance(value, Mapping) and path != "config.portal_access":
            branch = _prune(value, default if isinstance(default, Mapping) else None, f"{path}.")
            if branch:
                kept[name] = branch
            continue
        kept[name] = _exact(path, value)
    return kept


def _exact(path: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        # Money with its cents (25000.00); other decimals as short as they are exact (30, 7.5).
        if path in MONEY_FIELDS:
            cents = value.quantize(Decimal("0.01"))
            return cents if cents == value else Decimal(money_text(value))
        return int(value) if value == value.to_integral_value() else Decimal(format(value.normalize(), "f"))
    if isinstance(value, list):
        return [_exact(path, item) for item in value]
    if isinstance(value, Mapping):
        return {name: _exact(f"{path}.{name}", item) for name, item in value.items() if item is not None}
    return value
