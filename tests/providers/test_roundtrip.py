"""Property: whatever valid customer goes into a live store comes back equal, and plans as no change.

Random customers exercise every column and JSON part of the store's row mapping, money
at every scale up to four places, empty and full optional blocks, on each provider.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from customer_cases import customers
from hypothesis import HealthCheck, given, settings

from reconciler.model.customer import Customer
from reconciler.model.diff import diff_customers
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import fingerprint
from reconciler.providers.base import AuditContext, Provider

AUDIT = AuditContext(actor="property", commit=None, plan_id=None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=customers, revised=customers)
def test_what_goes_in_comes_back_equal(provider: Provider, document: dict[str, Any], revised: dict[str, Any]) -> None:
    customer = Customer.model_validate(document)
    for key in list(provider.read()):  # the store is shared by every example of one test
        record = provider.read([key])[key]
        provider.delete(key, record.version, AUDIT)

    created = provider.create("acme", customer, AUDIT)
    live = provider.read(["acme"])["acme"]
    assert live.customer == customer
    assert diff_customers(live.customer, customer) == []
    assert fingerprint(live) == fingerprint(created)

    context = PlanContext(
        at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC), commit=None, dirty=False, provider=provider.describe()
    )
    assert compute_plan({"acme": customer}, {"acme": live}, context).empty

    # An update to another valid customer (in the same currency) comes back equal too.
    successor = Customer.model_validate({**revised, "currency": customer.currency})
    provider.update("acme", successor, live.version, AUDIT)
    again = provider.read(["acme"])["acme"]
    assert again.customer == successor
    assert compute_plan({"acme": successor}, {"acme": again}, context).empty
