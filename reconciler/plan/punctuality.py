"""Whether scheduled changes happened on time, judged from when applies ran.

A scheduled change happens only when an apply runs. Two failures are silent without this:
a temporary change whose whole window passed with no apply inside it never happened at all
(missed), and a change whose first apply came long after its instant happened late. Both
are found from the instants at which earlier applies evaluated desired state (the runs the
provider records) and the instant of this plan.

Windows that ended before the first recorded run are not judged: nothing is known of them.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.desired.overlays import Overlay
from reconciler.plan.plan import Punctuality, ScheduleNote


def judge(
    overlays: Iterable[Overlay], runs: Sequence[dt.datetime], now: dt.datetime, tolerance: dt.timedelta, root: Path
) -> tuple[ScheduleNote, ...]:
    """Missed windows and late changes as of an apply at NOW, given the instants RUNS at which
    earlier applies evaluated desired state (any order)."""
    if not runs:
        return ()
    ordered = sorted(runs)
    first, last = ordered[0], ordered[-1]
    notes: list[ScheduleNote] = []
    for overlay in sorted(overlays, key=lambda overlay: overlay.order):
        name = overlay.path.relative_to(root).as_posix() if overlay.path.is_relative_to(root) else str(overlay.path)
        start, end = overlay.effective_at, overlay.until
        # Missed: the window ended since the last run (earlier ones were reported then), and
        # runs were being recorded before it began, none of them inside it.
        if end is not None and first <= start and last < end <= now and not _ran_in(ordered, start, end):
            notes.append(ScheduleNote(Punctuality.MISSED, name, start, end))
            continue
        for instant, ends in ((start, False), (end, True)):
            if instant is not None and last < instant <= now and now - instant > tolerance:
                late_by = dt.timedelta(seconds=int((now - instant).total_seconds()))  # whole seconds: as shown
                notes.append(ScheduleNote(Punctuality.LATE, name, instant, late_by=late_by, ends=ends))
    return tuple(notes)


def _ran_in(ordered: Sequence[dt.datetime], start: dt.datetime, end: dt.datetime) -> bool:
    index = bisect.bisect_left(ordered, start)
    return index < len(ordered) and ordered[index] < end
