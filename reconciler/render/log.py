"""`log` output: each commit with the files and fields it changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from reconciler.errors import escaped
from reconciler.history.log import LogEntry
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import one_line, show_value

FIELD_WIDTH = 24


def render_log_as(format_name: str, entries: Sequence[LogEntry], out: TextIO) -> None:
    if format_name == "json":
        write_json([_json(entry) for entry in entries], out)
    else:
        render_log(entries, out)


def render_log(entries: Sequence[LogEntry], out: TextIO) -> None:
    for entry in entries:
        commit = entry.commit
        # A commit's words and paths are a contributor's: escaped where a terminal would act on them.
        out.write(f"{commit.short}  {instant_text(commit.date)}  {escaped(commit.author)}  {escaped(commit.subject)}\n")
        for section in entry.sections:
            out.write(f"    {escaped(section.path)}: {section.what}\n")
            width = max([FIELD_WIDTH, *(len(change.path) + 2 for change in section.changes)])
            for change in section.changes:
                before = show_value(change.path, change.before, "")
                after = show_value(change.path, change.after, "")
                out.write(f"      {change.path:<{width}}{one_line(before)} -> {one_line(after)}\n")


def _json(entry: LogEntry) -> dict[str, Any]:
    commit = entry.commit
    return {
        "commit": commit.sha,
        "author": commit.author,
        "email": commit.email,
        "date": instant_text(commit.date),
        "subject": commit.subject,
        "files": [
            {
                "path": section.path,
                "what": section.what,
                "changes": [change.to_json() for change in section.changes],
            }
            for section in entry.sections
        ],
    }
