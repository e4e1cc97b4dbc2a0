"""Safety thresholds: how much one plan may change before a person must say so (--allow-bulk).

Raised from the plan itself, so a saved plan carries its own verdict to `apply`.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.config import SafetySection
from reconciler.plan.plan import Plan


def bulk_violations(plan: Plan, safety: SafetySection) -> list[str]:
    """The safety thresholds this plan goes over, each as a sentence naming its setting."""
    updates = sum(1 for change in plan.changes if change.action.is_update)
    removals = sum(1 for change in plan.changes if change.action.is_removal)
    return safety.violations(updates, removals, plan.fleet_size)


def allow_bulk(plan: Plan, by: str = "--allow-bulk") -> Plan:
    """PLAN with the thresholds it goes over allowed (--allow-bulk, or the overlay BY names
    that says allow_bulk): each becomes a warning."""
    warnings = (*plan.warnings, *(f"allowed by {by}: {rule}" for rule in plan.bulk_blocked))
    return replace(plan, bulk_blocked=(), warnings=warnings)
