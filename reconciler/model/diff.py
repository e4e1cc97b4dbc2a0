"""Field-level differences: the one diff behind plans, audit records, history and drift.

Documents are compared in their canonical form (`fields.canonical`), leaf by leaf along
the field paths of `fields.flatten`. Lists that are sets on the platform (tags, top-up
currencies) compare without regard to order and report what was added and removed; other
lists (address lines, restriction windows) compare whole. Equal customers cost one model
comparison; of a pair that differs, only the form's top-level fields whose values differ
are put in the canonical form and flattened.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from reconciler.model.customer import KEPT_FIELDS, Customer
from reconciler.model.fields import (
    NOT_LIVE_FIELDS,
    SET_FIELDS,
    canonical,
    canonical_fields,
    field_positions,
    flatten,
)


@dataclass(frozen=True, slots=True)  # a plan of 100,000 creates holds millions
class FieldChange:
    """One field's before and after, as canonical JSON values (money as exact strings)."""

    path: str
    before: Any
    after: Any
    added: tuple[Any, ...] = field(default=())
    removed: tuple[Any, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return self.json_of(self.path, self.before, self.after, self.added, self.removed)

    @staticmethod
    def json_of(
        path: str, before: Any, after: Any, added: tuple[Any, ...] = (), removed: tuple[Any, ...] = ()
    ) -> dict[str, Any]:
        """`to_json` of the change of these values, without making it (a plan of 100,000
        creates is identified from millions: `plan.CustomerChange.to_json`)."""
        data: dict[str, Any] = {"field": path, "before": before, "after": after}
        if added or removed:
            data["added"] = list(added)
            data["removed"] = list(removed)
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
    """Changes that turn `live` into `desired`, leaving out the repository's bookkeeping
    (`renamed_from`) and the fields the platform owns; None on one side compares against nothing."""
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    if live is None or desired is None:
        before = canonical_fields(live) if live is not None else {}
        after = canonical_fields(desired) if desired is not None else {}
    elif live == desired:
        return []
    else:
        before, after = _compared_fields(live, desired)
    skip = (lambda path: path in NOT_LIVE_FIELDS or is_owned(path, owned)) if owned else NOT_LIVE_FIELDS.__contains__
    return _diff_fields(before, after, skip)


def created_fields(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(path, value) of each field that a create of the customer whose canonical document is
    DOCUMENT sets: what `diff_customers(None, customer)` names, in its order."""
    return _created(flatten(document), NOT_LIVE_FIELDS.__contains__)


def _created(fields: Mapping[str, Any], skip: Callable[[str], bool] | None) -> list[tuple[str, Any]]:
    """(path, value) of the flattened canonical FIELDS a create sets, but those SKIP names, in
    the form's order (a plan of 100,000 creates names millions)."""
    return _in_form_order([(path, value) for path, value in fields.items() if skip is None or not skip(path)], _FIRST)


def diff_documents(
    before: Mapping[str, Any], after: Mapping[str, Any], *, skip: Callable[[str], bool] | None = None
) -> list[FieldChange]:
    """Every leaf that differs between two documents (raw or canonical; values are compared
    and reported canonically), in the form's field order. A leaf present on one side only
    is a change, even to or from null. `skip(path)` leaves a field out."""
    return _diff_fields(flatten(canonical(before)), flatten(canonical(after)), skip)


def diff_to_customer(before: Mapping[str, Any] | Customer, after: Customer) -> list[FieldChange]:
    """`diff_documents` of a document (raw or canonical; or a customer, as its canonical
    document) and a customer: what a write records in the audit. Against a document, the
    customer's canonical fields are made once and kept on it; against a customer, only the
    fields that differ are made canonical (`_compared_fields`)."""
    if isinstance(before, Customer):
        return _diff_fields(*_compared_fields(before, after), None)
    return _diff_fields(flatten(canonical(before)), canonical_fields(after), None)


def _compared_fields(old: Customer, new: Customer) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The canonical fields of OLD and NEW to compare: all of them where both customers
    hold theirs already; else those of the form's top-level fields whose values differ.

    A customer's whole canonical form costs ~90 µs to make and an update changes a field or
    two. A field whose values are equal has equal canonical values (each field holds values
    of one type, and its canonical spelling is a function of the value), so it has nothing
    to report."""
    if KEPT_FIELDS in old.__dict__ and KEPT_FIELDS in new.__dict__:
        return canonical_fields(old), canonical_fields(new)
    differing = {name for name in Customer.model_fields if getattr(old, name) != getattr(new, name)}
    if not differing:
        return {}, {}
    return _fields_of(old, differing), _fields_of(new, differing)


def _fields_of(customer: Customer, names: set[str]) -> dict[str, Any]:
    """`canonical_fields` of CUSTOMER's top-level fields NAMES alone, made the same way."""
    return flatten(canonical(customer.model_dump(by_alias=True, include=names)))


def _diff_fields(
    old: Mapping[str, Any], new: Mapping[str, Any], skip: Callable[[str], bool] | None
) -> list[FieldChange]:
    """`diff_documents` of two flattened canonical documents."""
    if not old:  # a create: every field from nothing
        return [FieldChange(path, None, now) for path, now in _created(new, skip)]
    changes = []
    for path in dict.fromkeys([*old, *new]):
        was, now = old.get(path), new.get(path)
        if path in SET_FIELDS and isinstance(was, list) and isinstance(now, list):
            added = tuple(item for item in now if item not in was)
            removed = tuple(item for item in was if item not in now)
            change = FieldChange(path, was, now, added, removed) if added or removed else None
        elif was != now or (path in old) != (path in new):
            change = FieldChange(path, was, now)
        else:
            continue
        # Asked only of a field that differs: most do not, and a customer has dozens.
        if change is not None and (skip is None or not skip(path)):
            changes.append(change)
    return _in_form_order(changes, _PATH)


_Item = TypeVar("_Item")
_PATH: Callable[[FieldChange], str] = attrgetter("path")
_FIRST: Callable[[tuple[str, Any]], str] = itemgetter(0)


def _in_form_order(items: list[_Item], path: Callable[[_Item], str]) -> list[_Item]:
    """ITEMS sorted by where the field each is of (its PATH) stands in the form, paths it
    does not know last (a dict's lookup for each: a plan of 100,000 creates sorts millions)."""
    order = field_positions()
    last = len(order)
    items.sort(key=lambda item: order.get(path(item), last))
    return items
