"""`live init`, `live status` and `live history` output: lines for a terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import get_args

from reconciler.model.customer import Status
from reconciler.model.types import instant_text
from reconciler.providers.base import (
    AuditRecord,
    Lease,
    LiveCustomer,
    LiveRecord,
    ProviderInfo,
    StoreState,
    UnreadableCustomer,
)
from reconciler.render.values import one_line, show_value, shown_key


def init_lines(info: ProviderInfo, state: StoreState) -> list[str]:
    target = info.target
    if state.schema_version is None:
        return [f"{target}: ready (no schema to create)"]
    if state.created:
        return [f"{target}: schema version {state.schema_version} created"]
    if state.migrated_from is not None:
        migrated = f"{target}: schema version {state.migrated_from} migrated to {state.schema_version}"
        return [migrated, *(f"  {note}" for note in state.notes)]
    return [f"{target}: schema version {state.schema_version} ready"]


def status_lines(
    info: ProviderInfo, state: StoreState, live: Collection[LiveRecord], lease: Lease | None
) -> list[str]:
    """What the store holds, and who holds its lock (`lease` None: free, or no lock)."""
    lines = [info.target]
    if state.schema_version is not None:
        lines.append(f"schema version: {state.schema_version}")
    managed = sum(record.managed for record in live)
    deactivated = sum(not record.active for record in live)
    lines.append(
        f"customers: {len(live)} ({managed} managed, {len(live) - managed} unmanaged; "
        f"{deactivated} deactivated by the reconciler)"
    )
    statuses = Counter(record.customer.status for record in live if isinstance(record, LiveCustomer))
    if statuses:
        lines.append(
            "platform status: "
            + ", ".join(f"{status} {statuses[status]}" for status in get_args(Status) if statuses[status])
        )
    unreadable = sorted((record for record in live if isinstance(record, UnreadableCustomer)), key=lambda record: record.key)
    if unreadable:
        lines.append(f"unreadable: {len(unreadable)}")
        lines.extend(f"  {shown_key(record.key)}: {record.describe()}" for record in unreadable)
    for mapped, name in info.mapping:
        lines.append(f"mapping: {mapped} -> {name}")
    if "lock" not in info.capabilities:
        lines.append("lock: not supported by this provider")
    elif lease is None:
        lines.append("lock: free")
    else:
        lines.append(f"lock: held by {lease.holder} until {instant_text(lease.expires_at)}")
    return lines


def history_lines(info: ProviderInfo, key: str, writes: Sequence[Sequence[AuditRecord]] | None) -> list[str]:
    """One block per write to `key`, newest first (`writes` None: the provider keeps no audit)."""
    if writes is None:
        return [f"{info.target}: keeps no audit trail; no history to show"]
    if not writes:
        return [f"{key}: nothing applied to this customer in {info.target}"]
    lines: list[str] = []
    for records in writes:
        first = records[0]
        commit = f"commit {first.commit[:7]}" if first.commit else "no commit"
        plan = f" · plan {first.plan_id}" if first.plan_id else ""
        lines.append(f"{instant_text(first.at)}  {first.action:<10} {first.key} · {commit}{plan} · by {first.actor}")
        # Field names align on the longest of the write (at least 24 wide).
        width = max([24, *(len(record.field) + 2 for record in records if record.field is not None)])
        for record in records:
            if record.action == "rename":
                lines.append(f"    {'key':<{width}}{record.before} -> {record.after}")
            elif record.field is not None:
                before, after = show_value(record.field, record.before, ""), show_value(record.field, record.after, "")
                lines.append(f"    {record.field:<{width}}{one_line(before)} -> {one_line(after)}")
    return lines
