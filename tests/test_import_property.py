"""Property: a file written by `import` reads back as exactly the customer it was written from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import given, settings

from reconciler.desired.customers import load_customers
from reconciler.importer import customer_text
from reconciler.model.customer import Customer


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
@settings(max_examples=80, deadline=None)
@given(document=customers)
def test_an_imported_file_reads_back_equal(suffix: str, document: dict[str, Any]) -> None:
    customer = Customer.model_validate(document)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"acme{suffix}"
        path.write_text(customer_text(path, "acme", customer, schema="../schemas/customer.schema.json"))
        loaded = load_customers([path])["acme"].customer
    expected = customer if customer.name is not None else customer.model_copy(update={"name": "acme"})
    assert loaded == expected
