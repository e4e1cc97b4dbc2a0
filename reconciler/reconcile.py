"""The whole job as plain functions over typed values: open the provider, make a plan.

The CLI commands are thin shells around these; tests call them directly with a pinned time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from pathlib import Path

from reconciler.config import Settings
from reconciler.desired import load_desired
from reconciler.git import Revision
from reconciler.plan import Plan, PlanContext, compute_plan
from reconciler.providers import create_provider
from reconciler.providers.base import Provider


def open_provider(settings: Settings, *, environ: Mapping[str, str], root: Path) -> Provider:
    return create_provider(settings.live.provider, settings.live.options, environ=environ, root=root)


def make_plan(
    root: Path,
    settings: Settings,
    provider: Provider,
    *,
    at: dt.datetime,
    revision: Revision,
    only: Collection[str] | None = None,
    allow_bulk: bool = False,
) -> Plan:
    """Desired state at `at` against what `provider` holds now."""
    desired = load_desired(root, settings, at)
    if only is not None:
        keys = set(only)
        keys.update(old for key in only if key in desired for old in desired[key].renamed_from)
        live = provider.read(keys)
    else:
        live = provider.read()
    context = PlanContext(
        at=at,
        commit=revision.commit,
        dirty=revision.dirty,
        provider=provider.describe(),
        owned_fields=tuple(settings.owned_fields),
        safety=settings.safety,
        allow_bulk=allow_bulk,
    )
    return compute_plan(desired, live, context, only=only)
