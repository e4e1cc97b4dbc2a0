"""The saved plan read back strictly: what was planned is applied, and nothing else.

A plan file a person or a pull request edited is refused whichever way it was edited:
a duplicated key, a value its `changes` do not show, an action the configuration forbids,
a customer the model refuses, or bytes that are not a plan at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from hypothesis import given, settings
from json_cases import documents_in_parts

from reconciler.model.fields import digest_of, json_bytes
from reconciler.plan.file import id_of_saved, indented_json
from reconciler.plan.plan import PLAN_ID_LENGTH


@pytest.fixture
def spec(sql_spec: Any) -> Any:
    """These tests reach behind the provider with SQL: the SQL stores only."""
    return sql_spec

AT = "2026-11-27T10:00:00Z"


def _saved(live: Path, run: Run, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    path = live / "customers.d/acme-telecom.yaml"
    path.write_text(path.read_text().replace("channels: 300", "channels: 301"))
    plan_file = tmp_path / "plan.json"
    run(live, "plan", "--at", AT, "--out", str(plan_file)).assert_success()
    return plan_file, json.loads(plan_file.read_text())


def _forge(plan_file: Path, document: dict[str, Any]) -> None:
    """Write DOCUMENT with the plan id its content hashes to, as a forger would."""
    document["plan_id"] = id_of_saved(document)
    plan_file.write_text(json.dumps(document))


def _creates(live: Path, run: Run, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A saved plan of the examples' creates: its file, its JSON."""
    plan_file = tmp_path / "creates.json"
    run(live, "plan", "--at", AT, "--out", str(plan_file)).assert_success()
    return plan_file, json.loads(plan_file.read_text())


@pytest.mark.parametrize("saved", [_saved, _creates])
def test_a_plan_id_is_the_hash_of_its_whole_content(live: Path, run: Run, tmp_path: Path, saved: Any) -> None:
    """Hashed a change at a time (`json_parts`), the id is still the hash of the plan's JSON
    whole, each document by its digest, a create's changes by null (its document's fields,
    which the digest identifies): ids do not change with how they are computed."""
    _, document = saved(live, run, tmp_path)
    content = {name: value for name, value in document.items() if name not in ("plan_id", "counts", "review")}
    content["changes"] = [
        {**change, "desired": digest_of(change["desired"]), "changes": None if change["action"] == "create" else change["changes"]}
        for change in content["changes"]
    ]
    assert document["plan_id"] == hashlib.sha256(json_bytes(content)).hexdigest()[:PLAN_ID_LENGTH]
    assert id_of_saved(document) == document["plan_id"]


@pytest.mark.parametrize("edit", ["a field left out", "a field added", "a value changed"])
def test_a_create_s_changes_edited_are_refused_though_its_id_holds(
    live: Path, run: Run, tmp_path: Path, spec: Any, edit: str
) -> None:
    """A create's changes are not in the plan's id: that they are every field of the customer
    it writes, and nothing else, is checked on their own, so a reviewer is never shown less
    than a create writes."""
    plan_file, document = _creates(live, run, tmp_path)
    changes = document["changes"][0]["changes"]
    if edit == "a field left out":
        del changes[3]
    elif edit == "a field added":
        changes.append({"field": "config.notes", "before": None, "after": "x"})
    else:
        changes[0]["after"] = "Someone Else"
    plan_file.write_text(json.dumps(document))
    assert id_of_saved(document) == document["plan_id"]
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == (
        f"error: {plan_file}: changes[0].changes: {document['changes'][0]['key']}: a create's changes are every "
        "field of the customer it writes, and these are not: the plan was edited; make a new plan\n"
    )
    with spec.make() as provider:
        assert provider.read() == {}


@settings(max_examples=200, deadline=None)
@given(documents=documents_in_parts())
def test_a_plan_written_in_parts_is_the_json_written_whole(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """`save_plan` writes a change at a time: byte for byte what `json.dumps(indent=2)`
    wrote of the whole, line ends and text in any script included, lists given as iterators."""
    whole, parts = documents
    assert b"".join(indented_json(parts)) == (json.dumps(whole, indent=2, ensure_ascii=False) + "\n").encode()


def test_a_saved_plan_is_its_json_indented(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    assert plan_file.read_bytes() == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    assert list(document)[:10] == [
        "plan_id", "format", "at", "commit", "dirty", "provider", "target", "fleet_size", "changes", "blocked",
    ]


def test_a_value_the_changes_do_not_show_is_never_written(live: Path, run: Run, tmp_path: Path, spec: Any) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["changes"][0]["desired"]["debit_limit"] = "99999.00"
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == (
        "error: the live platform changed since the plan was made; nothing was applied. Make a new plan (or "
        "apply the rest with --partial):\n  acme-telecom: the plan's changes do not say all that it would write "
        "(was it edited?); make a new plan\n"
    )
    with spec.make() as provider:
        assert str(provider.read(["acme-telecom"])["acme-telecom"].customer.debit_limit) == "25000"  # type: ignore[union-attr]


def test_a_change_that_does_not_end_at_its_customer_is_refused(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["changes"][0]["changes"][0]["after"] = 5000
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (1, (
        f"error: {plan_file}: changes[0].changes.channels: acme-telecom: the change says 5000, but the customer "
        "it writes holds 301: the plan was edited; make a new plan\n"
    ))


def test_a_delete_the_configuration_does_not_allow_is_refused(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["changes"][0].update(action="delete", desired=None, changes=[])
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (3, (
        f"error: {plan_file} deletes acme-telecom, but reconciler.toml says on_removal = 'deactivate'; "
        "make a new plan\n"
    ))


def test_a_key_twice_is_refused(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    text = json.dumps(document)
    plan_file.write_text(text.replace('"changes": [', '"changes": [], "changes": [', 1))
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (
        1, f"error: {plan_file}: not a plan file: the key 'changes' appears twice in one object\n"
    )


def test_a_desired_customer_the_model_refuses_is_a_message_not_a_traceback(
    live: Path, run: Run, tmp_path: Path
) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["changes"][0]["desired"]["channels"] = -1
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (
        1, f"error: {plan_file}: changes[0].desired.channels: must be at least 0, not -1\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"at": ' + "[" * 200_000 + "]" * 200_000 + "}", "not a plan file: values are nested more than 32 deep"),
        ('{"fleet_size": ' + "9" * 5000 + "}", "not a plan file: a number too long to read"),
        ('{"fleet_size": NaN}', "not a plan file: NaN is not a JSON number"),
        (b"\xff\xfe", "not a plan file: not UTF-8 at byte 0"),
    ],
)
def test_bytes_that_are_not_a_plan(project: Path, run: Run, tmp_path: Path, content: str | bytes, message: str) -> None:
    plan_file = tmp_path / "plan.json"
    if isinstance(content, bytes):
        plan_file.write_bytes(content)
    else:
        plan_file.write_text(content)
    outcome = run(project, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (1, f"error: {plan_file}: {message}\n")


def test_an_instant_that_is_not_one_is_refused(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["at"] = "garbage"
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (1, f"error: {plan_file}: at: 'garbage' is not an instant with a zone\n")


def test_a_folder_is_not_a_plan(project: Path, run: Run, tmp_path: Path) -> None:
    outcome = run(project, "apply", str(tmp_path))
    assert (outcome.code, outcome.err) == (
        1, f"error: {tmp_path}: cannot read the file: Is a directory\n"
    )


KEY = "3f" * 32  # what `secrets.token_hex(32)` gives


def _require_signed(live: Path) -> None:
    config = live / "reconciler.toml"
    config.write_text(config.read_text().replace("require_signed_plans = false", "require_signed_plans = true"))


def test_a_signed_plan_is_applied(live: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_PLAN_KEY", KEY)
    _require_signed(live)
    plan_file, document = _saved(live, run, tmp_path)
    assert document["signature"].startswith("hmac-sha256:")
    outcome = run(live, "apply", str(plan_file))
    assert outcome.code == 0, outcome.err
    assert KEY not in outcome.out + outcome.err + plan_file.read_text()


def test_a_forged_plan_with_its_id_recomputed_fails_the_signature(
    live: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_PLAN_KEY", KEY)
    plan_file, document = _saved(live, run, tmp_path)
    document["changes"][0]["desired"]["debit_limit"] = "999999"
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (1, (
        f"error: {plan_file}: signature: does not match: the plan was changed after it was signed, "
        "or signed with another key; make a new plan\n"
    ))


def test_an_unsigned_plan_is_refused_where_signatures_are_required(
    live: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file, document = _saved(live, run, tmp_path)  # no key: not signed
    assert "signature" not in document
    _require_signed(live)
    monkeypatch.setenv("RECONCILER_PLAN_KEY", KEY)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.err) == (1, (
        f"error: {plan_file}: signature: the plan is not signed, and reconciler.toml requires signed plans "
        "(safety.require_signed_plans); make it with `reconciler plan --out` where the signing key is set\n"
    ))


def test_a_plan_signed_with_another_key_is_refused(
    live: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_PLAN_KEY", KEY)
    plan_file, _ = _saved(live, run, tmp_path)
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "a1" * 32)
    outcome = run(live, "apply", str(plan_file))
    assert outcome.code == 1
    assert "signature: does not match" in outcome.err


def test_required_signatures_without_a_key_say_which_variable(live: Path, run: Run, tmp_path: Path) -> None:
    _require_signed(live)
    outcome = run(live, "plan", "--out", str(tmp_path / "plan.json"))
    assert (outcome.code, outcome.err) == (1, (
        "error: reconciler.toml requires signed plans (safety.require_signed_plans), but RECONCILER_PLAN_KEY "
        "is not set: set it to the signing key (a CI secret), the same where plans are made and applied\n"
    ))
    assert not (tmp_path / "plan.json").exists()


def test_a_short_key_is_refused_without_showing_it(
    live: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "hunter2")
    outcome = run(live, "plan", "--out", str(tmp_path / "plan.json"))
    assert (outcome.code, outcome.err) == (1, (
        "error: RECONCILER_PLAN_KEY is too short to sign plans with (7 bytes; at least 32): make one with "
        "`python -c 'import secrets; print(secrets.token_hex(32))'`\n"
    ))


def test_a_plan_saved_by_another_version_says_so(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file, document = _saved(live, run, tmp_path)
    document["format"] = 4  # before a create's changes left the plan's id
    _forge(plan_file, document)
    outcome = run(live, "apply", str(plan_file))
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == (
        f"error: {plan_file}: format: a plan of format 4, saved by another version of reconciler; this one reads "
        "format 5: make the plan again with this version\n"
    )
