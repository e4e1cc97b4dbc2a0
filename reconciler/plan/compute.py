"""Computing a plan: desired state against live state, customer by customer.

A pure function of its inputs (`compute_plan`): what the repository says, what the live
platform holds, and the context (time, commit, configuration) handed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from reconciler.config import SafetySection
from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange, diff_customers, is_owned
from reconciler.model.fields import Packed, canonical_fields, unflatten
from reconciler.plan.plan import (
    Action,
    Blocked,
    BlockRule,
    CustomerChange,
    Held,
    HoldReason,
    Override,
    Plan,
    Removal,
    RemovalCause,
    fingerprint,
)
from reconciler.plan.safety import allow_bulk, bulk_violations
from reconciler.providers.base import LiveCustomer, LiveRecord, ProviderInfo, UnreadableCustomer


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
    # Customer key -> the overlay that created it (file, relative) and when it ended.
    ended: Mapping[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    lift_penalty: frozenset[str] = frozenset()  # --lift-penalty KEY
    # Customers in penalty because the reconciler wrote it (a file said so): git may lift it.
    penalties_from_git: frozenset[str] = frozenset()
    repair: frozenset[str] = frozenset()  # --repair KEY


def compute_plan(
    desired: Mapping[str, Customer],
    live: Mapping[str, LiveRecord],
    context: PlanContext,
    *,
    only: Collection[str] | None = None,
    in_sync: Collection[str] = (),
) -> Plan:
    """Compare desired with live state. `only` restricts the plan to those customer keys.

    `in_sync` are live customers known to match their definition, managed and active, left
    out of DESIRED and LIVE (`Provider.read_differing`): they are counted in the fleet and
    planned as what they are, nothing to do. DESIRED must then still hold every customer that
    might claim a live record by a rename (`reconcile.make_plan` sees to it)."""
    changes: list[CustomerChange] = []
    blocked: list[Blocked] = []
    held: list[Held] = []
    renamed = _renames(desired, live)
    handled_live: set[str] = set()
    keys = [key for key in sorted(desired) if only is None or key in only]
    # The creates whose canonical documents DESIRED holds as they are: no customer made.
    documents = _documents(desired, [key for key in keys if key not in live and key not in renamed])

    for key in keys:
        document = documents.get(key)
        if document is not None:
            changes.append(CustomerChange.created_as(key, document))
            continue
        old_key = renamed.get(key)
        record = live.get(key) or (live.get(old_key) if old_key else None)
        if record is not None:
            handled_live.add(record.key)
        outcome = _plan_customer(key, desired[key], record, context)
        if isinstance(outcome, Blocked):
            blocked.append(outcome)
            continue
        change, kept = outcome
        held.extend(kept)
        if change is not None:
            changes.append(change)

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
        changes=tuple(changes), blocked=tuple(blocked), held=tuple(held),
        unmanaged=tuple(unmanaged), fleet_size=sum(1 for record in live.values() if record.active) + len(in_sync),
    )
    plan = replace(plan, bulk_blocked=tuple(bulk_violations(plan, context.safety)))
    return allow_bulk(plan) if context.allow_bulk else plan


@runtime_checkable
class Documents(Protocol):
    """Desired state that gives customers as their canonical documents too (`desired.state`)."""

    def canonical(self, keys: Sequence[str]) -> Mapping[str, Packed]:
        """Those of KEYS it holds as their canonical documents, packed (`model.fields.Packed`)."""
        ...


def _documents(desired: Mapping[str, Customer], creates: Sequence[str]) -> Mapping[str, Packed]:
    """Each of CREATES that DESIRED can give packed (`model.fields.Packed`), without making
    its customer (a create needs no more); the others are made as customers."""
    return desired.canonical(creates) if creates and isinstance(desired, Documents) else {}


def _renames(desired: Mapping[str, Customer], live: Mapping[str, LiveRecord]) -> dict[str, str]:
    """New key -> live key, for customers whose live record is under another key: a file
    renamed and not yet applied live (`renamed_from`), or a live customer the reconciler does
    not manage yet whose name is the file's (names are unique on the platform, ignoring case)."""
    renames: dict[str, str] = {}
    if not live.keys() - desired.keys():
        return renames  # every live key is a desired customer's own: none to claim (no customer is read)
    unmanaged_by_name = {
        record.customer.name.casefold(): record.key
        for record in live.values()
        if isinstance(record, LiveCustomer) and not record.managed and record.customer.name
        and record.key not in desired
    }
    for key, customer in desired.items():
        if key in live:
            continue
        old_key = next((old for old in customer.renamed_from if old in live and old not in desired), None)
        if old_key is None and customer.name:
            old_key = unmanaged_by_name.get(customer.name.casefold())
        if old_key is not None and old_key not in renames.values():
            renames[key] = old_key
    return renames


def _plan_customer(
    key: str, customer: Customer, record: LiveRecord | None, context: PlanContext
) -> Blocked | tuple[CustomerChange | None, list[Held]]:
    owned = context.owned_fields
    if record is None:
        return CustomerChange.created(key, customer), []
    if isinstance(record, UnreadableCustomer):
        return _unreadable(key, customer, record, context)
    if customer.currency != record.customer.currency:
        return Blocked(
            key, "currency", BlockRule.CURRENCY_FIXED,
            f"currency {record.customer.currency} -> {customer.currency}; the platform fixes a "
            f"customer's currency at creation. Create a new customer in {customer.currency} instead "
            f"(a new file), and deactivate this one by removing its file.",
        )
    # What is written keeps the live value of every field the platform owns.
    to_write = _keep_owned(customer, record.customer, owned) if owned else customer
    held: list[Held] = []
    overrides: tuple[Override, ...] = ()
    if record.customer.status == "penalty" and to_write.status != "penalty" and key not in context.penalties_from_git:
        # The platform put the customer in penalty itself (balance, alerts): its to lift.
        if key in context.lift_penalty:
            overrides = (Override.LIFT_PENALTY,)
        else:
            held.append(Held(key, "status", HoldReason.PENALTY, "penalty", to_write.status))
            to_write = to_write.model_copy(update={"status": "penalty"})
    field_changes = tuple(diff_customers(record.customer, to_write, owned=owned))
    renamed_from = record.key if record.key != key else None
    if renamed_from is None and not field_changes and record.active and record.managed:
        return None, held
    return CustomerChange(
        key, _action(record, renamed_from), field_changes, to_write, fingerprint(record), record.version,
        renamed_from=renamed_from, overrides=overrides,
    ), held


def _action(record: LiveRecord, renamed_from: str | None) -> Action:
    if not record.managed:
        return Action.ADOPT  # under its live key, or matched by name (then renamed_from says from where)
    if renamed_from is not None:
        return Action.RENAME
    if not record.active:
        return Action.REACTIVATE
    return Action.UPDATE


def _unreadable(
    key: str, customer: Customer, record: UnreadableCustomer, context: PlanContext
) -> Blocked | tuple[CustomerChange, list[Held]]:
    """A live record the model refuses: blocked, unless the operator asked to overwrite it."""
    if key not in context.repair:
        fields = ", ".join(dict.fromkeys(problem.field for problem in record.problems))
        return Blocked(
            key, fields, BlockRule.LIVE_UNREADABLE,
            f"{record.describe()}. Fix the record on the platform, or overwrite it from its file "
            f"with apply --repair {key}.",
        )
    wanted = canonical_fields(customer)
    changes = tuple(
        FieldChange(path, problem.value, wanted.get(path))
        for path, problem in {problem.field: problem for problem in record.problems}.items()
    )
    change = CustomerChange(
        key, _action(record, record.key if record.key != key else None), changes, customer,
        fingerprint(record), record.version, renamed_from=record.key if record.key != key else None,
        overrides=(Override.REPAIR,),
    )
    return change, []


def _removal(record: LiveRecord, context: PlanContext) -> CustomerChange:
    action = Action.DELETE if context.safety.on_removal == "delete" else Action.DEACTIVATE
    ended = context.ended.get(record.key)
    if ended is not None:
        removal = Removal(RemovalCause.OVERLAY_ENDED, overlay=ended[0], until=ended[1])
    else:
        removal = Removal(RemovalCause.FILE_REMOVED, commit=context.removed_in.get(record.key))
    return CustomerChange(record.key, action, (), None, fingerprint(record), record.version, removal=removal)


def _keep_owned(customer: Customer, live: Customer, owned: Collection[str]) -> Customer:
    flat = dict(canonical_fields(customer))  # changed below: a copy
    live_flat = canonical_fields(live)
    for path in list(flat):
        if is_owned(path, owned):
            flat[path] = live_flat.get(path)
    return Customer.model_validate(unflatten(flat))
