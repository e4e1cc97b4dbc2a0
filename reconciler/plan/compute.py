"""Computing a plan: desired state against live state, customer by customer.

A pure function of its inputs (`compute_plan`): what the repository says, what the live
platform holds, and the context (time, commit, configuration) handed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from reconciler.config import SafetySection
from reconciler.model.customer import Customer
from reconciler.model.diff import diff_customers, is_owned
from reconciler.model.fields import canonical_document, flatten, unflatten
from reconciler.plan.plan import Action, Blocked, BlockRule, CustomerChange, Plan, fingerprint
from reconciler.plan.safety import allow_bulk, bulk_violations
from reconciler.providers.base import LiveCustomer, ProviderInfo


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
    # A live key a renamed file claims is the rename's, even when `only` left that file out.
    for key in sorted(live.keys() - handled_live - desired.keys() - set(renamed.values())):
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
        changes=tuple(changes), blocked=tuple(blocked),
        unmanaged=tuple(unmanaged), fleet_size=sum(1 for record in live.values() if record.active),
    )
    plan = replace(plan, bulk_blocked=tuple(bulk_violations(plan, context.safety)))
    return allow_bulk(plan) if context.allow_bulk else plan


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
        return CustomerChange(key, Action.CREATE, tuple(diff_customers(None, customer)), customer, None, None)
    if customer.currency != record.customer.currency:
        return Blocked(
            key, "currency", BlockRule.CURRENCY_FIXED,
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
    if renamed_from is not None:
        action = Action.RENAME
    elif not record.managed:
        action = Action.ADOPT
    elif not record.active:
        action = Action.REACTIVATE
    else:
        action = Action.UPDATE
    return CustomerChange(
        key, action, field_changes, to_write, fingerprint(record), record.version, renamed_from=renamed_from
    )


def _removal(record: LiveCustomer, context: PlanContext) -> CustomerChange:
    action = Action.DELETE if context.safety.on_removal == "delete" else Action.DEACTIVATE
    return CustomerChange(
        record.key, action, (), None, fingerprint(record), record.version,
        removed_in=context.removed_in.get(record.key),
    )


def _keep_owned(customer: Customer, live: Customer, owned: Collection[str]) -> Customer:
    flat = flatten(canonical_document(customer))
    live_flat = flatten(canonical_document(live))
    for path in list(flat):
        if is_owned(path, owned):
            flat[path] = live_flat.get(path)
    return Customer.model_validate(unflatten(flat))
