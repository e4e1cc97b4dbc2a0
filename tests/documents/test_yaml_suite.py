"""The YAML conformance suite (yaml-test-suite) through `parse_yaml`.

Every case: nothing but InvalidInput escapes; inputs marked `error` are rejected; an
input we accept reads exactly as its in.json. We refuse some valid YAML on purpose
(non-standard tags, duplicate or non-string keys, several documents, ...): those
refusals must say so in one of our own messages, and are otherwise fine.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.documents.loader import parse_yaml
from reconciler.documents.yaml12 import parse_yaml_bytes, parse_yaml_data
from reconciler.errors import InvalidInput

SUITE = Path(__file__).resolve().parent / "yaml-test-suite"  # a copy; see its README.md

# What our messages say when we refuse valid YAML on purpose.
DELIBERATE = (
    "is not allowed: a file holds only plain scalars",
    "keys must be strings",
    "duplicate key",
    "a second YAML document starts here",
    "the file holds no YAML document",
    "merge keys (<<) are not supported",
    "refers to the node that contains it",
    "does not fit a",
)


# libyaml (PyYAML's C parser) is a YAML 1.1 parser with known gaps in exotic syntax: tabs
# as separation, flow keys on several lines, `?` and `:` starting flow scalars, unknown
# directives. These it refuses with a syntax error, although they are valid YAML 1.2.
LIBYAML_REFUSES = frozenset(
    {
        "2JQS", "2LFX", "2SXE", "4ABK", "4MUZ/00", "4MUZ/01", "4MUZ/02", "58MP", "5MUD",
        "5T43", "6BCT", "6CA3", "6LVF", "6M2F", "7Z25", "8XYN", "96NN/00", "96NN/01", "9SA2",
        "A2M4", "BEC7", "CFD4", "DBG4", "DK3J", "DK95/00", "DK95/03", "DK95/04", "FP8R",
        "FRK4", "HM87/00", "HWV9", "K3WX", "M2N8/00", "M7A3", "MUS6/05", "MUS6/06", "NHX8",
        "NJ66", "NKF9", "Q5MG", "QT73", "R4YG", "S3PD", "SM9W/01", "UKK6/00", "UT92",
        "VJP3/01", "W4TN", "W5VH", "Y79Y/001", "Y79Y/010",
    }
)  # fmt: skip
# These it gets wrong: invalid YAML it accepts, and valid YAML it reads differently from
# the spec (a `?` starting a flow key, an anchor with a colon, trailing spaces after a
# block scalar). Strict: when a libyaml release fixes one, the test says so.
LIBYAML_WRONG = {
    **dict.fromkeys(
        ("9C9N", "9JBA", "CVW2", "DK95/01", "G5U8", "MUS6/00", "QB6E", "S98Z", "SU5Z", "X4QW",
         "Y79Y/003", "YJV2"),
        "libyaml accepts this invalid YAML",
    ),
    **dict.fromkeys(("652Z", "HM87/01", "JEF9/02", "L24T/01", "Y2GN"), "libyaml misreads this valid YAML"),
}  # fmt: skip


def _cases() -> list[Any]:
    if not SUITE.is_dir():
        return []
    params = []
    for case in sorted(in_yaml.parent for in_yaml in SUITE.rglob("in.yaml")):
        name = case.relative_to(SUITE).as_posix()
        wrong = LIBYAML_WRONG.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=wrong)] if wrong else []
        params.append(pytest.param(case, id=name, marks=marks))
    return params


CASES = _cases()


def test_suite_is_there() -> None:
    assert len(CASES) == 402, f"the YAML test suite at {SUITE} should hold 402 cases, not {len(CASES)}"


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder(parse_float=Decimal)
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return documents
        document, position = decoder.raw_decode(text, position)
        documents.append(document)


def _same(ours: Any, expected: Any) -> bool:
    """Equal, with bool, null and string kept apart from numbers (Python's 1 == True is not)."""
    if isinstance(expected, dict):
        return (
            isinstance(ours, dict)
            and ours.keys() == expected.keys()
            and all(_same(ours[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(ours, list)
            and len(ours) == len(expected)
            and all(_same(mine, theirs) for mine, theirs in zip(ours, expected, strict=True))
        )
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return type(ours) is type(expected) and ours == expected
    return type(ours) in (int, Decimal) and ours == expected


@pytest.mark.parametrize("case", CASES)
def test_case(case: Path) -> None:
    text = (case / "in.yaml").read_bytes().decode("utf-8")
    try:
        value = parse_yaml(text, case / "in.yaml")
    except InvalidInput as exc:
        if (case / "error").exists():
            return
        if case.relative_to(SUITE).as_posix() in LIBYAML_REFUSES:
            assert "YAML syntax error" in str(exc)
            return
        assert any(reason in str(exc) for reason in DELIBERATE), f"valid YAML refused: {exc}"
        return
    assert case.relative_to(SUITE).as_posix() not in LIBYAML_REFUSES, "libyaml reads this now: drop it from the list"
    assert not (case / "error").exists(), f"invalid YAML accepted as {value[0]!r}"
    in_json = case / "in.json"
    if in_json.exists():
        documents = _json_documents(in_json.read_text(encoding="utf-8"))
        if len(documents) == 1:
            assert _same(value[0], documents[0]), f"read {value[0]!r}, in.json says {documents[0]!r}"


def _read(read: Any, source: bytes, path: Path) -> tuple[str, str]:
    """What READ makes of SOURCE, spelt so two readers compare: its value with every type
    named (repr), or its problems."""
    try:
        return "value", repr(read(source, path))
    except InvalidInput as exc:
        return "problems", str(exc)


@pytest.mark.parametrize("case", [pytest.param(case.values[0], id=case.id) for case in CASES])
def test_the_lean_pass_reads_what_the_full_one_reads(case: Path) -> None:
    """`parse_yaml_data` (no positions, one pass over what files hold) against the full
    composer on every case of the suite, libyaml's misreadings included: the same value, or
    the same problems."""
    source, path = (case / "in.yaml").read_bytes(), case / "in.yaml"
    assert _read(parse_yaml_data, source, path) == _read(lambda *read: parse_yaml_bytes(*read)[0], source, path)
