"""Missed windows and late changes, as `plan`, `apply` and `drift` report them, from the
runs the store recorded: a temporary change is never lost in silence."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from invoke import Outcome, invoke

XMAS = """reason: Christmas peak
until: 2026-12-27T06:00:00Z
customers:
  acme-telecom:
    channels: 400
"""
BEFORE = dt.datetime(2026, 12, 24, 17, tzinfo=dt.UTC)
MISSED = (
    "missed: plans/2026-12-24T1800Z_xmas.yaml, in effect 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z, "
    "no apply ran in that time"
)


def _run(root: Path, *argv: str, now: dt.datetime) -> Outcome:
    """The CLI at NOW, in this process's environment (the store's URL is there)."""
    return invoke(root, *argv, now=now, environ={**os.environ, "USER": "tester", "RECONCILER_CACHE_DIR": ""})


@pytest.fixture
def scheduled(live: Path) -> Path:
    (live / "plans").mkdir()
    (live / "plans/2026-12-24T1800Z_xmas.yaml").write_text(XMAS)
    _run(live, "apply", "--yes", now=BEFORE).assert_success()
    return live


def test_a_window_with_no_apply_is_reported_by_plan_apply_and_drift(scheduled: Path) -> None:
    after = dt.datetime(2026, 12, 28, tzinfo=dt.UTC)
    plan = _run(scheduled, "plan", now=after)
    assert f"  ! {MISSED}\n" in plan.out
    drift = _run(scheduled, "drift", "--format", "json", now=after)
    assert [note["text"] for note in json.loads(drift.out)["schedule"]] == [MISSED]
    applied = _run(scheduled, "apply", "--yes", now=after)
    assert f"  ! {MISSED}\n" in applied.out
    # Reported once: the apply just recorded is after the window.
    assert MISSED not in _run(scheduled, "plan", now=after + dt.timedelta(minutes=1)).out


def test_an_apply_inside_the_window_means_nothing_was_missed(scheduled: Path) -> None:
    _run(scheduled, "apply", "--yes", now=dt.datetime(2026, 12, 25, tzinfo=dt.UTC)).assert_success()
    plan = _run(scheduled, "plan", now=dt.datetime(2026, 12, 28, tzinfo=dt.UTC))
    assert "missed:" not in plan.out
    assert "late: plans/2026-12-24T1800Z_xmas.yaml ended at 2026-12-27T06:00:00Z; applied 18 h late" in plan.out


def test_a_late_start_says_how_late_in_the_saved_plan_and_its_markdown(scheduled: Path, tmp_path: Path) -> None:
    late = dt.datetime(2026, 12, 24, 20, 13, tzinfo=dt.UTC)
    plan_file = tmp_path / "plan.json"
    markdown = _run(scheduled, "plan", "--format", "markdown", "--out", str(plan_file), now=late)
    text = "late: plans/2026-12-24T1800Z_xmas.yaml took effect at 2026-12-24T18:00:00Z; applied 2 h 13 min late"
    assert f"> [!WARNING]\n> {text}\n" in markdown.out
    assert json.loads(plan_file.read_text())["schedule"] == [{
        "kind": "late", "overlay": "plans/2026-12-24T1800Z_xmas.yaml", "start": "2026-12-24T18:00:00Z",
        "end": None, "late_by_seconds": 7980.0, "ends": False,
    }]
    applied = _run(scheduled, "apply", str(plan_file), now=late)
    assert f"  ! {text}\n" in applied.out


def test_a_plan_at_another_instant_judges_nothing(scheduled: Path) -> None:
    plan = _run(scheduled, "plan", "--at", "2026-12-28T00:00:00Z", now=dt.datetime(2026, 12, 28, tzinfo=dt.UTC))
    assert "missed:" not in plan.out and "late:" not in plan.out


BULK = """reason: Christmas capacity for the three big carriers
until: 2026-12-27T06:00:00Z
customers:
  acme-telecom:
    channels: 400
  sunrise-mobile:
    channels: 650
  globex-carrier:
    channels: 90
"""


@pytest.fixture
def strict(live: Path) -> Path:
    """At most 2 customers updated by one apply."""
    config = live / "reconciler.toml"
    config.write_text(config.read_text().replace("max_updates = 50", "max_updates = 2"))
    (live / "plans").mkdir()
    return live


def test_validate_refuses_an_overlay_over_the_thresholds_at_its_instants(strict: Path) -> None:
    (strict / "plans/2026-12-24T1800Z_xmas.yaml").write_text(BULK)
    outcome = _run(strict, "validate", now=BEFORE)
    assert outcome.code == 1
    assert outcome.out.splitlines()[0] == (
        f"{strict / 'plans/2026-12-24T1800Z_xmas.yaml'}:3:1: customers: at 2026-12-24T18:00:00Z, where this change "
        "starts: 3 customers to update, more than safety.max_updates = 2; at 2026-12-27T06:00:00Z, where this "
        "change ends: 3 customers to update, more than safety.max_updates = 2; the apply then would stop and "
        "wait for --allow-bulk: split the change, or say allow_bulk: true in this file if so large a change at "
        "that instant is meant (its reason says why)"
    )


def test_an_overlay_that_says_allow_bulk_is_valid_and_goes_through_at_its_instant(strict: Path) -> None:
    (strict / "plans/2026-12-24T1800Z_xmas.yaml").write_text("allow_bulk: true\n" + BULK)
    assert _run(strict, "validate", now=BEFORE).code == 0
    _run(strict, "apply", "--yes", now=BEFORE).assert_success()
    applied = _run(strict, "apply", "--yes", now=dt.datetime(2026, 12, 24, 18, 0, 5, tzinfo=dt.UTC))
    assert applied.code == 0, applied.out + applied.err
    assert (
        "warning: allowed by 2026-12-24T1800Z_xmas.yaml (allow_bulk): 3 customers to update, "
        "more than safety.max_updates = 2"
    ) in applied.out
    assert "Applied 3," in applied.out


def test_without_allow_bulk_the_apply_at_the_instant_stops(strict: Path) -> None:
    _run(strict, "apply", "--yes", now=BEFORE).assert_success()
    (strict / "plans/2026-12-24T1800Z_xmas.yaml").write_text(BULK)
    applied = _run(strict, "apply", "--yes", now=dt.datetime(2026, 12, 24, 18, 0, 5, tzinfo=dt.UTC))
    assert applied.code == 3
