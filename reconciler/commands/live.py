"""`reconciler live init|status`: the live store itself (create it, see what it holds)."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC
from typing import Any, get_args

from reconciler.commands import Session
from reconciler.errors import ExitCode
from reconciler.model import Status
from reconciler.providers import create_provider
from reconciler.providers.base import Provider, StoreState


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


def run(args: argparse.Namespace, session: Session) -> int:
    live = session.settings().live
    with create_provider(live.provider, live.options, environ=session.environ, root=session.root) as provider:
        state = provider.open()
        lines = _init(provider, state) if args.live_command == "init" else _status(provider, state)
    for line in lines:
        print(line, file=session.stdout)
    return int(ExitCode.OK)


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
        until = lease.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"lock: held by {lease.holder} until {until}")
    return lines
