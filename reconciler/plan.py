"""The plan: what applying the desired state would change on the live platform, as a value.

A plan records when it was evaluated, the commit it came from, the provider it was
computed against, and per customer the action with field changes and a fingerprint of the
live record it saw. Its id is a hash of that content, so a saved plan names itself.
`plan` never writes; `apply` (see `apply`) carries a plan out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from reconciler.config import SafetySection
from reconciler.diff import FieldChange, diff_customers, is_owned
from reconciler.documents import flatten, unflatten
from reconciler.model import Customer
from reconciler.providers.base import LiveCustomer, ProviderInfo

PLAN_FORMAT = 1

Action = Literal["create", "update", "rename", "deactivate", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "rename", "deactivate", "delete")


@dataclass(frozen=True)
class CustomerChange:
    """One customer's planned action.

    `desired` is the whole document to write (create, update, rename): applying a saved
    plan needs nothing but the plan. `fingerprint` and `version` identify the live record
    the change was computed against (None for a create).
    """

    key: str
    action: Action
    changes: tuple[FieldChange, ...]
    desired: Mapping[str, Any] | None
    fingerprint: str | None
    version: int | None
    renamed_from: str | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "action": self.action,
            "renamed_from": self.renamed_from,
            "note": self.note,
            "fingerprint": self.fingerprint,
            "version": self.version,
            "changes": [change.to_json() for change in self.changes],
            "desired": self.desired,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CustomerChange:
        return cls(
            key=data["key"],
            action=data["action"],
            changes=tuple(FieldChange.from_json(change) for change in data["changes"]),
            desired=data["desired"],
            fingerprint=data["fingerprint"],
            version=data["version"],
            renamed_from=data.get("renamed_from"),
            note=data.get("note", ""),
        )

    def desired_customer(self) -> Customer:
        if self.desired is None:
            raise ValueError(f"{self.key}: a {self.action} carries no desired document")
        # The saved form holds money as exact strings; the model reads them back as Decimal.
        return Customer.model_validate(self.desired)


@dataclass(frozen=True)
class Blocked:
    """A change the plan will not make, and why, with what to do instead."""

    key: str
    field: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    at: dt.datetime
    commit: str | None
    dirty: bool
    provider: str
    target: str
    changes: tuple[CustomerChange, ...]
    blocked: tuple[Blocked, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    fleet_size: int = 0
    bulk_blocked: tuple[str, ...] = field(default=())

    @property
    def plan_id(self) -> str:
        body = json.dumps(self._content(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["blocked"] = len({blocked.key for blocked in self.blocked})
        return counts

    @property
    def empty(self) -> bool:
        return not self.changes and not self.blocked

    def _content(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "at": self.at.isoformat(),
            "commit": self.commit,
            "dirty": self.dirty,
            "provider": self.provider,
            "target": self.target,
            "fleet_size": self.fleet_size,
            "changes": [change.to_json() for change in self.changes],
            "blocked": [blocked.to_json() for blocked in self.blocked],
            "bulk_blocked": list(self.bulk_blocked),
            "warnings": list(self.warnings),
            "unmanaged": list(self.unmanaged),
        }

    def to_json(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, **self._content(), "counts": self.counts()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            at=dt.datetime.fromisoformat(data["at"]),
            commit=data["commit"],
            dirty=data["dirty"],
            provider=data["provider"],
            target=data["target"],
            fleet_size=data["fleet_size"],
            changes=tuple(CustomerChange.from_json(change) for change in data["changes"]),
            blocked=tuple(Blocked(**blocked) for blocked in data["blocked"]),
            bulk_blocked=tuple(data.get("bulk_blocked", ())),
            warnings=tuple(data["warnings"]),
            unmanaged=tuple(data["unmanaged"]),
        )


def fingerprint(live: LiveCustomer) -> str:
    """A hash of what the live record holds, by value (500.00 and 500.0000 agree)."""
    body = json.dumps(
        {"customer": _canonical(live.customer.model_dump(by_alias=True)), "active": live.active},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


@dataclass(frozen=True)
class PlanContext:
    """Everything about a plan that is not desired or live state."""

    at: dt.datetime
    commit: str | None
    dirty: bool
    provider: ProviderInfo
    owned_fields: tuple[str, ...] = ()
    safety: SafetySection = field(default_factory=SafetySection)
    allow_bulk: bool = False
    # Customer key -> the commit that removed its file, for the note of a deactivation.
    removed_in: Mapping[str, str] = field(default_factory=dict)


def compute_plan(
    desired: Mapping[str, Customer],
    live: Mapping[str, LiveCustomer],
    context: PlanContext,
    *,
    only: Collection[str] | None = None,
) -> Plan:
    """Compare desired with live state. `only` restricts the plan to those customer keys."""
    changes: list[CustomerChange] = []
    blocked: list[Blocked] = []
    warnings: list[str] = []
    renamed = _renames(desired, live)
    handled_live: set[str] = set()

    for key in sorted(desired):
        if only is not None and key not in only:
            continue
        customer = desired[key]
        old_key = renamed.get(key)
        record = live.get(key) or (live.get(old_key) if old_key else None)
        if record is not None:
            handled_live.add(record.key)
        outcome = _plan_customer(key, customer, record, context)
        if isinstance(outcome, Blocked):
            blocked.append(outcome)
        elif outcome is not None:
            changes.append(outcome)

    unmanaged: list[str] = []
    for key in sorted(live.keys() - handled_live - desired.keys()):
        if only is not None and key not in only:
            continue
        record = live[key]
        if not record.managed:
            unmanaged.append(key)
        elif record.active:
            changes.append(_removal(record, context))

    plan = Plan(
        at=context.at, commit=context.commit, dirty=context.dirty,
        provider=context.provider.name, target=context.provider.target,
        changes=tuple(changes), blocked=tuple(blocked), warnings=tuple(warnings),
        unmanaged=tuple(unmanaged), fleet_size=sum(1 for record in live.values() if record.active),
    )
    bulk = bulk_violations(plan, context.safety)
    if bulk and not context.allow_bulk:
        plan = replace(plan, bulk_blocked=tuple(bulk))
    elif bulk:
        plan = replace(plan, warnings=(*plan.warnings, *(f"allowed by --allow-bulk: {rule}" for rule in bulk)))
    return plan


def _renames(desired: Mapping[str, Customer], live: Mapping[str, LiveCustomer]) -> dict[str, str]:
    """New key -> live old key, for customers whose file was renamed and not yet applied live."""
    renames: dict[str, str] = {}
    for key, customer in desired.items():
        if key in live:
            continue
        for old_key in customer.renamed_from:
            if old_key in live and old_key not in desired:
                renames[key] = old_key
                break
    return renames


def _plan_customer(
    key: str, customer: Customer, record: LiveCustomer | None, context: PlanContext
) -> CustomerChange | Blocked | None:
    owned = context.owned_fields
    if record is None:
        return CustomerChange(
            key, "create", tuple(diff_customers(None, customer)), _document(customer), None, None,
            note=create_note(customer),
        )
    if customer.currency != record.customer.currency:
        return Blocked(
            key, "currency",
            f"currency {record.customer.currency} -> {customer.currency}; the platform fixes a "
            f"customer's currency at creation. Create a new customer in {customer.currency} instead "
            f"(a new file), and deactivate this one by removing its file.",
        )
    # What is written keeps the live value of every field the platform owns.
    to_write = _keep_owned(customer, record.customer, owned) if owned else customer
    field_changes = tuple(diff_customers(record.customer, to_write, owned=owned))
    renamed_from = record.key if record.key != key else None
    if renamed_from is None and not field_changes and record.active and record.managed:
        return None
    action: Action = "rename" if renamed_from else "update"
    notes = []
    if not record.active:
        notes.append("reactivate: the customer is back in git")
    if not record.managed:
        notes.append("adopt: the reconciler starts managing this live customer")
    return CustomerChange(
        key, action, field_changes, _document(to_write), fingerprint(record), record.version,
        renamed_from=renamed_from, note="; ".join(notes),
    )


def _removal(record: LiveCustomer, context: PlanContext) -> CustomerChange:
    action: Action = "delete" if context.safety.on_removal == "delete" else "deactivate"
    removed_in = context.removed_in.get(record.key)
    where = f" in {removed_in[:7]}" if removed_in else ""
    return CustomerChange(
        record.key, action, (), None, fingerprint(record), record.version,
        note=f"removed from git{where}",
    )


def _keep_owned(customer: Customer, live: Customer, owned: Collection[str]) -> Customer:
    flat = flatten(customer.model_dump(by_alias=True))
    live_flat = flatten(live.model_dump(by_alias=True))
    for path in list(flat):
        if is_owned(path, owned):
            flat[path] = live_flat.get(path)
    return Customer.model_validate(unflatten(flat))


def _document(customer: Customer) -> dict[str, Any]:
    return customer.document()


def create_note(customer: Customer) -> str:
    """What a reviewer needs to see of a new customer at a glance."""
    return f"{customer.currency}, {customer.channels} channels, {customer.flow_speed} cps, {customer.status}"


def bulk_violations(plan: Plan, safety: SafetySection) -> list[str]:
    """The safety thresholds this plan goes over (DESIGN.md, "Safety")."""
    counts = plan.counts()
    updates = counts["update"] + counts["rename"]
    removals = counts["deactivate"] + counts["delete"]
    fleet = plan.fleet_size
    violations = []
    if updates > safety.max_updates:
        violations.append(f"{updates} customers to update, more than safety.max_updates = {safety.max_updates}")
    if removals > safety.max_deactivations:
        violations.append(
            f"{removals} customers to deactivate, more than safety.max_deactivations = {safety.max_deactivations}"
        )
    if fleet >= safety.min_fleet_for_share and fleet:
        if updates / fleet > safety.max_update_share:
            violations.append(
                f"{updates} of {fleet} live customers to update ({updates / fleet:.0%}), "
                f"more than safety.max_update_share = {safety.max_update_share:.0%}"
            )
        if removals / fleet > safety.max_deactivation_share:
            violations.append(
                f"{removals} of {fleet} live customers to deactivate ({removals / fleet:.0%}), "
                f"more than safety.max_deactivation_share = {safety.max_deactivation_share:.0%}"
            )
    return violations
