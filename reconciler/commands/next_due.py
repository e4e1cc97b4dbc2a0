"""`reconciler next-due`: the next instant the desired state changes, for schedulers to wake at."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import add_at_option
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.overlays import next_change
from reconciler.desired.state import load_plans
from reconciler.model.types import instant_text


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "next-due", help="print the next instant a scheduled change starts or ends",
        description="Print the next instant (ISO 8601, UTC) after now at which an overlay in plans/ "
        "starts or ends; print nothing when none is pending.",
    )
    add_at_option(parser)


def run(args: argparse.Namespace, session: Session) -> Outcome:
    instant = next_change(load_plans(session.root, session.settings()), args.at or session.now)
    if instant is not None:
        print(instant_text(instant), file=session.stdout)
    return Outcome.DONE
