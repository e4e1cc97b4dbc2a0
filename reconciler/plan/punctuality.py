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
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.desired.overlays import Overlay
from reconciler.model.types import instant_text


class Punctuality(enum.StrEnum):
    MISSED = "missed"  # the whole window passed with no apply inside it
    LATE = "late"  # first applied later than the tolerance after its instant


@dataclass(frozen=True)
class ScheduleNote:
    """A scheduled change that did not happen on time."""

    kind: Punctuality
    overlay: str  # the overlay file, relative to the repository root
    start: dt.datetime  # missed: the window; late: the instant that came late
    end: dt.datetime | None = None  # missed: the end of the window
    late_by: dt.timedelta | None = None  # late: how late (this apply, at the plan's instant)
    ends: bool = False  # late: the instant is the overlay's end, not its start

    def text(self) -> str:
        if self.kind is Punctuality.MISSED:
            assert self.end is not None
            return (
                f"missed: {self.overlay}, in effect {instant_text(self.start)} to {instant_text(self.end)}, "
                "no apply ran in that time"
            )
        assert self.late_by is not None
        what = "ended" if self.ends else "took effect"
        return f"late: {self.overlay} {what} at {instant_text(self.start)}; applied {_span(self.late_by)} late"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "overlay": self.overlay, "start": instant_text(self.start),
            "end": instant_text(self.end) if self.end is not None else None,
            "late_by_seconds": self.late_by.total_seconds() if self.late_by is not None else None,
            "ends": self.ends,
        }


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
        if end is not None and first <= start and end <= now and not _ran_in(ordered, start, end):
            notes.append(ScheduleNote(Punctuality.MISSED, name, start, end))
            continue
        for instant, ends in ((start, False), (end, True)):
            if instant is not None and last < instant <= now and now - instant > tolerance:
                notes.append(ScheduleNote(Punctuality.LATE, name, instant, late_by=now - instant, ends=ends))
    return tuple(notes)


def _ran_in(ordered: Sequence[dt.datetime], start: dt.datetime, end: dt.datetime) -> bool:
    index = bisect.bisect_left(ordered, start)
    return index < len(ordered) and ordered[index] < end


def _span(delta: dt.timedelta) -> str:
    """A duration as a person says it: 2 d 3 h, 3 h 20 min, 12 min, 40 s."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"
