"""`reconciler validate [PATHS]`: check customer files, report every problem at once.

Without PATHS it also checks the scheduled changes of plans/: each file, and the state of
every customer at every instant an overlay starts or ends (validation of the future).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.customers import (
    CustomerFile,
    customer_paths,
    load_customers,
    unset_warnings,
)
from reconciler.desired.overlays import change_instants, load_overlay, overlay_paths
from reconciler.desired.schedule import check_schedule
from reconciler.desired.state import customers_dir
from reconciler.errors import InvalidInput, Problem
from reconciler.history.git import removal_commits
from reconciler.render.problems import Findings, plural, report_problems


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check customer files against the schema and the platform's rules",
        description="Check customer files; every problem is reported as file:line:column: field: message.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH",
        help="files or folders to check (default: the customers folder of reconciler.toml, and plans/)",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "github"), default="text",
        help="text (default), json, or github (workflow annotations shown inline on a pull request)",
    )


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    roots = args.paths or [customers_dir(session.root, settings)]
    paths = _expand(roots)
    plan_paths = [] if args.paths else overlay_paths(session.root / settings.plans_dir)
    problems: list[Problem] = []
    customers: dict[str, CustomerFile] | None = None
    with session.loading() as load:
        try:
            customers = load_customers(paths, settings.catalogs, load=load)
        except InvalidInput as exc:
            problems.extend(exc.problems)
        # Each overlay file on its own first; the future is checked with those that loaded.
        loaded = [load_overlay(path, load=load) for path in plan_paths]
    overlays = [overlay for overlay, _ in loaded if overlay is not None]
    problems.extend(problem for _, found in loaded for problem in found)
    if customers is not None and overlays:
        removed = removal_commits(session.root, settings.customers_dir) if any(
            key not in customers for overlay in overlays for key in overlay.customers
        ) else {}
        problems.extend(check_schedule(customers, overlays, catalogs=settings.catalogs, removed=removed))
    warnings = unset_warnings(customers.values()) if customers is not None else []
    findings = Findings(InvalidInput(problems).problems, warnings, len(paths), len(plan_paths))
    report_problems(args.format, findings, session.stdout)
    if problems:
        return Outcome.FAILED
    if overlays and args.format != "json":
        instants = len(change_instants(overlays))
        print(
            f"{plural(len(overlays), 'scheduled change')} valid "
            f"(every customer checked at {plural(instants, 'instant')}).",
            file=session.stdout,
        )
    return Outcome.DONE


def _expand(roots: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for root in roots:
        paths.extend(customer_paths(root) if root.is_dir() else [root])
    return paths
