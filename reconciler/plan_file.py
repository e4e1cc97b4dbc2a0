"""The saved plan: `plan --out FILE` writes it, `apply FILE` reads it back exactly.

The file is checked against PLAN_SCHEMA (written to schemas/plan.schema.json) and its
plan id is recomputed from the content, so an edited plan file is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.errors import InvalidInput, Problem
from reconciler.plan import ACTIONS, PLAN_FORMAT, Plan

_VALUE: dict[str, Any] = {"description": "A JSON value of the customer document (money as an exact string)."}

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://reconciler.invalid/schemas/plan.schema.json",
    "title": "Plan",
    "description": "A saved reconciler plan: `reconciler plan --out FILE`, applied by `reconciler apply FILE`.",
    "type": "object",
    "required": [
        "plan_id", "format", "at", "commit", "dirty", "provider", "target", "fleet_size",
        "changes", "blocked", "bulk_blocked", "warnings", "unmanaged",
    ],
    "additionalProperties": False,
    "properties": {
        "plan_id": {"type": "string", "pattern": "^[0-9a-f]{16}$", "description": "Hash of the plan's content."},
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
        "bulk_blocked": {
            "type": "array", "items": {"type": "string"},
            "description": "Safety thresholds the plan goes over; apply needs --allow-bulk.",
        },
        "warnings": {"type": "array", "items": {"type": "string"}, "description": "Things a reviewer should know."},
        "unmanaged": {
            "type": "array", "items": {"type": "string"},
            "description": "Live customers the reconciler does not manage; left alone.",
        },
    },
    "$defs": {
        "change": {
            "type": "object",
            "required": ["key", "action", "changes", "desired", "fingerprint", "version"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "action": {"enum": list(ACTIONS), "description": "What happens to the customer."},
                "renamed_from": {"type": ["string", "null"], "description": "The live key it is renamed from."},
                "note": {"type": "string", "description": "A short explanation for reviewers."},
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
        "blocked": {
            "type": "object",
            "required": ["key", "field", "reason"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "description": "The customer key."},
                "field": {"type": "string", "description": "The field whose change is blocked."},
                "reason": {"type": "string", "description": "Why, and what to do instead."},
            },
        },
    },
}


def save_plan(plan: Plan, path: Path) -> None:
    """Write atomically: a crash never leaves half a plan behind."""
    text = json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_plan(path: Path) -> Plan:
    """Read a saved plan; InvalidInput when it is not one, or was edited after it was made."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput([Problem(path, None, None, "", "no such plan file")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput([Problem(path, exc.lineno, exc.colno, "", f"not a plan file: {exc.msg}")]) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(path, None, None, "", f"not a plan file: not UTF-8 at byte {exc.start}")]) from exc
    validator = jsonschema.Draft202012Validator(PLAN_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if errors:
        raise InvalidInput(
            Problem(path, None, None, ".".join(str(part) for part in error.absolute_path), error.message)
            for error in errors
        )
    plan = Plan.from_json(data)
    if plan.plan_id != data["plan_id"]:
        raise InvalidInput([
            Problem(
                path, None, None, "plan_id",
                f"the content does not match plan id {data['plan_id']} (the file was edited); make a new plan",
            )
        ])
    return plan
