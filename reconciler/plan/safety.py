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
    fleet = plan.fleet_size
    violations = []
    if updates > safety.max_updates:
        violations.append(f"{updates} customers to update, more than safety.max_updates = {safety.max_updates}")
    removing = "delete" if safety.on_removal == "delete" else "deactivate"
    if removals > safety.max_deactivations:
        violations.append(
            f"{removals} customers to {removing}, more than safety.max_deactivations = {safety.max_deactivations}"
        )
    if fleet >= safety.min_fleet_for_share and fleet:
        if updates / fleet > safety.max_update_share:
            violations.append(
                f"{updates} of {fleet} live customers to update ({updates / fleet:.0%}), "
                f"more than safety.max_update_share = {safety.max_update_share:.0%}"
            )
        if removals / fleet > safety.max_deactivation_share:
            violations.append(
                f"{removals} of {fleet} live customers to {removing} ({removals / fleet:.0%}), "
                f"more than safety.max_deactivation_share = {safety.max_deactivation_share:.0%}"
            )
    return violations


def allow_bulk(plan: Plan) -> Plan:
    """PLAN with the thresholds it goes over allowed (--allow-bulk): each becomes a warning."""
    warnings = (*plan.warnings, *(f"allowed by --allow-bulk: {rule}" for rule in plan.bulk_blocked))
    return replace(plan, bulk_blocked=(), warnings=warnings)
