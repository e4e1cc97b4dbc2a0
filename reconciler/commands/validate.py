"""`reconciler validate [PATHS]`: check customer files, report every problem at once.

Without PATHS it also checks the scheduled changes of plans/: each file, and the state of
every customer at every instant an overlay starts or ends (validation of the future).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.customers import CustomerFile, customer_paths, load_customers
from reconciler.desired.overlays import Overlay, change_instants, load_overlay, overlay_paths
from reconciler.desired.schedule import check_schedule
from reconciler.desired.state import customers_dir
from reconciler.errors import InvalidInput, Problem
from reconciler.render import write_json


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
    overlays = [overlay for overlay in loaded if isinstance(overlay, Overlay)]
    problems.extend(problem for result in loaded if not isinstance(result, Overlay) for problem in result)
    if customers is not None and overlays:
        problems.extend(check_schedule(customers, overlays))
    report = REPORTERS[args.format]
    if problems:
        report(InvalidInput(problems).problems, len(paths) + len(plan_paths), session.stdout)
        return Outcome.FAILED
    report([], len(customers or {}), session.stdout)
    if overlays and args.format != "json":
        instants = len(change_instants(overlays))
        print(
            f"{_plural(len(overlays), 'scheduled change')} valid "
            f"(every customer checked at {_plural(instants, 'instant')}).",
            file=session.stdout,
        )
    return Outcome.DONE


def _expand(roots: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for root in roots:
        paths.extend(customer_paths(root) if root.is_dir() else [root])
    return paths


def _report_text(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)
    if problems:
        files = len({problem.path for problem in problems})
        print(f"{_plural(len(problems), 'problem')} in {_plural(files, 'file')}.", file=out)
    else:
        print(f"{_plural(file_count, 'customer')} valid.", file=out)


def _report_json(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    document = {
        "valid": not problems,
        "files": file_count,
        "problems": [
            {
                "file": str(problem.path),
                "line": problem.line,
                "column": problem.column,
                "field": problem.field,
                "message": problem.message,
            }
            for problem in problems
        ],
    }
    write_json(document, out)


def _report_github(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    for problem in problems:
        properties = [f"file={_escape_property(str(problem.path))}"]
        if problem.line is not None:
            properties.append(f"line={problem.line}")
        if problem.column is not None:
            properties.append(f"col={problem.column}")
        if problem.field:
            properties.append(f"title={_escape_property(problem.field)}")
        print(f"::error {','.join(properties)}::{_escape_data(problem.message)}", file=out)
    if not problems:
        _report_text(problems, file_count, out)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


REPORTERS = {"text": _report_text, "json": _report_json, "github": _report_github}
