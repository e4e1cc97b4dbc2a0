"""Drift for a terminal, a pull request (markdown) and a machine (JSON)."""

from __future__ import annotations

from typing import Any, TextIO

from reconciler.model.types import instant_text
from reconciler.plan.drift import ORIGIN_TEXT, CustomerDrift, Drift, FieldDrift, written_text
from reconciler.plan.plan import Action
from reconciler.render import write_json
from reconciler.render.text import SYMBOLS as TEXT_SYMBOLS
from reconciler.render.values import schedule_text, show_value, shown_key, source

FIELD_WIDTH = 22
SYMBOLS: dict[Action | None, str] = {None: "!"} | dict(TEXT_SYMBOLS)


def render_drift_as(format_name: str, drift: Drift, out: TextIO) -> None:
    """Drift in FORMAT_NAME: text, markdown or json."""
    if format_name == "json":
        write_json(drift_json(drift), out)
    elif format_name == "markdown":
        render_drift_markdown(drift, out)
    else:
        render_drift(drift, out)


def render_drift(drift: Drift, out: TextIO) -> None:
    plan = drift.plan
    out.write(f"Drift at {instant_text(plan.at)} · {source(plan.commit, plan.dirty)} · {plan.target}\n")
    for note in plan.schedule:
        out.write(f"  ! {schedule_text(note)}\n")
    for customer in drift.customers:
        _customer(customer, out)
    if plan.unmanaged:
        out.write(f"  unmanaged (live, not in git, left alone): {', '.join(map(shown_key, plan.unmanaged))}\n")
    out.write(summary(drift) + "\n")


def render_drift_markdown(drift: Drift, out: TextIO) -> None:
    """Drift as a pull request or an issue shows it: a table per customer that drifted."""
    plan = drift.plan
    out.write(f"### Drift at {instant_text(plan.at)} · {source(plan.commit, plan.dirty)} · {_cell(plan.target)}\n\n")
    for note in plan.schedule:
        out.write(f"> [!WARNING]\n> {_cell(schedule_text(note))}\n\n")
    for customer in drift.customers:
        title = customer.summary or (str(customer.action) if customer.action else "blocked")
        out.write(f"**`{_cell(shown_key(customer.key))}`** {_cell(title)} ({ORIGIN_TEXT[customer.origin]})\n\n")
        if customer.fields:
            out.write("| field | live | git | why |\n|---|---|---|---|\n")
            for field in customer.fields:
                change = field.change
                live, desired = show_value(change.path, change.before, ""), show_value(change.path, change.after, "")
                out.write(f"| `{change.path}` | {_cell(live)} | {_cell(desired)} | {ORIGIN_TEXT[field.origin]} |\n")
            out.write("\n")
    if plan.unmanaged:
        out.write(f"Unmanaged live customers (left alone): {_cell(', '.join(map(shown_key, plan.unmanaged)))}\n\n")
    out.write(summary(drift) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def _customer(customer: CustomerDrift, out: TextIO) -> None:
    symbol = SYMBOLS[customer.action]
    title = customer.summary or (str(customer.action) if customer.action else "blocked")
    if customer.fields and not customer.summary:
        title = ""
    out.write(f"  {symbol} {shown_key(customer.key):<24}{title}".rstrip() + "\n")
    for field in customer.fields:
        out.write(f"      {_field_line(field)}\n")


def _field_line(field: FieldDrift, currency: str = "") -> str:
    change = field.change
    live = show_value(change.path, change.before, currency).replace("\n", " ⏎ ")
    desired = show_value(change.path, change.after, currency).replace("\n", " ⏎ ")
    text = f"{change.path:<{FIELD_WIDTH}}live {live}, git {desired}: {ORIGIN_TEXT[field.origin]}"
    if field.origin == "outside" and field.last_write is not None:
        written = show_value(change.path, field.written, currency)
        text += f" (the reconciler wrote {written} {written_text(field.last_write)})"
    return text


def summary(drift: Drift) -> str:
    if not drift.customers:
        return "No drift: the live platform matches git."
    counts = drift.counts()
    customers = len(drift.customers)
    parts = []
    if counts["outside"]:
        parts.append(f"{counts['outside']} changed outside the reconciler")
    if counts["unapplied"]:
        parts.append(f"{counts['unapplied']} in git, not yet applied")
    if counts["unknown"]:
        parts.append(f"{counts['unknown']} of unknown origin")
    return f"{customers} customer{'s' if customers != 1 else ''} drifted: {', '.join(parts)}."


def drift_json(drift: Drift) -> dict[str, Any]:
    plan = drift.plan
    return {
        "at": instant_text(plan.at),
        "schedule": [{**note.to_json(), "text": schedule_text(note)} for note in plan.schedule],
        "commit": plan.commit,
        "target": plan.target,
        "audited": drift.audited,
        "drift": bool(drift.customers),
        "counts": drift.counts(),
        "customers": [
            {
                "key": customer.key,
                "action": str(customer.action) if customer.action else "blocked",
                "origin": customer.origin,
                "summary": customer.summary,
                "fields": [
                    {
                        "field": field.change.path,
                        "live": field.change.before,
                        "desired": field.change.after,
                        "origin": field.origin,
                        "last_written": None if field.last_write is None else {
                            "value": field.written,
                            "at": instant_text(field.last_write.at),
                            "actor": field.last_write.actor,
                            "commit": field.last_write.commit,
                            "plan_id": field.last_write.plan_id,
                        },
                    }
                    for field in customer.fields
                ],
            }
            for customer in drift.customers
        ],
        "unmanaged": list(plan.unmanaged),
    }
