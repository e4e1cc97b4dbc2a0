"""`reconciler blame KEY`: for each current field value, the commit, author and date that set it."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import add_at_option
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.history.blame import customer_blame
from reconciler.render.blame import render_blame_as


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
    render_blame_as(args.format, lines, session.stdout, defaults=args.all)
    return Outcome.DONE
