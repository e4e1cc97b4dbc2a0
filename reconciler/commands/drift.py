"""`reconciler drift`: where the live platform differs from git now, and whether git or
someone on the platform made the difference. Exit 2 when it differs, 0 when it does not."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import add_at_option, add_customer_option
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.plan.drift import find_drift
from reconciler.reconcile import open_provider
from reconciler.render.drift import render_drift_as


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "drift", help="compare the live platform with git now (exit 2 when they differ)",
        description=(
            "List every difference between the live platform and desired state, and whether it is "
            "a change in git not yet applied or a change made outside the reconciler (from the "
            "provider's audit). Exit 0: no drift; 2: drift; 1: error."
        ),
    )
    add_customer_option(parser)
    add_at_option(parser)
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="text (default), markdown or json")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    with open_provider(settings, environ=session.environ, root=session.root) as provider:
        plan = session.plan(settings, provider, args, allow_bulk=True)
        audited = "audit" in provider.describe().capabilities
        drift = find_drift(plan, provider.read_audit if audited else None)
    render_drift_as(args.format, drift, session.stdout)
    return Outcome.CHANGES if drift.customers else Outcome.DONE
