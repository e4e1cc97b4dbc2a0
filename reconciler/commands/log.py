"""`reconciler log KEY`: the commits that changed a customer's definition, newest first."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.history.log import LogEntry, customer_log
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import show_value

FIELD_WIDTH = 24


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "log", help="the commits that changed a customer (its file, renames, overlays naming it)",
        description=(
            "List the commits that changed the customer's definition, newest first: its file in "
            "customers.d/ (across renames) and every scheduled change in plans/ naming it, each "
            "with the field changes it made."
        ),
    )
    parser.add_argument("key", metavar="KEY", help="the customer's key (its file name without suffix)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    entries = customer_log(session.root, session.settings(), args.key)
    if args.format == "json":
        write_json([_json(entry) for entry in entries], session.stdout)
    else:
        render_log(entries, session.stdout)
    return Outcome.DONE


def render_log(entries: Sequence[LogEntry], out: TextIO) -> None:
    for entry in entries:
        commit = entry.commit
        out.write(f"{commit.short}  {instant_text(commit.date)}  {commit.author}  {commit.subject}\n")
        for section in entry.sections:
            out.write(f"    {section.path}: {section.what}\n")
            width = max([FIELD_WIDTH, *(len(change.path) + 2 for change in section.changes)])
            for change in section.changes:
                before = show_value(change.path, change.before, "")
                after = show_value(change.path, change.after, "")
                out.write(f"      {change.path:<{width}}{_one_line(before)} -> {_one_line(after)}\n")


def _one_line(text: str, width: int = 60) -> str:
    text = text.strip().replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(entry: LogEntry) -> dict[str, Any]:
    commit = entry.commit
    return {
        "commit": commit.sha,
        "author": commit.author,
        "email": commit.email,
        "date": instant_text(commit.date),
        "subject": commit.subject,
        "files": [
            {
                "path": section.path,
                "what": section.what,
                "changes": [change.to_json() for change in section.changes],
            }
            for section in entry.sections
        ],
    }
