"""`reconciler live init|status|history`: the live store itself (create it, see what it
holds, what was applied to a customer)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any, get_args

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.model.customer import Status
from reconciler.model.types import instant_text
from reconciler.providers import create_provider
from reconciler.providers.base import AuditRecord, Provider, StoreState
from reconciler.render.values import show_value


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "live",
        help="create the live store, or show what it holds",
        description="The live store of reconciler.toml's [live] provider.",
    )
    commands = parser.add_subparsers(dest="live_command", metavar="SUBCOMMAND", required=True)
    commands.add_parser(
        "init", help="create (or migrate) the live store now", description="Create or migrate the live store."
    )
    commands.add_parser(
        "status",
        help="customers by status, managed and active; schema version; the lock",
        description="Show what the live store holds and who holds its lock.",
    )
    history = commands.add_parser(
        "history",
        help="what was applied to a customer, newest first: when, by whom, from which commit",
        description=(
            "List the writes the provider's audit recorded for a customer (following renames), newest "
            "first, each with its time, actor, source commit, plan id and fields before -> after."
        ),
    )
    history.add_argument("key", metavar="KEY", help="the customer's key")
    history.add_argument("--limit", type=int, default=None, metavar="N", help="only the N newest writes")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    live = session.settings().live
    with create_provider(live.provider, live.options, environ=session.environ, root=session.root) as provider:
        state = provider.open()
        if args.live_command == "history":
            lines = history_lines(provider, args.key, args.limit)
        else:
            lines = _init(provider, state) if args.live_command == "init" else _status(provider, state)
    for line in lines:
        print(line, file=session.stdout)
    return Outcome.DONE


def _init(provider: Provider, state: StoreState) -> list[str]:
    target = provider.describe().target
    if state.schema_version is None:
        return [f"{target}: ready (no schema to create)"]
    if state.created:
        return [f"{target}: schema version {state.schema_version} created"]
    if state.migrated_from is not None:
        return [f"{target}: schema version {state.migrated_from} migrated to {state.schema_version}"]
    return [f"{target}: schema version {state.schema_version} ready"]


def _status(provider: Provider, state: StoreState) -> list[str]:
    info = provider.describe()
    live = provider.read().values()
    lines = [info.target]
    if state.schema_version is not None:
        lines.append(f"schema version: {state.schema_version}")
    active = sum(record.active for record in live)
    managed = sum(record.managed for record in live)
    lines.append(
        f"customers: {len(live)} ({active} active, {len(live) - active} inactive; "
        f"{managed} managed, {len(live) - managed} unmanaged)"
    )
    statuses = Counter(record.customer.status for record in live)
    if statuses:
        lines.append("status: " + ", ".join(f"{status} {statuses[status]}" for status in get_args(Status) if statuses[status]))
    if "lock" not in info.capabilities:
        lines.append("lock: not supported by this provider")
    elif (lease := provider.lock_status()) is None:
        lines.append("lock: free")
    else:
        until = instant_text(lease.expires_at)
        lines.append(f"lock: held by {lease.holder} until {until}")
    return lines


def history_lines(provider: Provider, key: str, limit: int | None = None) -> list[str]:
    """One block per write to `key` (and to its earlier keys, before a rename), newest first."""
    info = provider.describe()
    if "audit" not in info.capabilities:
        return [f"{info.target}: keeps no audit trail; no history to show"]
    writes = _writes(provider, key)
    if limit is not None:
        writes = writes[:limit]
    if not writes:
        return [f"{key}: nothing applied to this customer in {info.target}"]
    lines: list[str] = []
    for records in writes:
        first = records[0]
        at = instant_text(first.at)
        commit = f"commit {first.commit[:7]}" if first.commit else "no commit"
        plan = f" · plan {first.plan_id[:8]}" if first.plan_id else ""
        lines.append(f"{at}  {first.action:<10} {first.key} · {commit}{plan} · by {first.actor}")
        for record in records:
            if record.action == "rename":
                lines.append(f"    key                     {record.before} -> {record.after}")
            elif record.field is not None:
                before, after = show_value(record.field, record.before, ""), show_value(record.field, record.after, "")
                lines.append(f"    {record.field:<24}{_line(before)} -> {_line(after)}")
    return lines


def _writes(provider: Provider, key: str) -> list[list[AuditRecord]]:
    """Audit records grouped by write, newest first; a rename leads on to the old key's writes."""
    writes: list[list[AuditRecord]] = []
    seen = {key}
    keys = [key]
    while keys:
        current = keys.pop()
        for record in provider.read_audit(current):
            group = (record.at, record.action, record.commit, record.plan_id, record.actor, record.key)
            if writes and _group(writes[-1][0]) == group:
                writes[-1].append(record)
            else:
                writes.append([record])
            if record.action == "rename" and isinstance(record.before, str) and record.before not in seen:
                seen.add(record.before)
                keys.append(record.before)
    # Newest first between writes; within one, the order it recorded its fields in.
    return [list(reversed(records)) for records in writes]


def _group(record: AuditRecord) -> tuple[object, ...]:
    return (record.at, record.action, record.commit, record.plan_id, record.actor, record.key)


def _line(text: str, width: int = 60) -> str:
    text = text.strip().replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"
