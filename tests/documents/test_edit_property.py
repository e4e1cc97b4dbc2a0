"""Property: rewriting a customer file in place (compact) gives exactly the merge-patched document."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.customers import load_customers
from reconciler.documents.edit import patch_text
from reconciler.documents.merge_patch import merge_patch
from reconciler.importer import customer_text, minimal_document
from reconciler.model.customer import Customer

OPTIONAL = ["name", "notes", "config", "timeouts", "address", "verification", "day_time_restriction", "channels"]


@st.composite
def patches(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of another valid customer, and some fields reset (null) to their defaults."""
    other = draw(customers)
    patch = {key: value for key, value in other.items() if key != "currency" and draw(st.booleans())}
    for key in draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=3)):
        patch.setdefault(key, None)
    return patch


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
@settings(max_examples=60, deadline=None)
@given(document=customers, patch=patches())
def test_patching_a_file_is_patching_its_document(suffix: str, document: dict[str, Any], patch: dict[str, Any]) -> None:
    customer = Customer.model_validate(document)
    base = minimal_document("acme", customer)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"acme{suffix}"
        text = customer_text(path, "acme", customer, schema="../schemas/customer.schema.json")
        path.write_text(patch_text(path, text, [patch]))
        loaded = load_customers([path])["acme"].customer
    expected = Customer.model_validate(merge_patch(base, patch))
    assert loaded == (expected if expected.name is not None else expected.model_copy(update={"name": "acme"}))
