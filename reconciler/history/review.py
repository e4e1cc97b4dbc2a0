"""Review over time: what a change means at the scheduled instants to come, not only now.

A change that sets a customer's channels to 999 today may be undone for three days at
Christmas by an overlay that sets 400: the reviewer must see that. For every customer a
plan touches, this walks the instants at which an overlay starts or ends within a horizon
and names each stretch where a changed field takes another value, and the overlay behind it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.desired.customers import CustomerFile
from reconciler.desired.overlays import Overlay, change_instants
from reconciler.desired.schedule import evaluate, in_effect, overlay_setting
from reconciler.model.fields import canonical_fields
from reconciler.model.types import later_by
from reconciler.plan.plan import LaterEffect, Plan, Review, ScheduledInstant, ScheduledWindow

HORIZON = dt.timedelta(days=90)


def review_over_time(
    plan: Plan,
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    plans_dir: str,
    customers_dir: str,
    *,
    horizon: dt.timedelta = HORIZON,
) -> Review:
    """The later effects and scheduled windows of the customers PLAN touches, from its instant."""
    at, end = plan.at, later_by(plan.at, horizon)
    keys = {change.key for change in plan.changes} | {blocked.key for blocked in plan.blocked}
    windows = scheduled_windows(overlays, keys, at, end, plans_dir)
    instants = [instant for instant in change_instants(overlays) if at < instant <= end]
    touched = {key: customer_file for key, customer_file in base.items() if key in keys}
    later: list[LaterEffect] = []
    for change in plan.changes:
        if change.desired is None or not change.changes:
            continue
        planned = canonical_fields(change.desired)
        fields = [field_change.path for field_change in change.changes if field_change.path in planned]
        own_file = str(Path(customers_dir) / base[change.key].document.path.name) if change.key in base else "its file"
        later.extend(_later(change.key, fields, planned, touched, overlays, instants, plans_dir, own_file))
    edges = sorted({instant for window in windows for instant in (window.start, window.end) if at < instant < end})
    return Review(end, tuple(later), tuple(windows), tuple(_changing(base, overlays, edges, plans_dir)))


# Just before an instant: the state a scheduled change at that instant starts from.
_MOMENT = dt.timedelta(microseconds=1)


def _changing(
    base: Mapping[str, CustomerFile], overlays: Sequence[Overlay], instants: Sequence[dt.datetime], plans_dir: str
) -> list[ScheduledInstant]:
    """For each instant, the overlays starting or ending then and how many customers change:
    replayed for the customers those overlays name only, so it costs what they touch."""
    found = []
    for instant in instants:
        moving = [overlay for overlay in overlays if instant in (overlay.effective_at, overlay.until)]
        named = set().union(*(overlay.customer_keys() for overlay in moving))
        scope = {key: customer_file for key, customer_file in base.items() if key in named}
        before = evaluate(scope, in_effect(overlays, instant - _MOMENT), instant - _MOMENT).customers
        after = evaluate(scope, in_effect(overlays, instant), instant).customers
        changed = sum(1 for key in named if before.get(key) != after.get(key))
        found.append(ScheduledInstant(instant, tuple(_shown(overlay, plans_dir) for overlay in moving), changed))
    return found


def scheduled_windows(
    overlays: Sequence[Overlay], keys: Collection[str] | None, start: dt.datetime, end: dt.datetime, plans_dir: str
) -> list[ScheduledWindow]:
    """Each overlay in effect for each customer of KEYS (all when None) between START and END,
    cut to that span: what a Gantt chart of the schedule draws."""
    return [
        ScheduledWindow(key, _shown(overlay, plans_dir), overlay.reason, max(overlay.effective_at, start),
                        min(overlay.until, end) if overlay.until is not None else end)
        for overlay in overlays
        for key in sorted(overlay.customer_keys() if keys is None else overlay.customer_keys() & set(keys))
        if overlay.effective_at < end and (overlay.until is None or overlay.until > start)
    ]


def _later(
    key: str,
    fields: Sequence[str],
    planned: Mapping[str, Any],
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    instants: Sequence[dt.datetime],
    plans_dir: str,
    own_file: str,
) -> list[LaterEffect]:
    found: list[LaterEffect] = []
    open_: dict[str, LaterEffect] = {}  # field -> the stretch still running
    for instant in instants:
        evaluation = evaluate(base, in_effect(overlays, instant), instant)
        customer = evaluation.customers.get(key)
        values = canonical_fields(customer) if customer is not None else {}
        for path in fields:
            value = values.get(path)
            current = open_.get(path)
            if current is not None and current.value == value:
                continue
            if current is not None:
                found.append(_ended(current, instant))
                del open_[path]
            if customer is not None and value != planned[path]:
                overlay = overlay_setting(evaluation.sources.get(key, {}), path)
                shown = _shown(overlay, plans_dir) if overlay is not None else own_file
                open_[path] = LaterEffect(key, path, instant, None, shown, value, planned[path])
    found.extend(open_.values())
    return sorted(found, key=lambda effect: (effect.start, effect.field))


def _ended(effect: LaterEffect, at: dt.datetime) -> LaterEffect:
    return LaterEffect(effect.key, effect.field, effect.start, at, effect.overlay, effect.value, effect.planned)


def _shown(overlay: Overlay, plans_dir: str) -> str:
    return str(Path(plans_dir) / overlay.path.name)
