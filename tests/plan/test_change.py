"""A planned change as a value (`plan.plan.CustomerChange`), and the create a plan makes
(`CustomerChange.created`), which holds its customer as the canonical document alone: the
same change in every way that can be asked of it, without the customer kept."""

from __future__ import annotations

import gc
import json
import weakref
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import given, settings

from reconciler.desired.customers import load_customers
from reconciler.model.customer import Customer
from reconciler.model.diff import diff_customers
from reconciler.model.fields import canonical_document, digest, kept_digest
from reconciler.plan.plan import Action, CustomerChange

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "customers.d").iterdir())


def _whole(key: str, customer: Customer) -> CustomerChange:
    """The create as a plan made it before it held its customer lean."""
    return CustomerChange(key, Action.CREATE, tuple(diff_customers(None, customer)), customer, None, None)


def _same(held: CustomerChange, whole: CustomerChange, customer: Customer) -> None:
    assert held == whole
    assert held.desired == customer and held.changes == whole.changes
    # The plan file's form and the plan id's, byte for byte (keys in the form's order).
    assert json.dumps(held.to_json()) == json.dumps(whole.to_json())
    assert json.dumps(held.to_json(identity=True)) == json.dumps(whole.to_json(identity=True))
    assert held.to_json(identity=True)["desired"] == digest(customer)
    assert json.dumps(held.document()) == json.dumps(canonical_document(customer))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_a_create_the_plan_made_is_the_create_of_its_customer(path: Path) -> None:
    [loaded] = load_customers([path]).values()
    _same(CustomerChange.created(loaded.key, loaded.customer), _whole(loaded.key, loaded.customer), loaded.customer)


@settings(max_examples=60, deadline=None)
@given(customers)
def test_any_customer_s_create_holds_the_same_change(document: dict[str, Any]) -> None:
    customer = Customer.model_validate(document)
    _same(CustomerChange.created("acme", customer), _whole("acme", customer), customer)


def test_a_create_the_plan_made_keeps_no_customer() -> None:
    """It holds the canonical document: the customer it was made of is let go, and each
    `desired` is made afresh (knowing its canonical form and digest without making them)."""
    [loaded] = load_customers([EXAMPLES[0]]).values()
    customer = Customer.model_validate(loaded.document.data)
    expected = digest(customer)
    gone = weakref.ref(customer)
    change = CustomerChange.created("acme", customer)
    del customer
    gc.collect()
    assert gone() is None
    first, second = change.desired, change.desired
    assert first is not second and first == second
    assert first is not None and kept_digest(first) == expected


def test_a_change_cannot_be_changed() -> None:
    change = CustomerChange.created("acme", Customer(currency="USD"))
    with pytest.raises(FrozenInstanceError):
        change.key = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del change.action  # type: ignore[misc]


def test_a_removal_has_no_customer_and_no_document() -> None:
    change = CustomerChange("gone", Action.DEACTIVATE, (), None, "fedcba9876543210", 3)
    assert (change.desired, change.document(), change.digest()) == (None, None, None)
    assert change.to_json(identity=True)["desired"] is None
    assert repr(change).startswith("CustomerChange(key='gone', action=<Action.DEACTIVATE: 'deactivate'>")
