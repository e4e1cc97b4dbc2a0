"""TOML documents (`documents.toml`): values as tomli reads them with floats as Decimal,
syntax errors and keys set twice placed at their line, and the scan that finds positions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import tomli
import tomlkit
from document_files import load, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.documents.loader import Mark
from reconciler.documents.toml import _may_nest_deeper
from reconciler.documents.yaml12 import MAX_DEPTH, nesting

TOML = '''# schema
name = "Acme"
debit_limit = 1.50
"quoted key" = 1
address.city = "Oslo"

[config]
tags = [
  "wholesale",  # comment ]
  "tier-1",
]
vars = """
region = "eu"
"""

[config.invoice]
due_days = 30

[[day_time_restriction.windows]]
from = 08:00:00
[[day_time_restriction.windows]]
to = 17:00:00
'''


def test_toml_syntax_error(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", 'name = "Acme"\nchannels = \n') == [
        "FILE:2:12: TOML syntax error: invalid value; fix the syntax here"
    ]


def test_toml_syntax_error_at_end_of_document(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", 'name = "Acme') == [
        "FILE:1:13: TOML syntax error: unterminated string; fix the syntax here"
    ]


def test_toml_past_the_parser_limits(tmp_path: Path) -> None:
    too_deep = "the document nests more than 100 levels deep; flatten it"
    assert problems(tmp_path, "acme.toml", "a = " + "[" * 500 + "]" * 500 + "\n") == [f"FILE: {too_deep}"]
    assert problems(tmp_path, "acme.toml", "a" + ".a" * 2_000 + " = 1\n") == [f"FILE: {too_deep}"]
    assert problems(tmp_path, "acme.toml", "a" + ".a" * 200 + " = 1\n") == [f"FILE: {too_deep}"]
    assert problems(tmp_path, "acme.toml", "a = " + "9" * 5_000 + "\n") == [
        "FILE: the TOML holds a number too long to read (over 4300 digits); shorten it"
    ]


# Documents exactly MAX_DEPTH deep, and one level deeper, by each way TOML opens a level.
_AT_MOST = {
    "dotted key": lambda depth: "a" + ".a" * (depth - 1) + " = 1\n",
    "table header": lambda depth: "[" + ".".join(["a"] * (depth - 1)) + "]\nb = 1\n",
    "array": lambda depth: "a = " + "[" * (depth - 1) + "]" * (depth - 1) + "\n",
    "inline table": lambda depth: "a = " + "{b = " * (depth - 2) + "{}" + "}" * (depth - 2) + "\n",
    "array of tables": lambda depth: "[[" + ".".join(["a"] * (depth - 2)) + "]]\n",
}


def test_toml_nested_to_the_limit_and_past_it(tmp_path: Path) -> None:
    """At MAX_DEPTH a document reads; a level deeper it is refused, however the levels open."""
    for kind, text_of in _AT_MOST.items():
        assert nesting(load(tmp_path, "acme.toml", text_of(MAX_DEPTH)).data) == MAX_DEPTH, kind
        assert problems(tmp_path, "acme.toml", text_of(MAX_DEPTH + 1)) == [
            "FILE: the document nests more than 100 levels deep; flatten it"
        ], kind


_KEYS = st.text(alphabet="ab.[{ ", min_size=1, max_size=4)
_SCALARS = st.one_of(st.integers(), st.booleans(), st.text(alphabet="x.[{", max_size=3))
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=3)
    ),
    max_leaves=40,
)


def _inline(value: object) -> object:
    """VALUE for tomlkit to write on its key's line: its tables inline, not under headers."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update({key: _inline(item) for key, item in value.items()})
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_inline(item) for item in value)
        return array
    return value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=4), st.booleans())
def test_toml_levels_never_outnumber_the_characters_that_open_them(document: dict[str, object], inline: bool) -> None:
    """What spares a customer file the walk of its values (`_may_nest_deeper`): a document
    nests no deeper than one level for each `[`, `{` and `.` in its text, whether tomlkit
    writes its tables as headers or inline."""
    text = tomlkit.dumps({key: _inline(value) for key, value in document.items()} if inline else document)
    depth = nesting(tomli.loads(text))
    assert depth <= 1 + text.count("[") + text.count("{") + text.count(".")
    assert _may_nest_deeper(text) or depth <= MAX_DEPTH


def test_toml_duplicate_keys_and_tables(tmp_path: Path) -> None:
    text = 'name = "Acme"\n[config]\ntags = ["a"]\ntags = ["b"]\n[address]\n[config]\n'
    assert problems(tmp_path, "acme.toml", text) == [
        "FILE:4:1: config.tags: key 'tags' is set twice (lines 3 and 4); keep only one",
        "FILE:6:2: config: table [config] is declared twice (lines 2 and 6); keep only one",
    ]


def test_toml_values(tmp_path: Path) -> None:
    data = load(tmp_path, "acme.toml", TOML).data
    assert type(data["debit_limit"]) is Decimal
    assert str(data["debit_limit"]) == "1.50"
    assert data["day_time_restriction"]["windows"] == [{"from": dt.time(8)}, {"to": dt.time(17)}]
    assert data["config"]["vars"] == 'region = "eu"\n'


def test_toml_marks(tmp_path: Path) -> None:
    document = load(tmp_path, "acme.toml", TOML)
    assert document.marks[()] == Mark(1, 1)
    assert document.marks[("name",)] == Mark(2, 8)
    assert document.key_marks[("name",)] == Mark(2, 1)
    assert document.key_marks[("quoted key",)] == Mark(4, 1)
    assert document.key_marks[("address", "city")] == Mark(5, 9)
    assert document.marks[("address",)] == Mark(5, 1)
    assert document.marks[("config",)] == Mark(7, 1)
    assert document.key_marks[("config",)] == Mark(7, 2)
    assert document.marks[("config", "tags")] == Mark(8, 8)
    assert document.key_marks[("config", "tags")] == Mark(8, 1)
    assert document.marks[("config", "tags", 1)] == Mark(10, 3)
    assert document.key_marks[("config", "vars")] == Mark(12, 1)
    assert document.block_scalars == frozenset({("config", "vars")})
    assert document.key_marks[("config", "invoice", "due_days")] == Mark(17, 1)
    assert document.key_marks[("day_time_restriction", "windows", 0, "from")] == Mark(20, 1)
    assert document.key_marks[("day_time_restriction", "windows", 1, "to")] == Mark(22, 1)
    assert document.locate(("config", "invoice", "schedule")) == Mark(16, 1)


def test_toml_scan_moves_past_a_stray_brace(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", "tags = [0}]\n") == [
        "FILE:1:10: TOML syntax error: unclosed array; fix the syntax here"
    ]
