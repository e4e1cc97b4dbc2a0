"""Drift for a terminal, a pull request (markdown) and a machine (JSON)."""

from __future__ import annotations

from io import StringIO
from typing import Any, TextIO

from reconciler.model.types import instant_text
from reconciler.plan.drift import ORIGIN_TEXT, CustomerDrift, Drift, FieldDrift, written_text
from reconciler.plan.plan import Action
from reconciler.render import write_json
from reconciler.render.text import SYMBOLS as TEXT_SYMBOLS
from reconciler.render.values import show_value, shown_key

FIELD_WIDTH = 22
SYMBOLS: dict[Action | None, str] = {None: "!"} | dict(TEXT_SYMBOLS)


def render_drift_as(format_name: str, drift: Drift, out: TextIO) -> None:
    """Drift in FORMAT_NAME: text, markdown or json."""
    if format_name == "json":
        write_json(drift_json(drift), out)
    elif format_name == "markdown":
        text = StringIO()
        render_drift(drift, text)
        title = "Drift" if drift.customers else "No drift"
        out.write(f"### {title}\n\n```\n{text.getvalue()}```\n")
    else:
        render_drift(drift, out)


def render_drift(drift: Drift, out: TextIO) -> None:
    plan = drift.plan
    at = instant_text(plan.at)
    commit = plan.commit[:7] if plan.commit else "no commit"
    out.write(f"Drift at {at} · commit {commit}{' (uncommitted changes)' if plan.dirty else ''} · {plan.target}\n")
    for customer in drift.customers:
        _customer(customer, out)
    if plan.unmanaged:
        out.write(f"  unmanaged (live, not in git, left alone): {', '.join(plan.unmanaged)}\n")
    out.write(summary(drift) + "\n")


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
        "at": plan.at.isoformat(),
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
                            "at": field.last_write.at.isoformat(),
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
