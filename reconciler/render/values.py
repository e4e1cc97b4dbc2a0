"""How field values read to a person: money exactly with its currency, unset as (unset)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconciler.model.fields import MONEY_FIELDS
from reconciler.model.types import KEY_RE, instant_text
from reconciler.plan.plan import (
    Action,
    CustomerChange,
    Held,
    HoldReason,
    LaterEffect,
    Override,
    Plan,
    Punctuality,
    RemovalCause,
    ScheduleNote,
)


def shown_key(key: str) -> str:
    """A customer key as output shows it: as it is when it is one, quoted with its control
    characters escaped when a live system handed us something else."""
    return key if KEY_RE.fullmatch(key) else repr(key)


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


def one_line(text: str, width: int = 60) -> str:
    """TEXT on one line (⏎ for its line breaks), cut to WIDTH characters with an ellipsis."""
    text = text.strip().replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def show_value(path: str, value: Any, currency: str) -> str:
    """A field's value as a reviewer reads it: money with cents and its currency."""
    if path in MONEY_FIELDS and isinstance(value, str):
        whole, _, cents = value.partition(".")
        return f"{whole}.{cents.ljust(2, '0')} {currency}".rstrip()
    return show(value)


def currency_of(change: CustomerChange) -> str:
    if change.action is Action.CREATE:  # a create the plan made holds its customer as its document
        glance = change.glance()
        return glance[0] if glance is not None else ""
    desired = change.desired
    return desired.currency if desired is not None else ""


def change_note(change: CustomerChange) -> str:
    """What a reviewer needs to see of a create or a removal at a glance, beside its action."""
    glance = change.glance() if change.action is Action.CREATE else None
    if glance is not None:
        currency, channels, flow_speed, status = glance
        return f"{currency}, {channels} channels, {flow_speed} cps, {status}"
    removal = change.removal
    if removal is not None and removal.cause is RemovalCause.OVERLAY_ENDED:
        until = instant_text(removal.until) if removal.until is not None else "its end"
        return f"created by {removal.overlay} until {until}"
    if removal is not None and removal.commit:
        return f"removed from git in {removal.commit[:7]}"
    return "removed from git" if change.action.is_removal else ""


# What a change does beyond its fields, each said on a line of its own.
EXPLANATIONS = {
    Action.ADOPT: "adopt: the reconciler starts managing this live customer",
    Action.REACTIVATE: "reactivate: the customer is back in git",
    Override.LIFT_PENALTY: "--lift-penalty: the file's status replaces the platform's penalty",
    Override.REPAIR: "--repair: the unreadable live record is overwritten from the file",
}


def explanations(change: CustomerChange) -> list[str]:
    return [EXPLANATIONS[what] for what in (change.action, *change.overrides) if what in EXPLANATIONS]


def held_note(held: Held) -> str:
    if held.reason is HoldReason.PENALTY:
        return (
            f"in penalty on the platform; status not changed (git says {held.desired}; "
            f"apply --lift-penalty {held.key} lifts it)"
        )
    return f"{held.field} kept as it is live"  # pragma: no cover - every reason is named above


def shown_counts(plan: Plan) -> dict[str, int]:
    """Customers per action as a reviewer counts them: adopting and reactivating are updates."""
    counts = plan.counts()
    counts["update"] = counts[Action.UPDATE] + counts.pop(Action.ADOPT) + counts.pop(Action.REACTIVATE)
    return counts


def summary_line(plan: Plan) -> str:
    counts = shown_counts(plan)
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
    line = ", ".join(parts) + "."
    if plan.bulk_blocked:
        line += " None of it is applied: the plan goes over the safety thresholds (apply needs --allow-bulk)."
    return line


def header(plan: Plan) -> str:
    at = instant_text(plan.at)
    return f"Plan {plan.plan_id} · at {at} · {source(plan.commit, plan.dirty)} · {plan.target}"


def source(commit: str | None, dirty: bool) -> str:
    """Where desired state came from, as a header says it."""
    if commit is None:
        return "not from a git commit" + (" (uncommitted changes)" if dirty else "")
    return f"commit {commit[:7]}" + (" (uncommitted changes)" if dirty else "")


def schedule_text(note: ScheduleNote) -> str:
    """A missed or late scheduled change, as every output says it."""
    if note.kind is Punctuality.MISSED:
        assert note.end is not None
        return (
            f"missed: {note.overlay}, in effect {instant_text(note.start)} to {instant_text(note.end)}, "
            "no apply ran in that time"
        )
    assert note.late_by is not None
    what = "ended" if note.ends else "took effect"
    return f"late: {note.overlay} {what} at {instant_text(note.start)}; applied {span_text(note.late_by)} late"


def span_text(delta: dt.timedelta) -> str:
    """A duration as a person says it: 2 d 3 h, 3 h 20 min, 12 min, 40 s."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def later_text(effect: LaterEffect, currency: str) -> str:
    """A scheduled change that gives a changed field another value for a while, in words."""
    when = f"from {instant_text(effect.start)} to {instant_text(effect.end)}" if effect.end else f"from {instant_text(effect.start)} on"
    value, planned = show_value(effect.field, effect.value, currency), show_value(effect.field, effect.planned, currency)
    return f"{when} {effect.overlay} sets {effect.field} to {value} (this change: {planned})"


def later_effects(plan: Plan, key: str) -> list[LaterEffect]:
    return [effect for effect in plan.review.later if effect.key == key] if plan.review is not None else []
