"""The plan as a pull-request comment: a summary table, then a collapsible section per customer.

GitHub refuses comments over 65,536 characters; the rendering stays under `LIMIT` however
big the plan, summarising the customers it leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from typing import TextIO

from reconciler.model.diff import FieldChange
from reconciler.model.types import instant_text
from reconciler.plan.plan import Action, CustomerChange, LaterEffect, Plan
from reconciler.render.mermaid import gantt
from reconciler.render.values import (
    change_note,
    currency_of,
    explanations,
    header,
    held_note,
    later_effects,
    later_text,
    schedule_text,
    show,
    show_value,
    shown_counts,
    shown_key,
    summary_line,
)

LIMIT = 60_000
ICONS = {
    Action.CREATE: "🆕", Action.UPDATE: "✏️", Action.ADOPT: "✏️", Action.REACTIVATE: "✏️", Action.RENAME: "🔀",
    Action.DEACTIVATE: "⛔", Action.DELETE: "🗑️",
}


class MarkdownRenderer:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit

    def render(self, plan: Plan, out: TextIO) -> None:
        head = self._head(plan)
        tail_reserve = 200
        budget = self.limit - len(head) - tail_reserve
        sections: list[str] = []
        used = 0
        for index, change in enumerate(plan.changes):
            section = _section(change, later_effects(plan, change.key))
            if used + len(section) > budget:
                left = len(plan.changes) - index
                sections.append(
                    f"\n…and {left} more customer{'s' if left != 1 else ''} not shown here "
                    "(the comment has a size limit); the JSON plan lists every change.\n"
                )
                break
            sections.append(section)
            used += len(section)
        out.write(head + "".join(sections))

    def _head(self, plan: Plan) -> str:
        text = StringIO()
        text.write(f"### {header(plan)}\n\n")
        counts = shown_counts(plan)
        text.write("| create | update | rename | deactivate | delete | blocked |\n")
        text.write("|---:|---:|---:|---:|---:|---:|\n")
        text.write(
            "| " + " | ".join(str(counts[name]) for name in
                              ("create", "update", "rename", "deactivate", "delete", "blocked")) + " |\n\n"
        )
        for rule in plan.bulk_blocked:
            text.write(f"> [!CAUTION]\n> Blocked by a safety rule: {rule}. Apply needs `--allow-bulk`.\n\n")
        for blocked in plan.blocked:
            text.write(f"> [!WARNING]\n> **{blocked.key}** blocked: {_escape(blocked.reason)}\n\n")
        for held in plan.held:
            text.write(f"> [!NOTE]\n> **{held.key}** {_escape(held_note(held))}\n\n")
        for note in plan.schedule:
            text.write(f"> [!WARNING]\n> {_escape(schedule_text(note))}\n\n")
        for warning in plan.warnings:
            text.write(f"- ⚠️ {_escape(warning)}\n")
        if plan.unmanaged:
            text.write(f"\nUnmanaged live customers (left alone): {_escape(', '.join(map(shown_key, plan.unmanaged)))}\n")
        text.write(f"\n{summary_line(plan) if not plan.empty else 'No changes.'}\n")
        review = plan.review
        if review is not None and review.windows:
            text.write(f"\n#### Scheduled changes of these customers until {instant_text(review.horizon)}\n\n")
            text.write(gantt(review.windows, plan.at, review.horizon))
        if review is not None and review.instants:
            text.write("\n| instant | starting or ending | customers changing then |\n|---|---|---:|\n")
            for instant in review.instants:
                overlays = ", ".join(f"`{_escape(name)}`" for name in instant.overlays)
                text.write(f"| {instant_text(instant.at)} | {overlays} | {instant.customers} |\n")
        return text.getvalue()


def _section(change: CustomerChange, later: Sequence[LaterEffect] = ()) -> str:
    text = StringIO()
    if change.renamed_from:
        what = f"rename from <code>{change.renamed_from}</code>"
    else:
        what = "update" if change.action in (Action.ADOPT, Action.REACTIVATE) else str(change.action)
    notes = [note for note in (change_note(change), *explanations(change)) if note]
    note = "".join(f" ({_escape(text)})" for text in notes)
    if not change.changes:
        return f"\n{ICONS[change.action]} <code>{_escape(shown_key(change.key))}</code> {what}{note}\n"
    count = f", {len(change.changes)} field{'s' if len(change.changes) != 1 else ''}" if change.changes else ""
    text.write(
        f"\n<details><summary>{ICONS[change.action]} <code>{_escape(shown_key(change.key))}</code> {what}{note}{count}</summary>\n\n"
    )
    if change.changes:
        text.write("| field | before | after |\n|---|---|---|\n")
        currency = currency_of(change)
        for field_change in change.changes:
            before, after = _cells(field_change, currency)
            text.write(f"| `{field_change.path}` | {before} | {after} |\n")
    text.write("\n</details>\n")
    # Outside the fold: a reviewer must see what the schedule does to this change.
    for effect in later:
        text.write(f"\n- ⏰ {_escape(later_text(effect, currency_of(change)))}")
    if later:
        text.write("\n")
    return text.getvalue()


def _cells(change: FieldChange, currency: str) -> tuple[str, str]:
    if change.added or change.removed:
        after = ", ".join([f"+{item}" for item in change.added] + [f"-{item}" for item in change.removed])
        return _cell(show(change.before)), _cell(after)
    return _cell(show_value(change.path, change.before, currency)), _cell(
        show_value(change.path, change.after, currency)
    )


def _cell(text: str) -> str:
    return _escape(text).replace("\n", "<br>")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
