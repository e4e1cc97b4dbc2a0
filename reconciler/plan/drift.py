"""Drift: where the live platform differs from desired state now, and why.

A difference is either a change in git not yet applied, or a change made on the platform
behind the reconciler's back. The provider's audit tells them apart: when the live value is
not the last value the reconciler wrote to that field, someone else changed it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from reconciler.model.diff import FieldChange
from reconciler.model.fields import DECIMAL_FIELDS, SET_FIELDS, default_fields
from reconciler.model.types import instant_text
from reconciler.plan.plan import Action, CustomerChange, Plan
from reconciler.providers.base import AuditRecord

Origin = Literal["outside", "unapplied", "unknown"]
ORIGIN_TEXT: dict[Origin, str] = {
    "outside": "changed outside the reconciler",
    "unapplied": "in git, not yet applied",
    "unknown": "no audit record of the reconciler writing it",
}

AuditReader = Callable[[str], Sequence[AuditRecord]]


@dataclass(frozen=True)
class FieldDrift:
    change: FieldChange  # before: the live value; after: the desired value
    origin: Origin
    last_write: AuditRecord | None = None  # the reconciler's last write of this field
    written: Any = None  # the value it wrote then


@dataclass(frozen=True)
class CustomerDrift:
    key: str
    action: Action | None  # what apply would do; None: blocked
    origin: Origin  # for the record as a whole (a missing, removed or deactivated customer)
    summary: str
    fields: tuple[FieldDrift, ...] = ()


@dataclass(frozen=True)
class Drift:
    plan: Plan
    customers: tuple[CustomerDrift, ...]
    audited: bool  # the provider keeps an audit trail

    def counts(self) -> dict[Origin, int]:
        counts: dict[Origin, int] = {"outside": 0, "unapplied": 0, "unknown": 0}
        for customer in self.customers:
            if customer.fields:
                for field in customer.fields:
                    counts[field.origin] += 1
            else:
                counts[customer.origin] += 1
        return counts


def find_drift(plan: Plan, audit: AuditReader | None) -> Drift:
    """Explain a plan of the live platform against desired state as drift.

    `audit(key)` returns the provider's audit records of a customer, newest first; None when
    the provider keeps none (then every difference is of unknown origin).
    """
    customers = [_customer(change, audit(change.key) if audit else None) for change in plan.changes]
    customers += [
        CustomerDrift(blocked.key, None, "unknown", f"blocked: {blocked.reason}") for blocked in plan.blocked
    ]
    return Drift(plan, tuple(sorted(customers, key=lambda customer: customer.key)), audited=audit is not None)


def _customer(change: CustomerChange, records: Sequence[AuditRecord] | None) -> CustomerDrift:
    last_action = records[0].action if records else None
    if change.action is Action.CREATE:
        if last_action is not None and last_action != "delete":
            return CustomerDrift(change.key, Action.CREATE, "outside", "missing live: removed outside the reconciler")
        return CustomerDrift(change.key, Action.CREATE, "unapplied", "new in git, not yet created")
    if change.action.is_removal:
        return CustomerDrift(change.key, change.action, "unapplied", "removed from git, still active live")
    if change.action is Action.RENAME:
        return CustomerDrift(
            change.key, Action.RENAME, "unapplied", f"renamed in git from {change.renamed_from}, not yet applied",
            tuple(_field(field, records) for field in change.changes),
        )
    fields = tuple(_field(field, records) for field in change.changes)
    if change.action is Action.UPDATE:
        return CustomerDrift(change.key, change.action, _origin_of(fields), "", fields)
    if change.action is Action.REACTIVATE:
        origin: Origin = "unapplied" if last_action == "deactivate" else "outside" if records else "unknown"
        summary = "inactive live" + (": deactivated outside the reconciler" if origin == "outside" else "")
        return CustomerDrift(change.key, change.action, origin, summary, fields)
    if change.action is Action.ADOPT:
        return CustomerDrift(change.key, change.action, "unapplied", "not managed yet: the next apply adopts it", fields)
    return CustomerDrift(change.key, change.action, _origin_of(fields), "", fields)


def _origin_of(fields: Sequence[FieldDrift]) -> Origin:
    """A customer's origin from its fields': outside when any field was changed outside the
    reconciler, unapplied when all wait in git, else unknown."""
    origins = {field.origin for field in fields}
    if "outside" in origins:
        return "outside"
    return "unapplied" if origins == {"unapplied"} else "unknown"


def _field(change: FieldChange, records: Sequence[AuditRecord] | None) -> FieldDrift:
    if records is None:
        return FieldDrift(change, "unknown")
    # Writes record the fields they change; a create, those away from a new customer's defaults.
    last = next(
        (record for record in records if record.field == change.path and record.action in ("create", "update")), None
    )
    if last is not None:
        written = last.after
    else:
        last = next((record for record in records if record.action == "create"), None)
        if last is None:
            return FieldDrift(change, "unknown")
        written = default_fields().get(change.path)
    origin: Origin = "unapplied" if same(change.path, change.before, written) else "outside"
    return FieldDrift(change, origin, last, written)


def same(path: str, live: Any, written: Any) -> bool:
    """Whether a live value is the one written, by value: money by amount, sets without order."""
    if live == written:
        return True
    if path in DECIMAL_FIELDS and live is not None and written is not None:
        try:
            return Decimal(str(live)) == Decimal(str(written))
        except InvalidOperation:
            return False
    if path in SET_FIELDS and isinstance(live, list) and isinstance(written, list):
        return sorted(map(_key, live)) == sorted(map(_key, written))
    return False


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def written_text(record: AuditRecord) -> str:
    """When and from where the reconciler last wrote a field, for a message."""
    at = instant_text(record.at)
    commit = f" from commit {record.commit[:7]}" if record.commit else ""
    return f"on {at} by {record.actor}{commit}"
