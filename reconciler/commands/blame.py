"""`reconciler blame KEY`: for each current field value, the commit, author and date that set it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from reconciler.commands.options import add_at_option
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.history.blame import BlameLine, customer_blame
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import show_value

VALUE_WIDTH = 28


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "blame", help="the commit behind each of a customer's current values",
        description=(
            "For each field of the customer's definition now (or --at), the commit, author and date "
            "that set its value, and the overlay in plans/ when one sets it."
        ),
    )
    parser.add_argument("key", metavar="KEY", help="the customer's key")
    add_at_option(parser)
    parser.add_argument("--all", action="store_true", help="also list the fields at their defaults")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    lines = customer_blame(session.root, session.settings(), args.key, args.at or session.now)
    if args.format == "json":
        write_json([_json(line) for line in lines], session.stdout)
    else:
        render_blame(lines, session.stdout, defaults=args.all)
    return Outcome.DONE


def render_blame(lines: Sequence[BlameLine], out: TextIO, *, defaults: bool = False) -> None:
    shown = [line for line in lines if defaults or line.uncommitted or line.commit is not None]
    width = max([0, *(len(line.path) + 2 for line in shown)])
    for line in shown:
        value = show_value(line.path, line.value, "").strip().replace("\n", " ⏎ ")
        if len(value) > VALUE_WIDTH:
            value = value[: VALUE_WIDTH - 1] + "…"
        text = f"{line.path:<{width}}{value:<{VALUE_WIDTH}}  "
        if line.uncommitted:
            text += "(uncommitted)"
        elif line.commit is None:
            text += "(default)"
        else:
            text += f"{line.commit.short}  {instant_text(line.commit.date)[:10]}  {line.commit.author}"
        if line.overlay:
            text += f"  {line.source}"
        out.write(text.rstrip() + "\n")
    out.write(_hidden_note(lines, len(shown)))


def _json(line: BlameLine) -> dict[str, Any]:
    commit = line.commit
    return {
        "field": line.path,
        "value": line.value,
        "commit": commit.sha if commit else None,
        "author": commit.author if commit else None,
        "date": instant_text(commit.date) if commit else None,
        "source": line.source or None,
        "uncommitted": line.uncommitted,
    }


def _hidden_note(lines: Sequence[BlameLine], shown: int) -> str:
    hidden = len(lines) - shown
    return f"({hidden} more field{'s' if hidden != 1 else ''} at their defaults; --all lists them)\n" if hidden else ""
