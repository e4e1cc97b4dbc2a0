"""`reconciler live init|status|history`: the live store itself (create it, see what it
holds, what was applied to a customer). For a provider with a field mapping (connexcs),
`status` also says where each mapped name comes from and which of them a live record does
not carry: an operator checks the mapping in one command before the first apply."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.errors import escaped
from reconciler.history.live import live_writes
from reconciler.providers.base import MappingCheck, UnreadableCustomer
from reconciler.reconcile import open_provider
from reconciler.render.live import history_lines, init_lines, status_lines


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
        help="customers by status, managed and active; schema version; the lock; the field mapping",
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
    with open_provider(session.settings(), environ=session.environ, root=session.root) as provider:
        state = provider.open()
        info = provider.describe()
        if args.live_command == "history":
            writes = live_writes(provider, args.key) if "audit" in info.capabilities else None
            lines = history_lines(info, args.key, writes[: args.limit] if writes is not None else None)
            record = provider.read([args.key]).get(args.key)
            if isinstance(record, UnreadableCustomer):
                lines.insert(0, f"{args.key}: {record.describe()}")
        elif args.live_command == "init":
            lines = init_lines(info, state)
        else:
            lease = provider.lock_status() if "lock" in info.capabilities else None
            lines = status_lines(info, state, list(provider.read().values()), lease)
            check = provider.check_mapping()
            if check is not None:
                lines.extend(mapping_lines(check))
    # The store's and the platform's text (an audit's actor, a lease's holder, a record's name)
    # is anyone's with access to them: each line stays one line, escaped where a terminal acts.
    for line in lines:
        print(escaped(line, one_line=True), file=session.stdout)
    return Outcome.DONE


def mapping_lines(check: MappingCheck) -> list[str]:
    """Where the mapped names come from, and which the sampled live record lacks.

    (Here rather than in render/live.py only while that module is being reworked; it belongs
    there beside `status_lines`.)
    """
    by_source: dict[str, list[str]] = {}
    for path, _, source in check.sources:
        by_source.setdefault(source, []).append(path)
    lines = ["mapping sources: " + ", ".join(f"{len(paths)} {source}" for source, paths in by_source.items())]
    lines.extend(f"  {source}: {', '.join(paths)}" for source, paths in by_source.items() if source != "confirmed")
    if check.sample is None:
        lines.append("mapping check: no live customer to check the mapped names against")
    elif not check.missing:
        lines.append(f"mapping check: {check.sample} carries every mapped name")
    else:
        lines.append(
            f"mapping check: {check.sample} does not carry {len(check.missing)} of {len(check.sources)} mapped names; "
            "check them, and override the wrong ones in [live.mapping]:"
        )
        lines.extend(f"  {path} -> {name}" for path, name in check.missing)
    return lines
