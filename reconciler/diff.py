"""Field-level differences between two customers.

Equal customers cost one model comparison. Only a pair that differs is flattened into
field paths (see `documents`) and compared leaf by leaf. Lists that are sets on the
platform (tags, top-up currencies) compare without regard to order and report what was
added and removed; other lists (address lines, restriction windows) compare whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconciler.documents import flatten
from reconciler.model import Customer

# Lists whose order means nothing on the platform.
SET_FIELDS = frozenset({"topup_currencies", "config.tags", "renamed_from"})

# Bookkeeping of the repository, not a field of the live account.
NOT_LIVE_FIELDS = frozenset({"renamed_from"})


@dataclass(frozen=True)
class FieldChange:
    """One field's before and after, as JSON-compatible values (money as exact strings)."""

    path: str
    before: Any
    after: Any
    added: tuple[Any, ...] = field(default=())
    removed: tuple[Any, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.path, "before": self.before, "after": self.after}
        if self.added or self.removed:
            data["added"] = list(self.added)
            data["removed"] = list(self.removed)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldChange:
        return cls(
            data["field"], data["before"], data["after"],
            tuple(data.get("added", ())), tuple(data.get("removed", ())),
        )


def is_owned(path: str, owned: Collection[str]) -> bool:
    """True when `path` is an owned field or lies inside one (owned `config` covers `config.tags`)."""
    return any(path == prefix or path.startswith(prefix + ".") for prefix in owned)


def diff_customers(
    live: Customer | None, desired: Customer | None, *, owned: Collection[str] = ()
) -> list[FieldChange]:
    """Changes that turn `live` into `desired`; None on one side compares against nothing."""
    if live is not None and desired is not None and live == desired:
        return []
    before = _leaves(live)
    after = _leaves(desired)
    changes: list[FieldChange] = []
    for path in after.keys() | before.keys():
        if path in NOT_LIVE_FIELDS or is_owned(path, owned):
            continue
        old, new = before.get(path), after.get(path)
        if path in SET_FIELDS and isinstance(old, list) and isinstance(new, list):
            added = tuple(item for item in new if item not in old)
            removed = tuple(item for item in old if item not in new)
            if added or removed:
                changes.append(FieldChange(path, _json(old), _json(new), _json(added), _json(removed)))
        elif old != new:
            changes.append(FieldChange(path, _json(old), _json(new)))
    order = _FIELD_ORDER
    changes.sort(key=lambda change: order.get(change.path, len(order)))
    return changes


def _leaves(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    # Python mode keeps Decimal, so 500.00 and 500.0000 compare equal, as they are.
    return flatten(customer.model_dump(by_alias=True))


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value


def money_text(amount: Decimal) -> str:
    """Exact text of an amount with no padding beyond cents: 500.0000 -> 500.00, 7.250 -> 7.25."""
    text = format(amount, "f")
    if "." not in text:
        return text
    whole, fraction = text.split(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _field_order() -> dict[str, int]:
    template = Customer.model_validate({"currency": "USD"})
    return {path: index for index, path in enumerate(flatten(template.model_dump(by_alias=True)))}


_FIELD_ORDER = _field_order()
