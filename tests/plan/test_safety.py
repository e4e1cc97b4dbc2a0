"""Safety thresholds (`plan.safety`): which of them a plan goes over, each as a sentence naming
its setting, and --allow-bulk turning them into warnings."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.config import SafetySection
from reconciler.plan.plan import Action, CustomerChange, Plan
from reconciler.plan.safety import allow_bulk, bulk_violations

AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def plan(actions: dict[Action, int], fleet_size: int, **fields: object) -> Plan:
    changes = tuple(
        CustomerChange(f"{action.value}-{index}", action, (), None, None, None)
        for action, count in actions.items()
        for index in range(count)
    )
    return Plan(AT, None, False, "sqlite", "t", changes, fleet_size=fleet_size, **fields)  # type: ignore[arg-type]


def test_a_plan_within_every_threshold_has_no_violation() -> None:
    # At the limits exactly: 50 updates, 5 deactivations; 25% and 10% of a fleet of 200.
    assert bulk_violations(plan({Action.UPDATE: 50, Action.DEACTIVATE: 5}, 200), SafetySection()) == []
    safety = SafetySection(max_updates=100, max_deactivations=100)
    assert bulk_violations(plan({Action.UPDATE: 25, Action.DEACTIVATE: 10}, 100), safety) == []


def test_more_updates_than_max_updates() -> None:
    assert bulk_violations(plan({Action.UPDATE: 51}, 1000), SafetySection()) == [
        "51 customers to update, more than safety.max_updates = 50"
    ]


def test_adopt_reactivate_and_rename_count_as_updates_create_does_not() -> None:
    actions = {Action.UPDATE: 1, Action.ADOPT: 1, Action.REACTIVATE: 1, Action.RENAME: 1, Action.CREATE: 10}
    assert bulk_violations(plan(actions, 1000), SafetySection(max_updates=3)) == [
        "4 customers to update, more than safety.max_updates = 3"
    ]


def test_deactivations_and_deletions_count_as_removals() -> None:
    actions = {Action.DEACTIVATE: 4, Action.DELETE: 2}
    assert bulk_violations(plan(actions, 1000), SafetySection()) == [
        "6 customers to deactivate, more than safety.max_deactivations = 5"
    ]


def test_shares_of_the_fleet() -> None:
    safety = SafetySection(max_updates=1000, max_deactivations=1000)
    assert bulk_violations(plan({Action.UPDATE: 26, Action.DEACTIVATE: 11}, 100), safety) == [
        "26 of 100 live customers to update (26%), more than safety.max_update_share = 25%",
        "11 of 100 live customers to deactivate (11%), more than safety.max_deactivation_share = 10%",
    ]


def test_the_share_rules_wait_for_a_fleet_of_min_fleet_for_share() -> None:
    safety = SafetySection(max_updates=1000, max_deactivations=1000)
    assert bulk_violations(plan({Action.UPDATE: 19, Action.DEACTIVATE: 19}, 19), safety) == []
    assert bulk_violations(plan({Action.UPDATE: 20}, 20), safety) == [
        "20 of 20 live customers to update (100%), more than safety.max_update_share = 25%"
    ]


def test_an_empty_fleet_never_divides_by_zero() -> None:
    safety = SafetySection(min_fleet_for_share=0, max_update_share=0, max_deactivation_share=0)
    assert bulk_violations(plan({Action.CREATE: 3}, 0), safety) == []


def test_every_rule_at_once_in_order() -> None:
    safety = SafetySection(max_updates=1, max_deactivations=0, max_update_share=0.5, max_deactivation_share=0.05)
    assert bulk_violations(plan({Action.UPDATE: 15, Action.DELETE: 3}, 20), safety) == [
        "15 customers to update, more than safety.max_updates = 1",
        "3 customers to deactivate, more than safety.max_deactivations = 0",
        "15 of 20 live customers to update (75%), more than safety.max_update_share = 50%",
        "3 of 20 live customers to deactivate (15%), more than safety.max_deactivation_share = 5%",
    ]


@pytest.mark.parametrize("warnings", [(), ("already here",)])
def test_allow_bulk_keeps_the_plan_and_turns_each_rule_into_a_warning(warnings: tuple[str, ...]) -> None:
    blocked = plan({Action.UPDATE: 2}, 10, bulk_blocked=("rule one", "rule two"), warnings=warnings)
    allowed = allow_bulk(blocked)
    assert allowed.bulk_blocked == ()
    assert allowed.warnings == (*warnings, "allowed by --allow-bulk: rule one", "allowed by --allow-bulk: rule two")
    assert (allowed.changes, allowed.fleet_size) == (blocked.changes, blocked.fleet_size)
    assert allow_bulk(allowed) == allowed


def test_removals_are_named_by_what_on_removal_does() -> None:
    safety = SafetySection(max_deactivations=1, on_removal="delete")
    assert bulk_violations(plan({Action.DELETE: 2}, 10), safety) == [
        "2 customers to delete, more than safety.max_deactivations = 1"
    ]
