"""The refusals of optimistic concurrency, worded one way for every provider: each names the
customer and the versions, and says to re-plan (the contract suite asserts these words)."""

from __future__ import annotations

from reconciler.errors import ConflictError


def stale(key: str, found: int, expected: int) -> ConflictError:
    return ConflictError(
        f"{key}: the live record is at version {found}, the plan expected version {expected}: "
        "it changed since it was read; re-plan"
    )


def missing(key: str, expected: int) -> ConflictError:
    return ConflictError(
        f"{key}: not in the live store (the plan expected version {expected}): "
        "it was removed or renamed since it was read; re-plan"
    )


def exists(key: str, version: int | None = None) -> ConflictError:
    found = f" (version {version})" if version is not None else ""
    return ConflictError(f"{key}: already exists in the live store{found}; re-plan")


def rename_taken(old_key: str, new_key: str) -> ConflictError:
    return ConflictError(f"cannot rename {old_key} to {new_key}: {new_key} already exists in the live store; re-plan")


def moved(key: str, expected: int) -> ConflictError:
    """A write that lost a race it should have been protected from (never silently)."""
    return ConflictError(f"{key}: changed while being written (expected version {expected}); re-plan")
