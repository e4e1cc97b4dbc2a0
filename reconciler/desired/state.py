"""Desired state: what the repository says every customer should be at time T."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from reconciler.config import CONFIG_NAME, Settings
from reconciler.desired.customers import CustomerFile, customer_paths, load_customers
from reconciler.desired.overlays import Overlay, load_overlays, overlay_paths
from reconciler.desired.schedule import check_schedule, customers_at
from reconciler.documents.loader import Load, load_document
from reconciler.errors import InvalidInput, Problem
from reconciler.model.customer import Customer

T = TypeVar("T")


def load_desired(
    root: Path, settings: Settings, at: dt.datetime, *, load: Load = load_document
) -> dict[str, Customer]:
    """Every customer's effective definition at `at`: the customer files plus the overlays of
    plans/ in effect then, validated; InvalidInput lists every problem."""
    return customers_at(load_base(root, settings, load=load), load_plans(root, settings, load=load), at)


def load_base(root: Path, settings: Settings, *, load: Load = load_document) -> dict[str, CustomerFile]:
    """The customer files themselves, without scheduled changes."""
    listing = customer_paths(customers_dir(root, settings), root)
    return _with(listing.problems, lambda: load_customers(listing.paths, settings.catalogs, load=load))


def customers_dir(root: Path, settings: Settings) -> Path:
    """The customers folder, which must exist: a mistyped one would read as "no customers"
    and plan to deactivate the whole fleet."""
    directory = inside(root, settings.customers_dir, "customers_dir")
    if not directory.is_dir():
        raise InvalidInput([
            Problem(
                directory, None, None, "",
                f"no such folder; create it, or set customers_dir in {CONFIG_NAME} to where the customer files are",
            )
        ])
    return directory


def load_plans(root: Path, settings: Settings, *, load: Load = load_document) -> list[Overlay]:
    """The scheduled changes of plans/, in the order they apply."""
    listing = overlay_paths(inside(root, settings.plans_dir, "plans_dir"), root)
    return _with(listing.problems, lambda: load_overlays(listing.paths, load=load))


def _with(problems: list[Problem], load: Callable[[], T]) -> T:
    """LOAD's result; InvalidInput with PROBLEMS (a folder's stray entries) and LOAD's own."""
    try:
        loaded = load()
    except InvalidInput as exc:
        raise InvalidInput([*problems, *exc.problems]) from None
    if problems:
        raise InvalidInput(problems)
    return loaded


def inside(root: Path, folder: str, option: str) -> Path:
    """ROOT/FOLDER, which reconciler.toml's OPTION names: it must stay inside the repository."""
    directory = root / folder
    if not directory.resolve().is_relative_to(root.resolve()):
        raise InvalidInput([
            Problem(root / CONFIG_NAME, None, None, option,
                    f"'{folder}' is outside the repository; name a folder inside it"),
        ])
    return directory


def load_schedule(
    root: Path, settings: Settings, *, load: Load = load_document
) -> tuple[dict[str, CustomerFile], list[Overlay]]:
    """Customer files and scheduled changes, checked together at every instant an overlay
    starts or ends; InvalidInput lists every problem."""
    base = load_base(root, settings, load=load)
    overlays = load_plans(root, settings, load=load)
    problems = check_schedule(base, overlays, catalogs=settings.catalogs)
    if problems:
        raise InvalidInput(problems)
    return base, overlays
