"""Desired state: what the repository says every customer should be at time T."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconciler.config import Settings
from reconciler.customers import CustomerFile, customer_paths, load_customers
from reconciler.model import Customer
from reconciler.overlays import Overlay, load_overlays, overlay_paths
from reconciler.schedule import customers_at


def load_desired(root: Path, settings: Settings, at: dt.datetime) -> dict[str, Customer]:
    """Every customer's effective definition at `at`: the customer files plus the overlays of
    plans/ in effect then, validated; InvalidInput lists every problem."""
    return customers_at(load_base(root, settings), load_plans(root, settings), at)


def load_base(root: Path, settings: Settings) -> dict[str, CustomerFile]:
    """The customer files themselves, without scheduled changes."""
    return load_customers(customer_paths(root / settings.customers_dir), settings.catalogs)


def load_plans(root: Path, settings: Settings) -> list[Overlay]:
    """The scheduled changes of plans/, in the order they apply."""
    return load_overlays(overlay_paths(root / settings.plans_dir))
