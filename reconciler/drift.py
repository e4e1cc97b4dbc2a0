"""Drift: where the live platform differs from desired state now, and why.

A difference is either a change in git not yet applied, or a change made on the platform
behind the reconciler's back. The provider's audit tells them apart: when the live value is
not the last value the reconciler wrote to that field, someone else changed it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal

from reconciler.diff import SET_FIELDS, FieldChange
from reconciler.documents import flatten
from reconciler.model import Customer
from reconciler.plan import CustomerChange, Plan
from reconciler.providers.base import AuditRecord

Origin = Literal["outside", "unapplied", "unknown"]
ORIGIN_TEXT: dict[Origin, str] = {
    "outside": "changed outside the reconciler",
    "unapplied": "in git, not yet applied",
    "unknown": "no audit record of the reconciler writing it",
}
DECIMAL_FIELDS = frozenset({"flow_speed", "debit_limit", "minimum_payment", "tax_percent", "config.daily_spend_limit"})

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
    action: str  # what apply would do: create, update, rename, deactivate, delete, blocked
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
        CustomerDrift(blocked.key, "blocked", "unknown", f"blocked: {blocked.reason}") for blocked in plan.blocked
    ]
    return Drift(plan, tuple(sorted(customers, key=lambda customer: customer.key)), audited=audit is not None)


def _customer(change: CustomerChange, records: Sequence[AuditRecord] | None) -> CustomerDrift:
    last_action = records[0].action if records else None
    if change.action == "create":
        if last_action is not None and last_action != "delete":
            return CustomerDrift(change.key, "create", "outside", "missing live: removed outside the reconciler")
        return CustomerDrift(change.key, "create", "unapplied", "new in git, not yet created")
    if change.action in ("deactivate", "delete"):
        return CustomerDrift(change.key, change.action, "unapplied", "removed from git, still active live")
    if change.action == "rename":
        return CustomerDrift(
            change.key, "rename", "unapplied", f"renamed in git from {change.renamed_from}, not yet applied",
            tuple(_field(field, records) for field in change.changes),
        )
    fields = tuple(_field(field, records) for field in change.changes)
    if "reactivate" in change.note:
        origin: Origin = "unapplied" if last_action == "deactivate" else "outside" if records else "unknown"
        summary = "inactive live" + (": deactivated outside the reconciler" if origin == "outside" else "")
        return CustomerDrift(change.key, "update", origin, summary, fields)
    if "adopt" in change.note:
        return CustomerDrift(change.key, "update", "unapplied", "not managed yet: the next apply adopts it", fields)
    return CustomerDrift(change.key, "update", "unapplied", "", fields)


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
        written = _defaults().get(change.path)
    origin: Origin = "unapplied" if same(change.path, change.before, written) else "outside"
    return FieldDrift(change, origin, last, written)


@cache
def _defaults() -> dict[str, Any]:
    return flatten(Customer(currency="USD").document())


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
    at = record.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    commit = f" from commit {record.commit[:7]}" if record.commit else ""
    return f"on {at} by {record.actor}{commit}"
