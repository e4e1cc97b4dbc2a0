"""`reconciler next-due`: the next instant an overlay starts or ends (`overlays.next_change`),
strictly after now, for schedulers to wake at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from invoke import run_cli, write_files

ACME = """\
channels: 300
flow_speed: 30
debit_limit: 25000.00
currency: USD
"""

FILES = {
    "customers.d/acme.yaml": ACME,
    "customers.d/globex.toml": 'currency = "EUR"\nchannels = 100\n',
    "plans/2026-12-01_raise-limit.yaml": "reason: Credit review passed\ncustomers:\n  acme:\n    debit_limit: 30000.00\n",
    "plans/2026-12-24T1800Z_xmas.yaml": (
        "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\n"
        "customers:\n  acme:\n    channels: 400\n  globex:\n    channels: 150\n"
    ),
    "plans/2026-12-26_more-xmas.yaml": "reason: Boxing day\ncustomers:\n  acme:\n    channels: 450\n",
    "plans/2027-01-04_newco.yaml": "reason: Newco signs\ncreate:\n  newco:\n    currency: GBP\n    channels: 10\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path, FILES)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-27T10:00:00Z", "2026-12-01T00:00:00Z\n"),
        ("2026-12-01T00:00:00Z", "2026-12-24T18:00:00Z\n"),  # strictly after now
        ("2026-12-26T12:00:00Z", "2026-12-27T06:00:00Z\n"),  # an until is a change too
        ("2027-01-04T00:00:00Z", ""),  # nothing pending
    ],
)
def test_next_due(project: Path, now: str, expected: str) -> None:
    assert run_cli(project, "next-due", now=dt.datetime.fromisoformat(now)) == (0, expected)
    assert run_cli(project, "next-due", "--at", now) == (0, expected)


def test_next_due_without_plans(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "next-due") == (0, "")
