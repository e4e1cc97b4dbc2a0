"""`reconciler log KEY`: the commits that changed a customer's definition, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.history.log import customer_log
from reconciler.render.log import render_log_as


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
    render_log_as(args.format, entries, session.stdout)
    return Outcome.DONE
