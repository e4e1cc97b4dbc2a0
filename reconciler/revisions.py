"""Desired state between two revisions: what a branch changes, without the live system.

Each side is materialised from git (customers, plans and reconciler.toml as that commit
held them) and loaded by the same loaders as the working tree; the difference is a `Plan`
against git itself, so it renders like any plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler import git
from reconciler.config import CONFIG_NAME, Settings, load_settings
from reconciler.desired import load_desired
from reconciler.diff import diff_customers
from reconciler.errors import InvalidInput
from reconciler.model import Customer
from reconciler.plan import Action, CustomerChange, Plan, create_note


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


def desired_at_side(root: Path, side: Side, at: dt.datetime) -> tuple[dict[str, Customer], Settings]:
    """Desired state at `at` as the repository held it at `side`, with that side's settings."""
    if side.commit is None:
        settings = load_settings(root)
        return load_desired(root, settings, at), settings
    current = load_settings(root)
    with tempfile.TemporaryDirectory(prefix="reconciler-rev-") as folder:
        tree = Path(folder)
        git.materialise(root, side.commit, [current.customers_dir, current.plans_dir, CONFIG_NAME], tree)
        try:
            settings = load_settings(tree)
            return load_desired(tree, settings, at), settings
        except InvalidInput as exc:
            raise InvalidInput(
                dataclasses.replace(problem, path=Path(f"{side.label}:{problem.path.relative_to(tree)}"))
                for problem in exc.problems
            ) from exc


def diff_revisions(root: Path, before: Side, after: Side, at: dt.datetime) -> Plan:
    """The change in desired state from `before` to `after`, as a plan against git itself."""
    old, _ = desired_at_side(root, before, at)
    new, settings = desired_at_side(root, after, at)
    revision = git.current_revision(root) if after.commit is None else git.Revision(after.commit, False)
    return Plan(
        at=at, commit=revision.commit, dirty=revision.dirty, provider="git",
        target=f"git {before.label}{'...' if before.merge_base else '..'}{after.label}",
        changes=tuple(desired_changes(old, new, owned=settings.owned_fields, customers_dir=settings.customers_dir)),
    )


def desired_changes(
    before: Mapping[str, Customer], after: Mapping[str, Customer], *, owned: Sequence[str] = (),
    customers_dir: str = "customers.d",
) -> Iterator[CustomerChange]:
    """Per customer: created, updated, renamed or removed between two desired states."""
    claimed: set[str] = set()
    for key in sorted(after):
        customer, old, renamed_from = after[key], before.get(key), None
        if old is None:
            renamed_from = next((name for name in customer.renamed_from if name in before and name not in after), None)
            old = before.get(renamed_from) if renamed_from else None
        if renamed_from:
            claimed.add(renamed_from)
        if old is None:
            yield CustomerChange(
                key, "create", tuple(diff_customers(None, customer)), customer.document(), None, None,
                note=create_note(customer),
            )
            continue
        changes = tuple(diff_customers(old, customer, owned=owned))
        if changes or renamed_from:
            action: Action = "rename" if renamed_from else "update"
            yield CustomerChange(key, action, changes, customer.document(), None, None, renamed_from=renamed_from)
    for key in sorted(before.keys() - after.keys() - claimed):
        yield CustomerChange(key, "deactivate", (), None, None, None, note=f"removed from {customers_dir.strip('/')}/")
