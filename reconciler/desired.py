"""Desired state: what the repository says every customer should be at time T."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconciler.config import Settings
from reconciler.customers import CustomerFile, customer_paths, load_customers
from reconciler.model import Customer


def load_desired(root: Path, settings: Settings, at: dt.datetime) -> dict[str, Customer]:
    """Every customer's effective definition at `at`, validated; InvalidInput lists every problem."""
    del at  # scheduled changes (plans/) make this depend on time
    return {key: customer_file.customer for key, customer_file in load_base(root, settings).items()}


def load_base(root: Path, settings: Settings) -> dict[str, CustomerFile]:
    """The customer files themselves, without scheduled changes."""
    return load_customers(customer_paths(root / settings.customers_dir), settings.catalogs)
