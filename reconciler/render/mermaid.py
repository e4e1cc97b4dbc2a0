"""Scheduled changes as a mermaid Gantt chart: GitHub draws it in a pull-request comment."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from itertools import groupby

from reconciler.plan.plan import ScheduledWindow

# Mermaid reads ':' as the end of a task's name and '#', ';' as syntax: keep them out.
_UNSAFE = re.compile(r"[:;#\n\r`]+")


def gantt(windows: Sequence[ScheduledWindow], start: dt.datetime, end: dt.datetime) -> str:
    """A ```mermaid block: a section per customer, a bar per overlay in effect (UTC)."""
    lines = [
        "```mermaid",
        "gantt",
        f"    title Scheduled changes from {_day(start)} to {_day(end)} (UTC)",
        "    dateFormat YYYY-MM-DDTHH:mm",
        "    axisFormat %Y-%m-%d",
    ]
    ordered = sorted(windows, key=lambda window: (window.key, window.start, window.overlay))
    for key, group in groupby(ordered, key=lambda window: window.key):
        lines.append(f"    section {_safe(key)}")
        for window in group:
            name = _safe(f"{window.reason} ({window.overlay.rpartition('/')[2]})")
            lines.append(f"    {name} : {_minute(window.start)}, {_minute(window.end)}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def _safe(text: str) -> str:
    return " ".join(_UNSAFE.sub(" ", text).split()) or "-"


def _minute(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def _day(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).date().isoformat()
