"""`blame` output: each field's value and the commit behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from reconciler.errors import escaped
from reconciler.history.blame import BlameLine
from reconciler.model.types import instant_text
from reconciler.render import write_json
from reconciler.render.values import one_line, show_value

VALUE_WIDTH = 28


def render_blame_as(format_name: str, lines: Sequence[BlameLine], out: TextIO, *, defaults: bool = False) -> None:
    if format_name == "json":
        write_json([_json(line) for line in lines], out)
    else:
        render_blame(lines, out, defaults=defaults)


def render_blame(lines: Sequence[BlameLine], out: TextIO, *, defaults: bool = False) -> None:
    shown = [line for line in lines if defaults or line.uncommitted or line.commit is not None]
    width = max([0, *(len(line.path) + 2 for line in shown)])
    for line in shown:
        value = one_line(show_value(line.path, line.value, ""), VALUE_WIDTH)
        text = f"{line.path:<{width}}{value:<{VALUE_WIDTH}}  "
        if line.uncommitted:
            text += "(uncommitted)"
        elif line.commit is None:
            text += "(default)"
        else:
            text += f"{line.commit.short}  {instant_text(line.commit.date)[:10]}  {escaped(line.commit.author)}"
        if line.overlay:
            text += f"  {escaped(line.source)}"
        out.write(text.rstrip() + "\n")
    out.write(_hidden_note(lines, len(shown)))


def _json(line: BlameLine) -> dict[str, Any]:
    commit = line.commit
    return {
        "field": line.path,
        "value": line.value,
        "commit": commit.sha if commit else None,
        "author": commit.author if commit else None,
        "date": instant_text(commit.date) if commit else None,
        "source": line.source or None,
        "uncommitted": line.uncommitted,
    }


def _hidden_note(lines: Sequence[BlameLine], shown: int) -> str:
    hidden = len(lines) - shown
    return f"({hidden} more field{'s' if hidden != 1 else ''} at their defaults; --all lists them)\n" if hidden else ""
