"""The plan: what applying the desired state would change on the live platform, as a value.

A plan records when it was evaluated, the commit it came from, the provider it was
computed against, and per customer the action with field changes and a fingerprint of the
live record it saw. What a change is (create, adopt, reactivate, ...) and why a change is
blocked are typed values, never words in a message. The plan keeps `Customer` values;
only the plan file (`plan.file`) serialises them, in the canonical form. Its id is a hash
of that content, so a saved plan names itself.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler.frozen import Frozen
from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange, created_fields
from reconciler.model.fields import (
    Glance,
    Packed,
    canonical_document,
    customer_of,
    digest,
    glance_of,
    json_parts,
    unpacked_document,
)
from reconciler.model.types import instant_text
from reconciler.providers.base import LiveRecord, UnreadableCustomer
from reconciler.providers.records import unreadable_fingerprint

PLAN_FORMAT = 5
PLAN_ID_LENGTH = 16


class Action(enum.StrEnum):
    """What a planned change does to one customer on the live platform."""

    CREATE = "create"  # a new live customer
    UPDATE = "update"  # fields of a managed, active customer
    ADOPT = "adopt"  # a live customer the reconciler did not manage, now written from git
    REACTIVATE = "reactivate"  # a customer deactivated earlier, back in git
    RENAME = "rename"  # a customer whose file was renamed: its live record moves to the new key
    DEACTIVATE = "deactivate"  # removed from git: kept live, but inactive
    DELETE = "delete"  # removed from git, and the configuration says to delete it

    @property
    def writes_fields(self) -> bool:
        """The action writes the desired customer (all but deactivate and delete)."""
        return self not in (Action.DEACTIVATE, Action.DELETE)

    @property
    def is_update(self) -> bool:
        """An existing customer is written: what the update safety thresholds count."""
        return self in (Action.UPDATE, Action.ADOPT, Action.REACTIVATE, Action.RENAME)

    @property
    def is_removal(self) -> bool:
        return self in (Action.DEACTIVATE, Action.DELETE)


class BlockRule(enum.StrEnum):
    """Why the plan will not make a change."""

    CURRENCY_FIXED = "currency_fixed"  # the platform fixes a customer's currency at creation
    LIVE_UNREADABLE = "live_unreadable"  # the live record holds values the model refuses


class Override(enum.StrEnum):
    """A rule the operator set aside for one customer, named on the command line and recorded
    in the audit."""

    LIFT_PENALTY = "lift_penalty"  # --lift-penalty KEY: write the file's status over a penalty
    REPAIR = "repair"  # --repair KEY: overwrite an unreadable live record from its file


class RemovalCause(enum.StrEnum):
    FILE_REMOVED = "file_removed"  # its file left customers.d/
    OVERLAY_ENDED = "overlay_ended"  # an overlay created it, and its `until` has passed


@dataclass(frozen=True)
class Removal:
    """Why a live customer is deactivated (or deleted)."""

    cause: RemovalCause
    commit: str | None = None  # FILE_REMOVED: the commit that removed the file, when known
    overlay: str | None = None  # OVERLAY_ENDED: the overlay file, relative to the repository
    until: dt.datetime | None = None  # OVERLAY_ENDED: when it ended

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause.value, "commit": self.commit, "overlay": self.overlay,
            "until": instant_text(self.until) if self.until is not None else None,
        }


class HoldReason(enum.StrEnum):
    PENALTY = "penalty"  # the platform put the customer in penalty itself


@dataclass(frozen=True)
class Held:
    """A live value the plan leaves as it is although git says otherwise, and why."""

    key: str
    field: str
    reason: HoldReason
    live: Any  # the value kept (canonical)
    desired: Any  # what git says (canonical)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "field": self.field, "reason": self.reason.value, "live": self.live, "desired": self.desired}


class CustomerChange(Frozen):
    """One customer's planned action.

    `desired` is the whole customer to write (None for deactivate and delete): applying a
    saved plan needs nothing but the plan. `fingerprint` and `version` identify the live
    record the change was computed against (None for a create). A value: frozen, and equal
    to another of the same content (`Frozen`).

    A create the plan made (`created`) holds its customer as the canonical document alone,
    packed (`model.fields.Packed`, ~3 KB): the customer, its canonical forms and its field
    changes were ~20 KB, and a plan of 100,000 creates held 2.4 GB. Its `desired` and
    `changes` are made from that document each time they are asked for (the customer
    validated again, ~0.07 ms), so what asks for them asks once; `document` reads it, and
    `digest` and `glance` need not.
    """

    __slots__ = (
        "_changes", "_desired", "_held", "action", "fingerprint", "key", "overrides", "removal", "renamed_from", "version",
    )
    key: str
    action: Action
    fingerprint: str | None
    version: int | None
    renamed_from: str | None
    removal: Removal | None  # deactivate and delete: why
    overrides: tuple[Override, ...]
    _changes: tuple[FieldChange, ...]
    _desired: Customer | None
    _held: Packed | None  # a create's customer, held as its canonical document

    def __init__(
        self,
        key: str,
        action: Action,
        changes: tuple[FieldChange, ...],
        desired: Customer | None,
        fingerprint: str | None,
        version: int | None,
        renamed_from: str | None = None,
        removal: Removal | None = None,
        overrides: tuple[Override, ...] = (),
    ) -> None:
        self._set(
            key=key, action=action, _changes=changes, _desired=desired, fingerprint=fingerprint, version=version,
            renamed_from=renamed_from, removal=removal, overrides=overrides, _held=None,
        )

    @classmethod
    def created(cls, key: str, customer: Customer) -> CustomerChange:
        """The create of CUSTOMER under KEY, holding its canonical document alone."""
        return cls.created_as(key, Packed.of(customer))

    @classmethod
    def created_as(cls, key: str, packed: Packed) -> CustomerChange:
        """The create under KEY of the customer PACKED holds (as `created` packs it, or as
        the worker that validated its file kept it: see `desired.fleet.Fleet.canonical`)."""
        change = cls(key, Action.CREATE, (), None, None, None)
        change._set(_held=packed)
        return change

    @property
    def desired(self) -> Customer | None:
        if self._held is None:
            return self._desired
        document = self.document()
        assert document is not None  # a held create has its document
        return customer_of(document, self._held.digest)

    @property
    def changes(self) -> tuple[FieldChange, ...]:
        if self._held is None:
            return self._changes
        return tuple(FieldChange(path, None, value) for path, value in created_fields(self.document() or {}))

    def document(self) -> dict[str, Any] | None:
        """The canonical document of `desired` (None where there is none), without making the
        customer of a held create. Read it, never change it (it may be the customer's own)."""
        if self._held is not None:
            return unpacked_document(self._held.document)
        return canonical_document(self._desired) if self._desired is not None else None

    def glance(self) -> Glance | None:
        """What a reviewer sees of `desired` at a glance (`model.fields.Glance`): a held
        create's without reading its document; None where there is no `desired`."""
        if self._held is not None:
            return self._held.glance
        return glance_of(canonical_document(self._desired)) if self._desired is not None else None

    def packed(self) -> Packed | None:
        """A held create's customer as the plan holds it; None for any other change."""
        return self._held

    def digest(self) -> str | None:
        """`model.fields.digest` of `desired`, without making the customer of a held create."""
        if self._held is not None:
            return self._held.digest
        return digest(self._desired) if self._desired is not None else None

    def to_json(self, *, identity: bool = False) -> dict[str, Any]:
        """The change as a plan file holds it; for its IDENTITY (what the plan id takes:
        `plan_id_of`), the desired customer given by its digest, not its document, and a
        create's changes by nothing."""
        changes: list[dict[str, Any]] | None
        if identity:
            changes = None if self.action is Action.CREATE else [change.to_json() for change in self._changes]
            return self._form(changes, self.digest())
        if self._held is not None:  # the changes' form straight from the document, read once
            document = self.document() or {}
            return self._form([FieldChange.json_of(path, None, value) for path, value in created_fields(document)], document)
        return self._form([change.to_json() for change in self._changes], self.document())

    def _form(self, changes: list[dict[str, Any]] | None, desired: Any) -> dict[str, Any]:
        return {
            "key": self.key,
            "action": self.action.value,
            "renamed_from": self.renamed_from,
            "removal": self.removal.to_json() if self.removal is not None else None,
            "overrides": [override.value for override in self.overrides],
            "fingerprint": self.fingerprint,
            "version": self.version,
            "changes": changes,
            "desired": desired,
        }

    def _values(self) -> tuple[Any, ...]:
        return (
            self.key, self.action, self.changes, self.desired, self.fingerprint, self.version,
            self.renamed_from, self.removal, self.overrides,
        )

    def __repr__(self) -> str:
        names = ("key", "action", "changes", "desired", "fingerprint", "version", "renamed_from", "removal", "overrides")
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, self._values(), strict=True))
        return f"CustomerChange({shown})"


@dataclass(frozen=True)
class Blocked:
    """A change the plan will not make: the rule, and why, with what to do instead."""

    key: str
    field: str
    rule: BlockRule
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "field": self.field, "rule": self.rule.value, "reason": self.reason}


@dataclass(frozen=True)
class LaterEffect:
    """For a while after the plan's instant, a scheduled change gives a field another value
    than the one the plan writes: what a reviewer of the change must also see."""

    key: str
    field: str
    start: dt.datetime
    end: dt.datetime | None  # None: from `start` on, for good
    overlay: str  # the overlay file, relative to the repository
    value: Any  # its value then (canonical)
    planned: Any  # the value the plan writes now (canonical)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "field": self.field, "start": instant_text(self.start),
            "end": instant_text(self.end) if self.end is not None else None,
            "overlay": self.overlay, "value": self.value, "planned": self.planned,
        }


@dataclass(frozen=True)
class ScheduledWindow:
    """An overlay in effect for a customer within the review's horizon."""

    key: str
    overlay: str
    reason: str
    start: dt.datetime
    end: dt.datetime  # the overlay's `until`, or the horizon

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "overlay": self.overlay, "reason": self.reason,
            "start": instant_text(self.start), "end": instant_text(self.end),
        }


class Punctuality(enum.StrEnum):
    MISSED = "missed"  # a temporary change's whole window passed with no apply inside it
    LATE = "late"  # first applied later than the tolerance after its instant


@dataclass(frozen=True)
class ScheduleNote:
    """A scheduled change that did not happen on time (see `plan.punctuality`)."""

    kind: Punctuality
    overlay: str  # the overlay file, relative to the repository root
    start: dt.datetime  # missed: the window's start; late: the instant that came late
    end: dt.datetime | None = None  # missed: the window's end
    late_by: dt.timedelta | None = None  # late: how late, as of the plan's instant
    ends: bool = False  # late: the instant is the overlay's end, not its start

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "overlay": self.overlay, "start": instant_text(self.start),
            "end": instant_text(self.end) if self.end is not None else None,
            "late_by_seconds": self.late_by.total_seconds() if self.late_by is not None else None,
            "ends": self.ends,
        }


@dataclass(frozen=True)
class ScheduledInstant:
    """An instant within the review's horizon where scheduled changes of the touched customers
    start or end, and how many customers change then (what the safety thresholds will see)."""

    at: dt.datetime
    overlays: tuple[str, ...]  # the overlay files starting or ending then
    customers: int

    def to_json(self) -> dict[str, Any]:
        return {"at": instant_text(self.at), "overlays": list(self.overlays), "customers": self.customers}


@dataclass(frozen=True)
class Review:
    """Review over time: what scheduled changes do to the customers a change touches, from the
    plan's instant to `horizon` (`diff` makes one; a live plan has none)."""

    horizon: dt.datetime
    later: tuple[LaterEffect, ...]
    windows: tuple[ScheduledWindow, ...]
    instants: tuple[ScheduledInstant, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "horizon": instant_text(self.horizon),
            "later": [effect.to_json() for effect in self.later],
            "windows": [window.to_json() for window in self.windows],
            "instants": [instant.to_json() for instant in self.instants],
        }


@dataclass(frozen=True)
class Plan:
    at: dt.datetime
    commit: str | None
    dirty: bool
    provider: str
    target: str
    changes: tuple[CustomerChange, ...]
    blocked: tuple[Blocked, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    fleet_size: int = 0
    bulk_blocked: tuple[str, ...] = field(default=())
    held: tuple[Held, ...] = ()
    review: Review | None = None
    schedule: tuple[ScheduleNote, ...] = ()  # scheduled changes missed or late, as of `at`

    @cached_property
    def plan_id(self) -> str:
        # Cached: a plan of 100,000 creates is identified once, not once per renderer and
        # apply; and hashed a change at a time, never holding the JSON of them all (gigabytes).
        return plan_id_of(json_parts(self._content(change.to_json(identity=True) for change in self.changes)))

    def counts(self) -> dict[str, int]:
        """Customers per action, and blocked customers."""
        counts: dict[str, int] = dict.fromkeys(Action, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["blocked"] = len({blocked.key for blocked in self.blocked})
        return counts

    @property
    def empty(self) -> bool:
        return not self.changes and not self.blocked

    def _content(self, changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """The JSON form of all but the id, counts and review, with CHANGES as the changes."""
        return {
            "format": PLAN_FORMAT,
            "at": instant_text(self.at),
            "commit": self.commit,
            "dirty": self.dirty,
            "provider": self.provider,
            "target": self.target,
            "fleet_size": self.fleet_size,
            "changes": changes,
            "blocked": [blocked.to_json() for blocked in self.blocked],
            "held": [held.to_json() for held in self.held],
            "bulk_blocked": list(self.bulk_blocked),
            "warnings": list(self.warnings),
            "unmanaged": list(self.unmanaged),
            "schedule": [note.to_json() for note in self.schedule],
        }

    def to_json(self, *, changes_as_they_come: bool = False) -> dict[str, Any]:
        """The plan as its file holds it; with CHANGES_AS_THEY_COME, its changes an iterator,
        each change's form made as it is asked for (`plan.file.save_plan`)."""
        made = (change.to_json() for change in self.changes)
        document = {
            "plan_id": self.plan_id, **self._content(made if changes_as_they_come else list(made)),
            "counts": self.counts(),
        }
        if self.review is not None:
            document["review"] = self.review.to_json()
        return document


def plan_id_of(content: Iterable[bytes]) -> str:
    """The id of the plan whose JSON form, without its id, counts, review and signature, is
    CONTENT (`json_bytes`, in parts: `json_parts`), each change's `desired` given by its
    digest (`model.fields.digest`) rather than its document: a plan of 100,000 creates is
    identified without encoding each document again, and a document edited in a saved plan
    no longer has the digest its id was made of.

    A create's changes are null there: they are every field of the customer it writes (a
    saved plan's are checked to be: `plan.file`), which its digest identifies already; a
    plan of 100,000 creates is identified without naming 4 million fields (~4 s)."""
    hasher = hashlib.sha256()
    for part in content:
        hasher.update(part)
    return hasher.hexdigest()[:PLAN_ID_LENGTH]


def fingerprint(live: LiveRecord) -> str:
    """A hash of what the live record holds, by value (500.00 and 500.0000 agree): of its
    customer's digest, which a store that keeps digests hands over with the record."""
    if isinstance(live, UnreadableCustomer):
        return unreadable_fingerprint(live)
    return fingerprint_of(digest(live.customer), active=live.active)


def fingerprint_of(known: str, *, active: bool) -> str:
    """`fingerprint` of a readable record whose customer's digest is KNOWN."""
    return hashlib.sha256(f"{known} active={active}".encode()).hexdigest()[:16]
