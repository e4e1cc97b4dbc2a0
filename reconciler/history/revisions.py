"""Desired state between two revisions: what a branch changes, without the live system.

Each side is materialised from git (customers, plans and reconciler.toml as that commit
held them) and loaded by the same loaders as the working tree; the difference is a `Plan`
against git itself, so it renders like any plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.config import CONFIG_NAME, Settings, load_settings
from reconciler.desired.customers import CustomerFile
from reconciler.desired.overlays import Overlay
from reconciler.desired.schedule import customers_at
from reconciler.desired.state import load_base, load_plans
from reconciler.errors import InvalidInput
from reconciler.history import git
from reconciler.history.review import review_over_time
from reconciler.model.customer import Customer
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import Plan
from reconciler.providers.base import LiveCustomer, LiveRecord, ProviderInfo


@dataclass(frozen=True)
class Side:
    """One end of a range: a commit, or the working tree (commit None)."""

    label: str
    commit: str | None
    merge_base: bool = False  # the commit is the merge base of `label` and the other side


def resolve_range(root: Path, text: str | None) -> tuple[Side, Side]:
    """`A..B`, `A...B` (from their merge base), `A` (A..working tree), or None: the merge base
    with the upstream branch (else origin/main, else main) up to the working tree."""
    if text is None:
        name, base = git.default_base(root)
        return Side(name, base, merge_base=True), Side(git.WORKTREE, None)
    if "..." in text:
        left, right = (part or "HEAD" for part in text.split("...", 1))
        right_commit = git.resolve(root, right)
        base = git.merge_base(root, git.resolve(root, left), right_commit)
        return Side(left, base, merge_base=True), Side(right, right_commit)
    if ".." in text:
        left, right = (part or "HEAD" for part in text.split("..", 1))
        return Side(left, git.resolve(root, left)), Side(right, git.resolve(root, right))
    return Side(text, git.resolve(root, text)), Side(git.WORKTREE, None)


@dataclass(frozen=True)
class SideState:
    """Desired state at an instant as one side of a range held it, and what it is made of."""

    customers: dict[str, Customer]
    settings: Settings
    base: dict[str, CustomerFile]
    overlays: list[Overlay]


def desired_at_side(root: Path, side: Side, at: dt.datetime) -> SideState:
    """Desired state at `at` as the repository held it at `side`, with that side's settings."""
    if side.commit is None:
        return _state(root, load_settings(root), at)
    current = load_settings(root)
    with tempfile.TemporaryDirectory(prefix="reconciler-rev-") as folder:
        tree = Path(folder)
        git.materialise(root, side.commit, [current.customers_dir, current.plans_dir, CONFIG_NAME], tree)
        try:
            return _state(tree, load_settings(tree), at)
        except InvalidInput as exc:
            raise InvalidInput(
                dataclasses.replace(problem, path=Path(f"{side.label}:{problem.path.relative_to(tree)}"))
                for problem in exc.problems
            ) from exc


def _state(root: Path, settings: Settings, at: dt.datetime) -> SideState:
    base, overlays = load_base(root, settings), load_plans(root, settings)
    return SideState(customers_at(base, overlays, at), settings, base, overlays)


def diff_revisions(root: Path, before: Side, after: Side, at: dt.datetime) -> Plan:
    """The change in desired state from `before` to `after`, as a plan against git itself,
    with its review over time (`history.review`).

    `before` stands in for the live platform, so a reviewer sees what the plan after the
    merge will do, blocked changes (a currency change) and safety thresholds included.
    """
    old = desired_at_side(root, before, at)
    new = desired_at_side(root, after, at)
    settings = new.settings
    inputs = [settings.customers_dir, settings.plans_dir, CONFIG_NAME]
    revision = git.current_revision(root, inputs) if after.commit is None else git.Revision(after.commit, False)
    target = f"git {before.label}{'...' if before.merge_base else '..'}{after.label}"
    context = PlanContext(
        at=at,
        commit=revision.commit,
        dirty=revision.dirty,
        provider=ProviderInfo("git", target, frozenset()),
        owned_fields=tuple(settings.owned_fields),
        safety=settings.safety,
    )
    as_if_live: dict[str, LiveRecord] = {
        key: LiveCustomer(key, customer, 0, managed=True, active=True) for key, customer in old.customers.items()
    }
    plan = compute_plan(new.customers, as_if_live, context)
    review = review_over_time(
        plan, new.base, new.overlays, settings.plans_dir.strip("/"), settings.customers_dir.strip("/")
    )
    return dataclasses.replace(plan, review=review)
