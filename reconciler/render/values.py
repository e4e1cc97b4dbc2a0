"""How field values read to a person: money exactly with its currency, unset as (unset)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconciler.plan import CustomerChange, Plan

MONEY_FIELDS = frozenset({"debit_limit", "minimum_payment", "config.daily_spend_limit"})


def show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    if isinstance(value, str) and value == "":
        return '""'
    return str(value)


def show_value(path: str, value: Any, currency: str) -> str:
    """A field's value as a reviewer reads it: money with cents and its currency."""
    if path in MONEY_FIELDS and isinstance(value, str):
        whole, _, cents = value.partition(".")
        return f"{whole}.{cents.ljust(2, '0')} {currency}".rstrip()
    return show(value)


def currency_of(change: CustomerChange) -> str:
    return str((change.desired or {}).get("currency", ""))


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    parts = [
        f"{counts['create']} to create",
        f"{counts['update']} to update",
    ]
    if counts["rename"]:
        parts.append(f"{counts['rename']} to rename")
    parts.append(f"{counts['deactivate']} to deactivate")
    if counts["delete"]:
        parts.append(f"{counts['delete']} to delete")
    parts.append(f"{counts['blocked']} blocked")
    return ", ".join(parts) + "."


def header(plan: Plan) -> str:
    commit = plan.commit[:7] if plan.commit else "no commit"
    dirty = " (uncommitted changes)" if plan.dirty else ""
    at = plan.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"Plan {plan.plan_id[:8]} · at {at} · commit {commit}{dirty} · {plan.target}"
