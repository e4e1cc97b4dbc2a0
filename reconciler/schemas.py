"""The JSON Schemas in schemas/: generated from the typed models, committed, checked for drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reconciler.desired.overlays import OverlayDocument
from reconciler.documents.writing import write_file
from reconciler.model.customer import Customer
from reconciler.plan.file import PLAN_SCHEMA  # written by hand: the plan is not a pydantic model

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def customer_schema() -> dict[str, Any]:
    return _schema(
        Customer,
        "A customer account of the VoIP platform: customers.d/KEY.yaml or KEY.toml, the key being the file stem.",
    )


def overlay_schema() -> dict[str, Any]:
    schema = _schema(
        OverlayDocument,
        "A scheduled change: plans/<instant>_<slug>.yaml or .toml (2026-12-01_slug.yaml is midnight UTC, "
        "2026-12-24T1800Z_slug.yaml). It takes effect at the instant of its file name and, with until, "
        "reverts by itself then.",
    )
    for section in ("customers", "create"):
        schema["properties"][section]["additionalProperties"] = False  # keys must be customer keys
    (pattern,) = schema["properties"]["create"]["patternProperties"]
    schema["properties"]["create"]["patternProperties"][pattern] = {
        "$ref": "customer.schema.json", "description": "The whole customer document."
    }
    return schema


def _schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation", by_alias=True)
    body["description"] = description
    # No "$id": a reference between the files ("customer.schema.json") then resolves beside
    # the file that makes it, wherever the schemas are, with no network.
    return {"$schema": SCHEMA_DIALECT, **body}


def generated_schemas() -> dict[str, dict[str, Any]]:
    """Every schema the tool writes, by file name."""
    return {
        "customer.schema.json": customer_schema(),
        "overlay.schema.json": overlay_schema(),
        "plan.schema.json": PLAN_SCHEMA,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every generated schema into `directory`; return the files that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for file_name, schema in generated_schemas().items():
        path = directory / file_name
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_file(path, text.encode("utf-8"))
            changed.append(path)
    return changed
