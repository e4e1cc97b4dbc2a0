"""The committed JSON Schemas: generated from the models, described, and agreeing with them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from reconciler.desired.customers import customer_paths, load_customers
from reconciler.documents.loader import load_document
from reconciler.errors import InvalidInput
from reconciler.schemas import generated_schemas, render

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
BAD = REPO / "tests" / "desired" / "bad_customers"


@pytest.mark.parametrize("name", sorted(generated_schemas()))
def test_committed_schema_matches_the_model(name: str) -> None:
    committed = (SCHEMAS / name).read_text(encoding="utf-8")
    assert committed == render(generated_schemas()[name]), (
        f"schemas/{name} is out of date: run `reconciler schema` and commit the result"
    )


def _properties(schema: Any, where: str = "#") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(schema, dict):
        for name, subschema in schema.get("properties", {}).items():
            found.append((f"{where}/properties/{name}", subschema))
        for key, value in schema.items():
            if key != "properties":
                found.extend(_properties(value, f"{where}/{key}"))
        for name, subschema in schema.get("properties", {}).items():
            found.extend(_properties(subschema, f"{where}/properties/{name}"))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            found.extend(_properties(item, f"{where}/{index}"))
    return found


@pytest.mark.parametrize("name", sorted(generated_schemas()))
def test_every_property_has_a_description(name: str) -> None:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))

    def described(subschema: dict[str, Any]) -> bool:
        # A bare $ref shows the description of what it points at.
        target = subschema.get("$ref", "").removeprefix("#/$defs/")
        return "description" in subschema or "description" in schema.get("$defs", {}).get(target, {})

    undescribed = [where for where, subschema in _properties(schema) if not described(subschema)]
    assert undescribed == []


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads((SCHEMAS / "customer.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_check_jsonschema_accepts_the_examples() -> None:
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    examples = [str(path) for path in customer_paths(REPO / "customers.d").paths]
    result = subprocess.run(
        [tool, "--schemafile", str(SCHEMAS / "customer.schema.json"), *examples],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def _schema_accepts(path: Path) -> bool:
    schema = json.loads((SCHEMAS / "customer.schema.json").read_text(encoding="utf-8"))
    # As another tool sees the file: a number with a fraction is a JSON number.
    data = json.loads(json.dumps(load_document(path).data, default=float))
    return jsonschema.Draft202012Validator(schema).is_valid(data)


def _loads(path: Path) -> bool:
    try:
        load_document(path)
    except InvalidInput:
        return False
    return True


# Rules the schema cannot state: a lookup table, a computation, or the file's name.
MODEL_ONLY = {
    "Bad Name.yaml",  # the file name is the key
    "currency-unknown.yaml",  # ISO 4217 membership
    "country-unknown.yaml",  # ISO 3166-1 membership
    "timezone-unknown.yaml",  # the IANA database
    "window-empty.yaml",  # from == to
    "vars-invalid-toml.yaml",  # TOML syntax
    "vars-toml-too-deep.yaml",  # the TOML reader's limits
    "vars-toml-number-too-long.yaml",
    "paypal-email-invalid.yaml",  # "format": "email" is an annotation in 2020-12, not an assertion
    # Decimal places of a JSON number: `multipleOf: 0.0001` would refuse 0.3 in every validator
    # that computes with binary floats (jsonschema, ajv); the string form has its pattern.
    "debit-limit-five-places.yaml",
}
SCHEMA_SEES = [path for path in customer_paths(BAD).paths if _loads(path) and path.name not in MODEL_ONLY]


def test_the_agreement_covers_most_of_the_corpus() -> None:
    assert len(SCHEMA_SEES) >= 30


@pytest.mark.parametrize("path", SCHEMA_SEES, ids=lambda path: path.name)
def test_schema_refuses_what_the_model_refuses(path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_customers([path])
    assert not _schema_accepts(path), f"the schema accepts {path.name}, the model does not"


@pytest.mark.parametrize("path", customer_paths(REPO / "customers.d").paths, ids=lambda path: path.name)
def test_schema_and_model_agree_on_examples(path: Path) -> None:
    load_customers([path])
    assert _schema_accepts(path)


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


@pytest.mark.parametrize("name", sorted(generated_schemas()))
def test_every_reference_resolves_from_the_files_alone(name: str) -> None:
    def retrieve(uri: str) -> Resource[Any]:
        assert "://" not in uri, f"{name} reaches for {uri}"  # no network, no base URL of ours
        return Resource.from_contents(json.loads((SCHEMAS / uri).read_text(encoding="utf-8")))

    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert "$id" not in schema  # a reference resolves beside the file, wherever it is
    registry = Registry(retrieve=retrieve).with_resource(name, Resource.from_contents(schema))  # type: ignore[call-arg]
    resolver = registry.resolver(base_uri=name)
    for reference in _references(schema):
        assert resolver.lookup(reference).contents is not None


def test_check_jsonschema_reads_overlays_with_their_customer_reference(tmp_path: Path) -> None:
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    good = tmp_path / "2026-12-01_good.json"
    good.write_text(json.dumps({"reason": "r", "create": {"newco": {"currency": "USD", "channels": 5}}}))
    bad = tmp_path / "2026-12-01_bad.json"
    bad.write_text(json.dumps({"reason": "r", "create": {"newco": {"currency": "USD", "channels": -5}}}))
    overlay_schema = str(SCHEMAS / "overlay.schema.json")
    accepted = subprocess.run([tool, "--schemafile", overlay_schema, str(good)], capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    refused = subprocess.run([tool, "--schemafile", overlay_schema, str(bad)], capture_output=True, text=True)
    assert refused.returncode == 1 and "-5 is less than the minimum of 0" in refused.stdout
