"""The saved plan: `plan --out FILE` writes it, `apply FILE` reads it back exactly.

The file is checked against PLAN_SCHEMA (written to schemas/plan.schema.json) and its
plan id is recomputed from the content, so an edited plan file is refused. The id is an
unkeyed hash, which anyone who edits the file can recompute: with a key, the file also
carries an HMAC-SHA256 signature over its content, which only a holder of the key can make.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.documents.loader import LoadedDocument, read_source
from reconciler.documents.validation import problems_from
from reconciler.documents.writing import write_file
from reconciler.errors import InvalidInput, Problem
from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange, diff_customers
from reconciler.model.fields import canonical_fields, digest_of, json_parts
from reconciler.model.messages import show
from reconciler.plan.plan import (
    PLAN_FORMAT,
    PLAN_ID_LENGTH,
    Action,
    Blocked,
    BlockRule,
    CustomerChange,
    Held,
    HoldReason,
    Override,
    Plan,
    Punctuality,
    Removal,
    RemovalCause,
    ScheduleNote,
    plan_id_of,
)

SIGNATURE_PREFIX = "hmac-sha256:"
# Shorter keys are guessable; 32 random bytes (64 hex characters) are what `secrets.token_hex(32)` gives.
MIN_KEY_BYTES = 32

_VALUE: dict[str, Any] = {"description": "A JSON value of the customer document (money as an exact string)."}

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Plan",
    "description": "A saved reconciler plan: `reconciler plan --out FILE`, applied by `reconciler apply FILE`.",
    "type": "object",
    "required": [
        "plan_id", "format", "at", "commit", "dirty", "provider", "target", "fleet_size",
        "changes", "blocked", "held", "bulk_blocked", "warnings", "unmanaged", "schedule",
    ],
    "additionalProperties": False,
    "properties": {
        "plan_id": {
            "type": "string", "pattern": f"^[0-9a-f]{{{PLAN_ID_LENGTH}}}$", "description": "Hash of the plan's content, each change's desired document by its digest.",
        },
        "signature": {
            "type": "string", "pattern": f"^{SIGNATURE_PREFIX}[0-9a-f]{{64}}$",
            "description": "HMAC-SHA256 of the rest of the file with the key in safety.plan_key_env.",
        },
        "format": {"const": PLAN_FORMAT, "description": "Version of this file format."},
        "at": {"type": "string", "format": "date-time", "description": "The instant desired state was evaluated at."},
        "commit": {"type": ["string", "null"], "description": "The git commit desired state came from."},
        "dirty": {"type": "boolean", "description": "The work tree had uncommitted changes."},
        "provider": {"type": "string", "description": "Provider name, e.g. sqlite."},
        "target": {"type": "string", "description": "What the provider points at (never a credential)."},
        "fleet_size": {"type": "integer", "minimum": 0, "description": "Active live customers when planned."},
        "counts": {
            "type": "object", "additionalProperties": {"type": "integer"},
            "description": "Customers per action, and blocked.",
        },
        "changes": {"type": "array", "items": {"$ref": "#/$defs/change"}, "description": "Per customer, the action."},
        "blocked": {"type": "array", "items": {"$ref": "#/$defs/blocked"}, "description": "Changes the plan will not make."},
        "held": {
            "type": "array", "items": {"$ref": "#/$defs/held"},
            "description": "Live values the plan leaves as they are although git says otherwise (a penalty).",
        },
        "bulk_blocked": {
            "type": "array", "items": {"type": "string"},
            "description": "Safety thresholds the plan goes over; apply needs --allow-bulk.",
        },
        "warnings": {"type": "array", "items": {"type": "string"}, "description": "Things a reviewer should know."},
        "review": {
            "type": "object",
            "description": "`diff` only: what scheduled changes do to the customers the change touches, up to a horizon.",
            "required": ["horizon", "later", "windows"],
            "additionalProperties": False,
            "properties": {
                "horizon": {"type": "string", "format": "date-time", "description": "How far ahead the review looked."},
                "later": {
                    "type": "array", "items": {"$ref": "#/$defs/later"},
                    "description": "Stretches of time in which a scheduled change gives a changed field another value.",
                },
                "windows": {
                    "type": "array", "items": {"$ref": "#/$defs/window"},
                    "description": "Overlays in effect for those customers before the horizon.",
                },
                "instants": {
                    "type": "array",
                    "items": {
                        "type": "object", "required": ["at", "overlays", "customers"], "additionalProperties": False,
                        "properties": {
                            "at": {"type": "string", "format": "date-time", "description": "The instant."},
                            "overlays": {"type": "array", "items": {"type": "string"}, "description": "Starting or ending then."},
                            "customers": {"type": "integer", "minimum": 0, "description": "Customers that change then."},
                        },
                    },
                    "description": "Where those customers' scheduled changes start or end, and how many customers change then.",
                },
            },
        },
        "unmanaged": {
            "type": "array", "items": {"type": "string"},
            "description": "Live customers the reconciler does not manage; left alone.",
        },
        "schedule": {
            "type": "array", "items": {"$ref": "#/$defs/schedule_note"},
            "description": "Scheduled changes missed (no apply in their window) or applied late, as of `at`.",
        },
    },
    "$defs": {
        "schedule_note": {
            "type": "object",
            "required": ["kind", "overlay", "start", "end", "late_by_seconds", "ends"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": [kind.value for kind in Punctuality], "description": "missed or late."},
                "overlay": {"type": "string", "description": "The overlay file, relative to the repository."},
                "start": {"type": "string", "format": "date-time", "description": "The window's start, or the late instant."},
                "end": {"type": ["string", "null"], "format": "date-time", "description": "missed: the window's end."},
                "late_by_seconds": {
                    "type": ["number", "null"], "minimum": 0, "maximum": 1e10,
                    "description": "late: how late, as of the plan's instant.",
                },
                "ends": {"type": "boolean", "description": "late: the instant is the overlay's end."},
            },
        },
        "change": {
            "type": "object",
            "required": ["key", "action", "changes", "desired", "fingerprint", "version", "removal", "overrides"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "action": {"enum": [action.value for action in Action], "description": "What happens to the customer."},
                "renamed_from": {"type": ["string", "null"], "description": "The live key it is renamed from."},
                "removal": {
                    "description": "Deactivate and delete: why (null for the other actions).",
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["cause", "commit", "overlay", "until"],
                            "additionalProperties": False,
                            "properties": {
                                "cause": {"enum": [cause.value for cause in RemovalCause], "description": "Why it is removed."},
                                "commit": {"type": ["string", "null"], "description": "The commit that removed the file."},
                                "overlay": {"type": ["string", "null"], "description": "The overlay that created it."},
                                "until": {"type": ["string", "null"], "format": "date-time", "description": "When that overlay ended."},
                            },
                        },
                    ],
                },
                "overrides": {
                    "type": "array", "items": {"enum": [override.value for override in Override]},
                    "description": "Rules the operator set aside for this customer (--lift-penalty, --repair).",
                },
                "fingerprint": {
                    "type": ["string", "null"],
                    "description": "Hash of the live record the change was computed against (null for create).",
                },
                "version": {"type": ["integer", "null"], "description": "Live version the change was computed against."},
                "changes": {
                    "type": "array",
                    "description": "Field changes, before -> after.",
                    "items": {
                        "type": "object",
                        "required": ["field", "before", "after"],
                        "additionalProperties": False,
                        "properties": {
                            "field": {"type": "string", "description": "Dotted path of the field."},
                            "before": _VALUE,
                            "after": _VALUE,
                            "added": {"type": "array", "description": "Items added to a set-like list."},
                            "removed": {"type": "array", "description": "Items removed from a set-like list."},
                        },
                    },
                },
                "desired": {
                    "type": ["object", "null"],
                    "description": "The whole customer document to write (see customer.schema.json).",
                },
            },
        },
        "later": {
            "type": "object",
            "required": ["key", "field", "start", "end", "overlay", "value", "planned"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "field": {"type": "string", "description": "The field."},
                "start": {"type": "string", "format": "date-time", "description": "When the other value starts."},
                "end": {"type": ["string", "null"], "format": "date-time", "description": "When it ends (null: never)."},
                "overlay": {"type": "string", "description": "The overlay that sets it."},
                "value": _VALUE,
                "planned": _VALUE,
            },
        },
        "window": {
            "type": "object",
            "required": ["key", "overlay", "reason", "start", "end"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "overlay": {"type": "string", "description": "The overlay file."},
                "reason": {"type": "string", "description": "The overlay's reason."},
                "start": {"type": "string", "format": "date-time", "description": "Start, cut to the review."},
                "end": {"type": "string", "format": "date-time", "description": "End, cut to the horizon."},
            },
        },
        "held": {
            "type": "object",
            "required": ["key", "field", "reason", "live", "desired"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "field": {"type": "string", "description": "The field left as it is live."},
                "reason": {"enum": [reason.value for reason in HoldReason], "description": "Why."},
                "live": _VALUE,
                "desired": _VALUE,
            },
        },
        "blocked": {
            "type": "object",
            "required": ["key", "field", "rule", "reason"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "field": {"type": "string", "description": "The field whose change is blocked."},
                "rule": {"enum": [rule.value for rule in BlockRule], "description": "The rule that blocks it."},
                "reason": {"type": "string", "description": "Why, and what to do instead."},
            },
        },
    },
}


def save_plan(plan: Plan, path: Path, *, key: bytes | None = None) -> None:
    """Write atomically, over a regular file only: a crash never leaves half a plan behind.
    With KEY, the file carries its signature. A change at a time: the JSON of a plan of
    100,000 creates, every document in it, is never held whole."""
    data = plan.to_json(changes_as_they_come=True)
    if key is not None:
        data["signature"] = _signature(plan.to_json(changes_as_they_come=True), key)
    write_file(path, indented_json(data))


def indented_json(document: Mapping[str, Any]) -> Iterator[bytes]:
    """`json.dumps(DOCUMENT, indent=2, ensure_ascii=False)` and a line end, in UTF-8, in
    parts: a value of DOCUMENT that is an iterator is a list written an item at a time."""
    if not document:
        yield b"{}\n"
        return
    for index, (name, value) in enumerate(document.items()):
        yield (b"," if index else b"{") + b"\n  " + _indented(name, "") + b": "
        if not isinstance(value, Iterator):
            yield _indented(value, "  ")
            continue
        items = 0
        for item in value:
            yield (b"," if items else b"[") + b"\n    " + _indented(item, "    ")
            items += 1
        yield b"\n  ]" if items else b"[]"
    yield b"\n}\n"


def _indented(value: Any, margin: str) -> bytes:
    """VALUE as `json.dumps(indent=2)` writes it, each line after its first set MARGIN in
    (no line end is inside a JSON string: it is written as \\n)."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + margin).encode("utf-8")


def _signature(data: Mapping[str, Any], key: bytes) -> str:
    content = {name: value for name, value in data.items() if name != "signature"}
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in json_parts(content):
        mac.update(part)
    return SIGNATURE_PREFIX + mac.hexdigest()


def _check_signature(path: Path, data: Mapping[str, Any], key: bytes | None, *, required: bool) -> None:
    signature = data.get("signature")
    if signature is None:
        if required:
            raise InvalidInput([Problem(
                path, None, None, "signature",
                "the plan is not signed, and reconciler.toml requires signed plans (safety.require_signed_plans); "
                "make it with `reconciler plan --out` where the signing key is set",
            )])
        return
    if key is None:
        return  # nothing to check it with; a configuration that cares sets require_signed_plans
    if not hmac.compare_digest(signature, _signature(data, key)):
        raise InvalidInput([Problem(
            path, None, None, "signature",
            "does not match: the plan was changed after it was signed, or signed with another key; make a new plan",
        )])


# A plan of every customer of a large fleet is large; anything bigger is not a plan.
MAX_PLAN_BYTES = 1024 * 1024 * 1024
# Deeper than any plan nests (a customer document nests 5 levels inside a change).
MAX_PLAN_DEPTH = 32


def load_plan(path: Path, *, key: bytes | None = None, require_signature: bool = False) -> Plan:
    """Read a saved plan, strictly; InvalidInput when it is not one, or was edited after it was
    made. A signed plan is checked with KEY when there is one; REQUIRE_SIGNATURE refuses an
    unsigned plan."""
    if not path.exists():
        raise InvalidInput([Problem(path, None, None, "", "no such plan file")])
    data = _strict_json(path, read_source(path, limit=MAX_PLAN_BYTES))
    made_as = data.get("format") if isinstance(data, dict) else None
    if isinstance(made_as, int) and not isinstance(made_as, bool) and made_as != PLAN_FORMAT:
        raise InvalidInput([Problem(
            path, None, None, "format",
            f"a plan of format {made_as}, saved by another version of reconciler; this one reads format "
            f"{PLAN_FORMAT}: make the plan again with this version",
        )])
    import jsonschema  # here, not at the top: only reading a saved plan needs it (50 ms to import)

    validator = jsonschema.Draft202012Validator(PLAN_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if errors:
        raise InvalidInput(
            Problem(path, None, None, ".".join(str(part) for part in error.absolute_path), error.message)
            for error in errors
        )
    _check_signature(path, data, key, required=require_signature)
    if id_of_saved(data) != data["plan_id"]:
        raise InvalidInput([
            Problem(
                path, None, None, "plan_id",
                f"the content does not match plan id {data['plan_id']} (the file was edited); make a new plan",
            )
        ])
    return plan_from_json(data, path)


def id_of_saved(data: Mapping[str, Any]) -> str:
    """The plan id of a saved plan's JSON form (as `Plan.plan_id` makes it): of all but its
    id, counts, review and signature, each change's document by its digest, and a create's
    changes by null (`_check_consistent` holds them to its document's fields)."""
    content = {name: value for name, value in data.items() if name not in ("plan_id", "signature", "counts", "review")}
    content["changes"] = (
        {
            **change,
            "changes": None if change["action"] == Action.CREATE else change["changes"],
            "desired": digest_of(change["desired"]) if change["desired"] is not None else None,
        }
        for change in content["changes"]
    )
    return plan_id_of(json_parts(content))


def _strict_json(path: Path, content: bytes) -> Any:
    """CONTENT as JSON, refusing what json.loads lets through: a key twice in one object (the
    last would win unseen), NaN and Infinity, integers too long to be a number, and nesting
    deeper than a plan's."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in items:
            if key in found:
                raise _Refused(f"the key '{key}' appears twice in one object")
            found[key] = value
        return found

    def constant(name: str) -> Any:
        raise _Refused(f"{name} is not a JSON number")

    try:
        text = content.decode("utf-8")
        if _depth(text) > MAX_PLAN_DEPTH:
            raise _Refused(f"values are nested more than {MAX_PLAN_DEPTH} deep")
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput([Problem(path, exc.lineno, exc.colno, "", f"not a plan file: {exc.msg}")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(path, None, None, "", f"not a plan file: not UTF-8 at byte {exc.start}")]) from None
    except _Refused as exc:
        raise InvalidInput([Problem(path, None, None, "", f"not a plan file: {exc}")]) from None
    except (ValueError, RecursionError):  # an integer longer than Python reads (4300 digits)
        raise InvalidInput([Problem(path, None, None, "", "not a plan file: a number too long to read")]) from None


class _Refused(Exception):
    pass


def _depth(text: str) -> int:
    """How deep the brackets of a JSON text nest, counted outside strings (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def plan_from_json(data: Mapping[str, Any], path: Path) -> Plan:
    """The plan a schema-valid plan file (PATH) holds; InvalidInput for a `desired` the model
    refuses, an instant that is not one, and a change whose fields do not say what its
    `desired` writes."""
    changes = tuple(_change(path, index, change) for index, change in enumerate(data["changes"]))
    return Plan(
        at=_instant(path, "at", data["at"]),
        commit=data["commit"],
        dirty=data["dirty"],
        provider=data["provider"],
        target=data["target"],
        fleet_size=data["fleet_size"],
        changes=changes,
        blocked=tuple(
            Blocked(blocked["key"], blocked["field"], BlockRule(blocked["rule"]), blocked["reason"])
            for blocked in data["blocked"]
        ),
        held=tuple(
            Held(held["key"], held["field"], HoldReason(held["reason"]), held["live"], held["desired"])
            for held in data["held"]
        ),
        bulk_blocked=tuple(data["bulk_blocked"]),
        warnings=tuple(data["warnings"]),
        unmanaged=tuple(data["unmanaged"]),
        schedule=tuple(_schedule_note(path, index, note) for index, note in enumerate(data["schedule"])),
    )


def _schedule_note(path: Path, index: int, data: Mapping[str, Any]) -> ScheduleNote:
    place = f"schedule[{index}]"
    return ScheduleNote(
        kind=Punctuality(data["kind"]), overlay=data["overlay"], start=_instant(path, f"{place}.start", data["start"]),
        end=_instant(path, f"{place}.end", data["end"]) if data["end"] is not None else None,
        late_by=dt.timedelta(seconds=data["late_by_seconds"]) if data["late_by_seconds"] is not None else None,
        ends=data["ends"],
    )


def _change(path: Path, index: int, data: Mapping[str, Any]) -> CustomerChange:
    desired: Customer | None = None
    if data["desired"] is not None:
        try:
            desired = Customer.model_validate(data["desired"])
        except ValidationError as exc:
            located = LoadedDocument(path, {"changes": [{}] * index + [{"desired": data["desired"]}]})
            raise InvalidInput(problems_from(exc, located, Customer, base=("changes", index, "desired"))) from None
    action = Action(data["action"])
    changes = tuple(FieldChange.from_json(change) for change in data["changes"])
    _check_consistent(path, index, data["key"], action, changes, desired)
    return CustomerChange(
        key=data["key"],
        action=action,
        changes=changes,
        desired=desired,
        fingerprint=data["fingerprint"],
        version=data["version"],
        renamed_from=data.get("renamed_from"),
        removal=_removal(path, data["removal"]),
        overrides=tuple(Override(override) for override in data["overrides"]),
    )


def _check_consistent(
    path: Path, index: int, key: str, action: Action, changes: tuple[FieldChange, ...], desired: Customer | None
) -> None:
    """A change says what it writes: its action and its `desired` agree, and each field change
    ends at the value `desired` holds (apply checks the rest against the live record)."""
    where = f"changes[{index}]"
    if action.writes_fields != (desired is not None):
        wanted = "a desired customer" if action.writes_fields else "no desired customer"
        raise InvalidInput([Problem(path, None, None, where, f"{key}: a {action} carries {wanted}; make a new plan")])
    if desired is None:
        return
    if action is Action.CREATE and changes != tuple(diff_customers(None, desired)):
        # Its changes are not in the plan's id (`plan_id_of`): they must be what it writes.
        raise InvalidInput([Problem(
            path, None, None, f"{where}.changes",
            f"{key}: a create's changes are every field of the customer it writes, and these are not: "
            "the plan was edited; make a new plan",
        )])
    written = canonical_fields(desired)
    for change in changes:
        if change.path not in written or written[change.path] != change.after:
            raise InvalidInput([Problem(
                path, None, None, f"{where}.changes.{change.path}",
                f"{key}: the change says {show(change.after)}, but the customer it writes holds "
                f"{show(written.get(change.path))}: the plan was edited; make a new plan",
            )])


def _removal(path: Path, data: Mapping[str, Any] | None) -> Removal | None:
    if data is None:
        return None
    until = _instant(path, "removal.until", data["until"]) if data["until"] is not None else None
    return Removal(RemovalCause(data["cause"]), commit=data["commit"], overlay=data["overlay"], until=until)


def _instant(path: Path, field: str, text: str) -> dt.datetime:
    try:
        instant = dt.datetime.fromisoformat(text)
        if instant.tzinfo is None:
            raise ValueError(text)
        return instant.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise InvalidInput([Problem(path, None, None, field, f"{show(text)} is not an instant with a zone")]) from None
