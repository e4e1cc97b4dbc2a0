"""`reconciler plan`: what applying the repository would change on the live platform. Never writes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reconciler.commands.options import add_at_option, add_customer_option, add_override_options
from reconciler.commands.outcome import Outcome, plan_outcome
from reconciler.commands.session import Session
from reconciler.plan.file import save_plan
from reconciler.reconcile import open_provider
from reconciler.render import FORMATS, renderer


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="show what apply would change on the live platform (never writes)",
        description="Compare desired state with the live platform and show the plan.",
    )
    add_customer_option(parser)
    add_at_option(parser)
    add_override_options(parser)
    parser.add_argument("--out", type=Path, metavar="FILE", help="also save the plan as JSON, for `apply FILE`")
    parser.add_argument("--format", choices=FORMATS, default=None, help="text (default), markdown or json")
    parser.add_argument(
        "--detailed-exitcode", action="store_true",
        help="exit 2 when there are changes (0: none, 3: blocked)",
    )
    parser.add_argument("--allow-bulk", action="store_true", help="plan past the safety thresholds")
    parser.add_argument(
        "--changed-since", metavar="REV",
        help="only customers whose definition changed since REV (files, overlays) or whose "
        "scheduled changes fell due since REV's commit; reads only those from the live platform",
    )


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    key = session.plan_key(settings) if args.out else None
    session.start_listing(settings, args.changed_since)
    with open_provider(settings, environ=session.environ, root=session.root) as provider:
        plan = session.plan(
            settings, provider, args, allow_bulk=args.allow_bulk, changed_since=args.changed_since,
            lift_penalty=args.lift_penalty, repair=args.repair,
        )
    renderer(args.format or settings.output.format, color=session.color()).render(plan, session.stdout)
    if args.out:
        save_plan(plan, args.out, key=key)
        signed = ", signed" if key is not None else ""
        print(
            f"Saved plan {plan.plan_id}{signed} to {args.out}; apply it with: reconciler apply {args.out}",
            file=session.stderr,
        )
    return plan_outcome(plan, detailed=args.detailed_exitcode)

