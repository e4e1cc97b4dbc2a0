"""`reconciler timeline [KEY ...]`: every scheduled change, customer by customer, in order."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from reconciler.commands.options import parse_instant
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.state import load_schedule
from reconciler.desired.timeline import ScheduledChange, build_timeline
from reconciler.history.git import commits_adding
from reconciler.model.diff import FieldChange
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import show_value

FIELD_WIDTH = 26


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "timeline", help="list scheduled changes (plans/) per customer, in order",
        description="Every scheduled change per customer: when, which fields (before -> after), why, "
        "which file and the commit that added it.",
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="only these customers (default: all)")
    parser.add_argument(
        "--from", dest="start", type=parse_instant, metavar="INSTANT",
        help="only changes at or after this instant (ISO 8601 with zone, or a date)",
    )
    parser.add_argument(
        "--to", dest="end", type=parse_instant, metavar="INSTANT", help="only changes before this instant",
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default=None, help="text (default), markdown or json")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    base, overlays = load_schedule(session.root, settings)
    commits = commits_adding(session.root, [overlay.path for overlay in overlays])
    entries = build_timeline(
        base, overlays, commits=commits, keys=args.keys or None, start=args.start, end=args.end
    )
    RENDERERS[args.format or settings.output.format](entries, session.root, session.stdout)
    return Outcome.DONE


def _by_customer(entries: Sequence[ScheduledChange]) -> list[tuple[str, list[ScheduledChange]]]:
    ordered = sorted(entries, key=lambda entry: entry.key)  # stable: instants stay in order
    return [(key, list(group)) for key, group in groupby(ordered, key=lambda entry: entry.key)]


def _file(entry: ScheduledChange, root: Path) -> str:
    path = entry.overlay.path
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _commit(entry: ScheduledChange) -> str:
    return f"added in {entry.commit[:7]}" if entry.commit else "uncommitted"


def _title(entry: ScheduledChange) -> str:
    if entry.event == "ends":
        return f"ends: {entry.overlay.reason}"
    until = entry.overlay.until
    return f"{entry.overlay.reason} (until {instant_text(until)})" if until else entry.overlay.reason


def _summary(entry: ScheduledChange) -> str | None:
    if entry.action == "create":
        return f"created ({entry.currency})"
    if entry.action == "remove":
        return "removed"
    return None if entry.changes else "no change"


def _values(change: FieldChange, currency: str) -> tuple[str, str]:
    return show_value(change.path, change.before, currency), show_value(change.path, change.after, currency)


def _render_text(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    if not entries:
        out.write("No scheduled changes.\n")
    for key, changes in _by_customer(entries):
        out.write(f"{key}\n")
        for entry in changes:
            out.write(f"  {instant_text(entry.at)}  {_title(entry)}\n")
            out.write(f"    {_file(entry, root)} ({_commit(entry)})\n")
            summary = _summary(entry)
            if summary:
                out.write(f"    {summary}\n")
            for change in entry.changes:
                before, after = _values(change, entry.currency)
                out.write(f"    {change.path:<{FIELD_WIDTH}}{before} -> {after}\n")


def _render_markdown(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    if not entries:
        out.write("No scheduled changes.\n")
    for index, (key, changes) in enumerate(_by_customer(entries)):
        out.write(("\n" if index else "") + f"### {key}\n")
        for entry in changes:
            out.write(f"\n- **{instant_text(entry.at)}** {_title(entry)} · `{_file(entry, root)}` ({_commit(entry)})\n")
            summary = _summary(entry)
            if summary:
                out.write(f"\n  {summary}\n")
            if entry.changes:
                out.write("\n  | field | before | after |\n  |---|---|---|\n")
                for change in entry.changes:
                    before, after = _values(change, entry.currency)
                    out.write(f"  | `{change.path}` | {_cell(before)} | {_cell(after)} |\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _render_json(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    document = {
        "customers": [
            {
                "key": key,
                "changes": [
                    {
                        "at": instant_text(entry.at),
                        "event": entry.event,
                        "action": entry.action,
                        "reason": entry.overlay.reason,
                        "until": instant_text(entry.overlay.until) if entry.overlay.until else None,
                        "file": _file(entry, root),
                        "commit": entry.commit,
                        "fields": [change.to_json() for change in entry.changes],
                    }
                    for entry in changes
                ],
            }
            for key, changes in _by_customer(entries)
        ]
    }
    write_json(document, out)


RENDERERS = {"text": _render_text, "markdown": _render_markdown, "json": _render_json}
