"""The plan for a terminal: one line per customer, field changes aligned beneath it."""

from __future__ import annotations

import difflib
import textwrap
from typing import TextIO

from reconciler.model.diff import FieldChange
from reconciler.plan.plan import Action, CustomerChange, Plan
from reconciler.render.values import (
    change_note,
    currency_of,
    explanations,
    header,
    held_note,
    later_effects,
    later_text,
    schedule_text,
    show_value,
    shown_key,
    summary_line,
)

SYMBOLS = {
    Action.CREATE: "+", Action.UPDATE: "~", Action.ADOPT: "~", Action.REACTIVATE: "~", Action.RENAME: "~",
    Action.DEACTIVATE: "-", Action.DELETE: "-",
}
COLOURS = {"+": "32", "~": "33", "-": "31", "!": "35"}
KEY_WIDTH = 24
FIELD_WIDTH = 22


class TextRenderer:
    def __init__(self, *, color: bool = False) -> None:
        self.color = color
        self.key_width = KEY_WIDTH
        self.field_width = FIELD_WIDTH

    def render(self, plan: Plan, out: TextIO) -> None:
        # Keys and the field names shown align on the longest in the plan (at least the usual
        # widths). A create shows no fields, so its take no width (and are not made: a create
        # the plan made makes its changes from its document each time they are asked for).
        self.key_width = max([KEY_WIDTH, *(len(key) + 2 for key in _keys(plan))])
        paths = (field.path for change in plan.changes if change.action is not Action.CREATE for field in change.changes)
        self.field_width = max([FIELD_WIDTH, *(len(path) + 2 for path in paths)])
        out.write(header(plan) + "\n")
        for rule in plan.bulk_blocked:
            out.write(self._paint("!", f"  ! blocked by safety rule: {rule}") + "\n")
        if plan.bulk_blocked:
            out.write("    review the plan, then apply with --allow-bulk\n")
        for warning in plan.warnings:
            out.write(f"  warning: {warning}\n")
        for note in plan.schedule:
            out.write(self._paint("!", f"  ! {schedule_text(note)}") + "\n")
        for change in plan.changes:
            self._customer(change, out)
            for effect in later_effects(plan, change.key):
                out.write(f"      {later_text(effect, currency_of(change))}\n")
        for blocked in plan.blocked:
            lines = textwrap.wrap(f"blocked: {blocked.reason}", 64, break_on_hyphens=False, break_long_words=False)
            out.write(self._paint("!", f"  ! {blocked.key:<{self.key_width}}{lines[0]}") + "\n")
            for line in lines[1:]:
                out.write(" " * (4 + self.key_width) + line + "\n")
        for held in plan.held:
            out.write(f"  = {held.key:<{self.key_width}}{held_note(held)}\n")
        if plan.unmanaged:
            out.write(f"  unmanaged (live, not in git, left alone): {', '.join(map(shown_key, plan.unmanaged))}\n")
        out.write((summary_line(plan) if not plan.empty else "No changes.") + "\n")

    def _customer(self, change: CustomerChange, out: TextIO) -> None:
        symbol = SYMBOLS[change.action]
        note = change_note(change)
        if change.renamed_from:
            title = f"rename from {change.renamed_from}"
        elif change.action.writes_fields and change.action is not Action.CREATE:
            title = "update"  # adopt and reactivate say so on the next line
        else:
            title = f"{change.action} ({note})" if note else str(change.action)
        out.write(self._paint(symbol, f"  {symbol} {shown_key(change.key):<{self.key_width}}{title}") + "\n")
        for explanation in explanations(change):
            out.write(f"      ({explanation})\n")
        if change.action is Action.CREATE:
            return
        for field_change in change.changes:
            for line in _field_lines(field_change, currency_of(change), self.field_width):
                out.write(f"      {line}\n")

    def _paint(self, symbol: str, text: str) -> str:
        if not self.color:
            return text
        return f"\033[{COLOURS[symbol]}m{text}\033[0m"


def _keys(plan: Plan) -> list[str]:
    return [
        *(change.key for change in plan.changes), *(blocked.key for blocked in plan.blocked),
        *(held.key for held in plan.held),
    ]


def _field_lines(change: FieldChange, currency: str, width: int = FIELD_WIDTH) -> list[str]:
    name = f"{change.path:<{width}}"
    if change.added or change.removed:
        parts = [f"+ {item}" for item in change.added] + [f"- {item}" for item in change.removed]
        return [name + ", ".join(parts)]
    if _multiline(change.before) or _multiline(change.after):
        diff = difflib.unified_diff(
            str(change.before or "").splitlines(), str(change.after or "").splitlines(), lineterm="", n=1
        )
        return [name + "(text changed)"] + ["  " + line for line in list(diff)[2:]]
    before = show_value(change.path, change.before, "")
    return [f"{name}{before} -> {show_value(change.path, change.after, currency)}"]


def _multiline(value: object) -> bool:
    return isinstance(value, str) and "\n" in value.strip()
