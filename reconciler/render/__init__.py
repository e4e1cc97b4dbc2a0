"""Plan renderers: one small class per format, each writing to a stream it is given."""

from __future__ import annotations

# Not `import json`: the submodule reconciler.render.json would replace it here once imported.
from json import dump as dump_json
from typing import Any, Protocol, TextIO

from reconciler.plan.plan import Plan


class Renderer(Protocol):
    def render(self, plan: Plan, out: TextIO) -> None: ...


def write_json(document: Any, out: TextIO) -> None:
    """Every command's JSON output: indented, UTF-8 as is, one trailing newline."""
    dump_json(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def renderer(name: str, *, color: bool = False) -> Renderer:
    from reconciler.render.json import JsonRenderer
    from reconciler.render.markdown import MarkdownRenderer
    from reconciler.render.text import TextRenderer

    if name == "text":
        return TextRenderer(color=color)
    if name == "markdown":
        return MarkdownRenderer()
    if name == "json":
        return JsonRenderer()
    raise ValueError(f"unknown plan format {name!r}")


FORMATS = ("text", "markdown", "json")
