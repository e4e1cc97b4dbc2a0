"""Property: from any live fleet, one apply makes the live store match git, and the next plan is empty.

Fleets change between steps by creating, editing and removing customers (a removed one
is deactivated, and reactivated when it comes back); each step plans against the real
SQLite store, applies, and checks the store against desired state.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from customer_cases import customers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import LockPolicy, apply_plan
from reconciler.config import SafetySection
from reconciler.model.customer import Customer
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext
from reconciler.reconcile import penalties_from_git

KEYS = ["acme", "globex", "kiwi", "northwind"]
AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
UNLIMITED = SafetySection(max_updates=100, max_deactivations=100, min_fleet_for_share=1000)
LOCK = LockPolicy("property", dt.timedelta(minutes=5), dt.timedelta(0), lambda: dt.datetime.now(dt.UTC), time.sleep)

fleets = st.lists(st.dictionaries(st.sampled_from(KEYS), customers, max_size=4), min_size=1, max_size=4)


def _fixed_currency(fleet: dict[str, dict[str, Any]]) -> dict[str, Customer]:
    # A customer keeps its first currency: a change would be blocked, which is its own test.
    return {key: Customer.model_validate({**document, "currency": "USD"}) for key, document in fleet.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=fleets)
def test_apply_converges_from_any_fleet(tmp_path_factory: Any, steps: list[dict[str, dict[str, Any]]]) -> None:
    root: Path = tmp_path_factory.mktemp("fleet")
    with create_provider("sqlite", {"path": "live.sqlite"}, environ={}, root=root) as provider:
        context = PlanContext(at=AT, commit=None, dirty=False, provider=provider.describe(), safety=UNLIMITED)
        for step, fleet in enumerate(steps):
            desired = _fixed_currency(fleet)
            live = provider.read()
            # The files are the only writer here: a penalty is theirs to lift, as make_plan finds.
            context = replace(context, penalties_from_git=penalties_from_git(provider, live))
            plan = compute_plan(desired, live, context)
            # Made here, just now: the unmoved records are written without being read again.
            report = apply_plan(plan, provider, AuditContext("property", f"step-{step}", plan.plan_id), LOCK, saved=False)
            assert report.counts()["applied"] == len(plan.changes)
            live = provider.read()
            assert {key: record.customer for key, record in live.items() if record.active} == desired
            assert all(not record.active for key, record in live.items() if key not in desired)
            assert compute_plan(desired, live, context).empty
