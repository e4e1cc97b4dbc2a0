"""The timeline for a terminal, a pull request (markdown) and a machine (JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import TextIO

from reconciler.desired.timeline import ScheduledChange
from reconciler.model.diff import FieldChange
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import show_value

FIELD_WIDTH = 26


def render_timeline_as(format_name: str, entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    """The timeline in FORMAT_NAME (text, markdown or json); files are shown relative to ROOT."""
    RENDERERS[format_name](entries, root, out)


def _by_customer(entries: Sequence[ScheduledChange]) -> list[tuple[str, list[ScheduledChange]]]:
    ordered = sorted(entries, key=lambda entry: entry.key)  # stable: instants stay in order
    return [(key, list(group)) for key, group in groupby(ordered, key=lambda entry: entry.key)]


def _file(entry: ScheduledChange, root: Path) -> str:
    path = entry.overlay.path
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _commit(entry: ScheduledChange) -> str:
    return f"added in {entry.commit[:7]}" if entry.commit else "uncommitted"


def _title(entry: ScheduledChange) -> str:
    if entry.event == "ends":
        return f"ends: {entry.overlay.reason}"
    until = entry.overlay.until
    return f"{entry.overlay.reason} (until {instant_text(until)})" if until else entry.overlay.reason


def _summary(entry: ScheduledChange) -> str | None:
    if entry.action == "create":
        return f"created ({entry.currency})"
    if entry.action == "remove":
        return "removed"
    return None if entry.changes else "no change"


def _values(change: FieldChange, currency: str) -> tuple[str, str]:
    return show_value(change.path, change.before, currency), show_value(change.path, change.after, currency)


def _render_text(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    if not entries:
        out.write("No scheduled changes.\n")
    for key, changes in _by_customer(entries):
        out.write(f"{key}\n")
        for entry in changes:
            out.write(f"  {instant_text(entry.at)}  {_title(entry)}\n")
            out.write(f"    {_file(entry, root)} ({_commit(entry)})\n")
            summary = _summary(entry)
            if summary:
                out.write(f"    {summary}\n")
            for change in entry.changes:
                before, after = _values(change, entry.currency)
                out.write(f"    {change.path:<{FIELD_WIDTH}}{before} -> {after}\n")


def _render_markdown(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    if not entries:
        out.write("No scheduled changes.\n")
    for index, (key, changes) in enumerate(_by_customer(entries)):
        out.write(("\n" if index else "") + f"### {key}\n")
        for entry in changes:
            out.write(f"\n- **{instant_text(entry.at)}** {_title(entry)} · `{_file(entry, root)}` ({_commit(entry)})\n")
            summary = _summary(entry)
            if summary:
                out.write(f"\n  {summary}\n")
            if entry.changes:
                out.write("\n  | field | before | after |\n  |---|---|---|\n")
                for change in entry.changes:
                    before, after = _values(change, entry.currency)
                    out.write(f"  | `{change.path}` | {_cell(before)} | {_cell(after)} |\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _render_json(entries: Sequence[ScheduledChange], root: Path, out: TextIO) -> None:
    document = {
        "customers": [
            {
                "key": key,
                "changes": [
                    {
                        "at": instant_text(entry.at),
                        "event": entry.event,
                        "action": entry.action,
                        "reason": entry.overlay.reason,
                        "until": instant_text(entry.overlay.until) if entry.overlay.until else None,
                        "file": _file(entry, root),
                        "commit": entry.commit,
                        "fields": [change.to_json() for change in entry.changes],
                    }
                    for entry in changes
                ],
            }
            for key, changes in _by_customer(entries)
        ]
    }
    write_json(document, out)


RENDERERS = {"text": _render_text, "markdown": _render_markdown, "json": _render_json}
