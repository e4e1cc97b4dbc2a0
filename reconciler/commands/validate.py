"""`reconciler validate [PATHS]`: check customer files, report every problem at once.

Without PATHS it also checks the scheduled changes of plans/: each file, and the state of
every customer at every instant an overlay starts or ends (validation of the future).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.config import CONFIG_NAME, Settings, read_settings
from reconciler.desired.customers import (
    CustomerFile,
    customer_paths,
    load_customers,
    unset_fields,
    unset_warnings,
)
from reconciler.desired.fleet import Fleet, load_fleet
from reconciler.desired.overlays import change_instants, load_overlay, overlay_paths
from reconciler.desired.state import check_fleet_schedule, customers_dir, inside
from reconciler.documents.cache import cache_of
from reconciler.documents.loader import load_document
from reconciler.errors import ConfigError, InvalidInput, Problem, ProviderError
from reconciler.history.git import removal_commits
from reconciler.model.messages import closest
from reconciler.providers import available_providers, provider_class
from reconciler.providers.options import check_options
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
    problems: list[Problem] = []
    configs: list[Path] = []
    fleet_dir: Path | None = None  # the whole customers folder: validated as a fleet
    paths: list[Path] = []
    if args.paths:
        paths, plan_paths, configs = _classify(session.root, settings, args.paths, problems)
        if plan_paths and not paths:  # overlays are checked against the customers they change
            fleet_dir = customers_dir(session.root, settings)
        for config in configs:
            problems.extend(_config_problems(config))
    else:
        fleet_dir = customers_dir(session.root, settings)
        plans = overlay_paths(inside(session.root, settings.plans_dir, "plans_dir"), session.root)
        plan_paths = plans.paths
        problems.extend(plans.problems)
        if (session.root / CONFIG_NAME).is_file():
            problems.extend(_config_problems(session.root / CONFIG_NAME))
    customers: Mapping[str, CustomerFile] | None = None
    with session.loading() as load:
        try:
            if fleet_dir is not None:
                customers = load_fleet(session.root, settings, fleet_dir, cache_of(load))
            else:
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
            problems.extend(check_fleet_schedule(
                customers, overlays, catalogs=settings.catalogs, removed=removed, safety=settings.safety,
            ))
    files = _count_files(fleet_dir, session.root, customers) if fleet_dir is not None else len(paths)
    findings = Findings(InvalidInput(problems).problems, _warnings(customers), files, len(plan_paths), len(configs))
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


def _warnings(customers: Mapping[str, CustomerFile] | None) -> list[Problem]:
    """What the customer files leave unset that they should say (`unset_warnings`)."""
    if isinstance(customers, Fleet):
        folder, names = customers.directory, customers.names
        return unset_warnings((folder / names[key], unset) for key, unset in customers.unset_fields())
    if customers is None:
        return []
    return unset_warnings((file.document.path, unset_fields(file.document.data)) for file in customers.values())


def _count_files(directory: Path, root: Path, fleet: Mapping[str, CustomerFile] | None) -> int:
    """How many customer files the folder holds: the fleet's, or (when it is not valid) the
    documents listed there."""
    return len(fleet) if fleet is not None else len(customer_paths(directory, root).paths)


def _classify(
    root: Path, settings: Settings, given: Sequence[Path], problems: list[Problem]
) -> tuple[list[Path], list[Path], list[Path]]:
    """The customer files, overlay files and configuration files among GIVEN (files or folders),
    each by where it stands: under plans_dir an overlay, reconciler.toml the configuration,
    anything else a customer."""
    customers: list[Path] = []
    plans: list[Path] = []
    configs: list[Path] = []
    plans_dir = (root / settings.plans_dir).resolve()
    for path in given:
        is_plan = path.resolve() == plans_dir or path.resolve().parent == plans_dir
        if path.is_dir():
            listing = (overlay_paths if is_plan else customer_paths)(path, root)
            (plans if is_plan else customers).extend(listing.paths)
            problems.extend(listing.problems)
        elif path.name == CONFIG_NAME:
            configs.append(path)
        else:
            (plans if is_plan else customers).append(path)
    return customers, plans, configs


def _config_problems(path: Path) -> list[Problem]:
    """reconciler.toml checked whole: its fields, the provider it names and that provider's
    options (without building the provider: its credentials are not needed to check them)."""
    try:
        settings = read_settings(path)
    except InvalidInput as exc:
        return list(exc.problems)
    document = load_document(path)
    name = settings.live.provider
    known = available_providers()
    if name not in known:
        close = closest(name, known)
        hint = f"did you mean '{close}'? " if close else ""
        return [document.problem(("live", "provider"), f"unknown provider '{name}'; {hint}available: {', '.join(known)}")]
    try:
        options = provider_class(name).known_options
    except ProviderError as exc:
        return [document.problem(("live", "provider"), str(exc))]
    problems = []
    for option, value in settings.live.options.items():
        try:
            check_options(name, {option: value}, options)
        except ConfigError as exc:
            message = str(exc).removeprefix(f"live.options.{option}: ")
            problems.append(document.problem(("live", "options", option), message, key=option not in options))
    return problems
