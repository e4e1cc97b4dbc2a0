"""Property: whatever valid customer goes into a live store comes back equal, and plans as no change.

Random customers exercise every column and JSON part of the store's row mapping, money
at every scale up to four places, empty and full optional blocks, on each provider.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import HealthCheck, given, settings

from reconciler.model.customer import Customer
from reconciler.model.diff import diff_customers
from reconciler.model.fields import canonical_document, digest
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import fingerprint
from reconciler.providers.base import AuditContext, Provider, Write

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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=customers, revised=customers)
def test_an_update_records_the_same_audit_whether_its_row_was_read_before_or_not(
    provider: Provider, document: dict[str, Any], revised: dict[str, Any]
) -> None:
    """A store may take an update's before values from the customer it read from the row
    (the SQL store does, while the row is as read: `SqlProvider._as_read`) rather than from
    the row decoded again: the audit is the same either way."""
    customer = Customer.model_validate({**document, "name": None})  # named by their keys: two of them
    successor = Customer.model_validate({**revised, "currency": customer.currency, "name": None})
    for key in list(provider.read()):
        provider.delete(key, provider.read([key])[key].version, AUDIT)
    for key in ("read-first", "not-read"):
        provider.create(key, customer, AUDIT)
    assert provider.read(["read-first"])["read-first"].customer == customer
    assert provider.write_many([Write(key, successor, 1, AUDIT) for key in ("read-first", "not-read")]) == [None, None]

    def recorded(key: str) -> list[tuple[Any, ...]]:
        return sorted(
            (record.field or "", repr(record.before), repr(record.after))
            for record in provider.read_audit(key) if record.action == "update"
        )

    assert recorded("read-first") == recorded("not-read")
    assert provider.read(["read-first"])["read-first"].customer == successor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=customers)
def test_a_create_written_as_its_canonical_document_is_the_create_of_its_customer(
    provider: Provider, document: dict[str, Any]
) -> None:
    """The apply writes a create the plan holds as its canonical document as that
    (`Write.of_document`): a store that writes the canonical form makes no customer of it,
    any other makes one. Either way the store holds and audits what a create of the customer
    gives."""
    customer = Customer.model_validate({**document, "name": None})  # named by their keys
    for key in list(provider.read()):
        provider.delete(key, provider.read([key])[key].version, AUDIT)
    provider.create("customer", customer, AUDIT)
    writes = [Write.of_document(key, canonical_document(customer), digest(customer), None, AUDIT) for key in ("one", "two")]
    assert provider.write_many(writes) == [None, None]
    live = provider.read()
    assert {key: record.customer for key, record in live.items()} == dict.fromkeys(("customer", "one", "two"), customer)
    assert {fingerprint(record) for record in live.values()} == {fingerprint(live["customer"])}

    def audited(key: str) -> list[tuple[Any, ...]]:
        return [(record.action, record.field, record.before, record.after) for record in provider.read_audit(key)]

    assert audited("one") == audited("two") == audited("customer")


def test_a_write_given_as_a_document_is_the_write_of_its_customer_and_frozen() -> None:
    """`Write.of_document` is a value like any write: equal to the write of the customer its
    document makes (made only when asked for, holding that document), and frozen."""
    customer = Customer.model_validate({"currency": "USD", "channels": 3, "name": "Acme"})
    document = dict(canonical_document(customer))
    written = Write.of_document("acme", document, digest(customer), None, AUDIT)
    assert written.canonical() == (document, digest(customer))
    assert written == Write("acme", customer, None, AUDIT)
    assert canonical_document(written.customer) is document  # made from it, not encoded again
    with pytest.raises(FrozenInstanceError, match=r"^cannot assign to field 'key'$"):
        written.key = "globex"
