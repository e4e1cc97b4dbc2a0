"""Missed windows and late changes, judged from when applies ran."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from overlay_cases import fake_overlay

from reconciler.desired.overlays import Overlay
from reconciler.plan.punctuality import judge
from reconciler.render.values import schedule_text

UTC = dt.UTC
XMAS_START = dt.datetime(2026, 12, 24, 18, tzinfo=UTC)
XMAS_END = dt.datetime(2026, 12, 27, 6, tzinfo=UTC)
XMAS = fake_overlay("2026-12-24T1800Z_xmas.yaml", XMAS_START, XMAS_END, {"acme": {"channels": 400}}, {})
TOLERANCE = dt.timedelta(minutes=5)


def _texts(runs: list[dt.datetime], now: dt.datetime, overlays: Sequence[Overlay] = (XMAS,)) -> list[str]:
    return [schedule_text(note) for note in judge(overlays, runs, now, TOLERANCE, Path("."))]


def test_a_window_with_no_apply_inside_it_is_missed() -> None:
    runs = [dt.datetime(2026, 12, 24, 17, tzinfo=UTC)]
    assert _texts(runs, dt.datetime(2026, 12, 28, tzinfo=UTC)) == [
        "missed: plans/2026-12-24T1800Z_xmas.yaml, in effect 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z, "
        "no apply ran in that time"
    ]


def test_one_apply_inside_the_window_is_enough() -> None:
    runs = [dt.datetime(2026, 12, 24, 17, tzinfo=UTC), dt.datetime(2026, 12, 26, tzinfo=UTC)]
    # The end came late (the apply now is the first since it), but nothing was missed.
    assert _texts(runs, dt.datetime(2026, 12, 28, tzinfo=UTC)) == [
        "late: plans/2026-12-24T1800Z_xmas.yaml ended at 2026-12-27T06:00:00Z; applied 18 h late"
    ]


def test_the_apply_at_the_end_instant_reports_the_window_missed_then_no_later_one_does() -> None:
    runs = [dt.datetime(2026, 12, 24, 17, tzinfo=UTC)]
    assert [note.kind for note in judge([XMAS], runs, XMAS_END, TOLERANCE, Path("."))] == ["missed"]
    runs.append(XMAS_END)
    assert judge([XMAS], runs, XMAS_END + dt.timedelta(minutes=1), TOLERANCE, Path(".")) == ()


def test_a_change_applied_within_the_tolerance_is_on_time() -> None:
    runs = [dt.datetime(2026, 12, 24, 17, 59, tzinfo=UTC)]
    assert _texts(runs, XMAS_START + dt.timedelta(minutes=4)) == []


def test_a_start_applied_late_says_how_late() -> None:
    runs = [dt.datetime(2026, 12, 24, 17, tzinfo=UTC)]
    assert _texts(runs, XMAS_START + dt.timedelta(hours=2, minutes=13)) == [
        "late: plans/2026-12-24T1800Z_xmas.yaml took effect at 2026-12-24T18:00:00Z; applied 2 h 13 min late"
    ]


def test_nothing_is_judged_without_runs_or_before_the_first() -> None:
    assert _texts([], dt.datetime(2026, 12, 28, tzinfo=UTC)) == []
    assert _texts([dt.datetime(2026, 12, 25, tzinfo=UTC)], dt.datetime(2026, 12, 25, 0, 1, tzinfo=UTC)) == []


def test_a_change_without_until_is_never_missed_only_late() -> None:
    lasting = fake_overlay("2026-12-01_limit.yaml", dt.datetime(2026, 12, 1, tzinfo=UTC), None, {"acme": {}}, {})
    runs = [dt.datetime(2026, 11, 30, tzinfo=UTC)]
    assert _texts(runs, dt.datetime(2026, 12, 3, 1, tzinfo=UTC), [lasting]) == [
        "late: plans/2026-12-01_limit.yaml took effect at 2026-12-01T00:00:00Z; applied 2 d 1 h late"
    ]
