"""The timeline: every scheduled change, customer by customer, as it will happen.

Each overlay makes an entry when it starts and, with `until`, another when it ends, for
every customer it touches; the fields are those that differ just before and just after
that moment (so a revert shows what really comes back, later overlays included). When
several overlays start or end at one instant, the ends come first, then the starts, each
in file-name order: the order the state at that instant is built in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reconciler.desired.customers import CustomerFile
from reconciler.desired.overlays import Overlay, change_instants
from reconciler.desired.schedule import evaluate
from reconciler.errors import InvalidInput
from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange, diff_customers

Event = Literal["starts", "ends"]
Action = Literal["create", "update", "remove"]


@dataclass(frozen=True)
class ScheduledChange:
    """What one overlay does to one customer at one instant."""

    at: dt.datetime
    key: str
    event: Event
    action: Action
    changes: tuple[FieldChange, ...]
    overlay: Overlay
    commit: str | None  # the commit that added the overlay file; None: uncommitted
    currency: str  # the customer's, for showing money


def build_timeline(
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    *,
    commits: Mapping[Path, str | None] | None = None,
    keys: Collection[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[ScheduledChange]:
    """Scheduled changes with start <= instant < end, for `keys` (all customers when None)."""
    entries: list[ScheduledChange] = []
    active: list[Overlay] = []
    previous: dict[str, Customer] = {key: customer_file.customer for key, customer_file in base.items()}
    for instant in change_instants(overlays):
        events: list[tuple[Overlay, Event]] = [(overlay, "ends") for overlay in active if overlay.until == instant]
        events += [(overlay, "starts") for overlay in overlays if overlay.effective_at == instant]
        for overlay, event in events:
            if event == "ends":
                active.remove(overlay)
            else:
                active = sorted([*active, overlay], key=lambda item: item.order)
            evaluation = evaluate(base, active, instant)
            if evaluation.problems:
                raise InvalidInput(evaluation.problems)
            current = evaluation.customers
            for key in sorted(overlay.customer_keys()):
                if keys is not None and key not in keys:
                    continue
                if (start is None or start <= instant) and (end is None or instant < end):
                    entries.append(_entry(instant, key, event, overlay, previous.get(key), current.get(key), commits))
            previous = current
    return entries


def _entry(
    instant: dt.datetime,
    key: str,
    event: Event,
    overlay: Overlay,
    before: Customer | None,
    after: Customer | None,
    commits: Mapping[Path, str | None] | None,
) -> ScheduledChange:
    action: Action = "create" if before is None else "remove" if after is None else "update"
    changes = tuple(diff_customers(before, after)) if action == "update" else ()
    customer = after or before
    currency = customer.currency if customer is not None else ""
    commit = (commits or {}).get(overlay.path)
    return ScheduledChange(instant, key, event, action, changes, overlay, commit, currency)
