"""`reconciler next-due`: the next instant an overlay starts or ends (`overlays.next_change`),
strictly after now, for schedulers to wake at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from invoke import run_cli, write_files
from overlay_cases import SCHEDULE_FILES


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path, SCHEDULE_FILES)


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
