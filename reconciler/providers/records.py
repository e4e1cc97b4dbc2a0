"""A live record as a provider hands it to the core: a `LiveCustomer` when the model reads
it, an `UnreadableCustomer` naming every refused field when it does not."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from reconciler.model.customer import Customer
from reconciler.model.fields import field_path
from reconciler.model.messages import error_message, show
from reconciler.model.types import KEY_RE
from reconciler.providers.base import LiveCustomer, LiveProblem, LiveRecord, UnreadableCustomer


def live_record(
    key: str,
    document: Mapping[str, Any],
    *,
    version: int,
    managed: bool,
    active: bool,
    problems: Sequence[LiveProblem] = (),
) -> LiveRecord:
    """Validate DOCUMENT (the live record in the model's shape) as a customer. PROBLEMS are
    what the provider already found (a value it could not even decode)."""
    found = list(problems)
    if not KEY_RE.fullmatch(key):
        # A key becomes a file name and reaches terminals: a hostile one ("../../x", escape
        # sequences) is named, escaped, and never used as either.
        found.append(LiveProblem("key", show(key), "not a customer key: lower case letters, digits, '-' and '_', at most 64"))
    customer: Customer | None = None
    try:
        customer = Customer.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if part != "[key]")
            if any(problem.field == field_path(loc) for problem in found):
                continue  # already said more precisely
            found.append(LiveProblem(field_path(loc), show(error.get("input")), error_message(error, Customer, loc)))
    if customer is not None and not found:
        return LiveCustomer(key, customer, version, managed, active)
    return UnreadableCustomer(key, version, managed, active, tuple(found), document)


def unreadable_fingerprint(record: UnreadableCustomer) -> str:
    """A hash of what an unreadable record holds (values of any type, by their text)."""
    body = json.dumps({"values": record.values, "active": record.active}, sort_keys=True, default=repr)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
