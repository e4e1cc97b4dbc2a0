"""Plan renderers: one small class per format, each writing to a stream it is given."""

from __future__ import annotations

from typing import Protocol, TextIO

from reconciler.plan import Plan


class Renderer(Protocol):
    def render(self, plan: Plan, out: TextIO) -> None: ...


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
