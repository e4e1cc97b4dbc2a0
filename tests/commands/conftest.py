"""The command tests reach behind the live store with plain SQL (to edit a record as the
platform would, to read a status): here `spec` is the SQL stores only. The connexcs
provider has its own end-to-end tests (test_connexcs_cli.py) on the stand-in of its API."""

from __future__ import annotations

import pytest
from live_stores import ProviderSpec


@pytest.fixture
def spec(sql_spec: ProviderSpec) -> ProviderSpec:
    return sql_spec
