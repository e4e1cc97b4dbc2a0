"""`reconciler diff [REV1..REV2]`: the change in desired state between two revisions.

Reads only git and the working tree, never the live platform: what a pull request from a
fork, which has no credentials, can still show its reviewers.
"""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import add_at_option
from reconciler.commands.outcome import Outcome, plan_outcome
from reconciler.commands.session import Session
from reconciler.history.revisions import diff_revisions, resolve_range
from reconciler.render import FORMATS, renderer


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="the change in desired state between two revisions (never reads the live platform)",
        description=(
            "Compare desired state between two revisions, field by field. RANGE is REV1..REV2, "
            "REV1...REV2 (from their merge base) or REV (REV..working tree); default: the merge base "
            "with the upstream branch (else origin/main, else main) up to the working tree."
        ),
    )
    parser.add_argument("range", nargs="?", metavar="RANGE", help="REV1..REV2, REV1...REV2 or REV")
    add_at_option(parser)
    parser.add_argument("--format", choices=FORMATS, default=None, help="text (default), markdown or json")
    parser.add_argument(
        "--detailed-exitcode", action="store_true",
        help="exit 2 when desired state differs (0: it does not); 3 whenever the change would be blocked",
    )


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    before, after = resolve_range(session.root, args.range)
    plan = diff_revisions(session.root, before, after, args.at or session.now)
    renderer(args.format or settings.output.format, color=session.color()).render(plan, session.stdout)
    # A change the plan after the merge would block fails the pull request's check (3).
    return plan_outcome(plan, detailed=args.detailed_exitcode)
