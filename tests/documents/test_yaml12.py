"""The YAML 1.2 composer (`documents.yaml12.parse_yaml`): core-schema scalars, the standard
tags, string keys once each, no merge keys, aliases within a budget, a depth and size limit,
and the position of every value and key. File handling (suffix, size, encoding, BOM, a
document that is not a mapping) is `documents.loader`'s, in test_loader.py."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from reconciler.documents.yaml12 import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_NODES,
    Mark,
    parse_yaml,
    parse_yaml_bytes,
    parse_yaml_data,
)
from reconciler.errors import InvalidInput

PATH = Path("acme.yaml")

SYNTAX_HINT = "check the indentation, colons and quotes here"
DUPLICATE_HINT = "a key may appear only once in a mapping, remove one of them"
TAG_HINT = "is not allowed: a file holds only plain scalars, mappings and sequences; remove the tag"
KEY_HINT = "not a string; keys must be strings, so quote it if it is meant as text"


def value(text: str) -> Any:
    return parse_yaml(text, PATH)[0]


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_yaml(text, PATH)
    return [str(problem).replace(f"{PATH}:", "FILE:", 1) for problem in caught.value.problems]


# --- scalars by the YAML 1.2 core schema ---------------------------------------------------


def test_core_schema_scalars() -> None:
    text = (
        "country: NO\nyes: yes\non: on\noff: off\nfrom: 08:00\nwhen: 2026-12-01\n"
        "limit: 1.50\nhex: 0x1F\noctal: 0o17\nplus: +12\nexp: 1e3\ninf: -.inf\n"
        "yes_bool: true\nno_bool: FALSE\nnothing: ~\nempty:\nquoted: '12'\nstr: !!str 12\n"
        "nonspecific: ! 12\nfloat: !!float 1\n"
    )
    assert value(text) == {
        "country": "NO",
        "yes": "yes",
        "on": "on",
        "off": "off",
        "from": "08:00",
        "when": "2026-12-01",
        "limit": Decimal("1.50"),
        "hex": 31,
        "octal": 15,
        "plus": 12,
        "exp": Decimal("1E+3"),
        "inf": Decimal("-Infinity"),
        "yes_bool": True,
        "no_bool": False,
        "nothing": None,
        "empty": None,
        "quoted": "12",
        "str": "12",
        "nonspecific": "12",
        "float": Decimal(1),
    }


def test_decimal_keeps_the_exact_text() -> None:
    limit = value("debit_limit: 1.50\n")["debit_limit"]
    assert type(limit) is Decimal
    assert str(limit) == "1.50"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML 1.1 spellings the core schema leaves as strings.
        ("Yes", "Yes"), ("Off", "Off"), ("y", "y"), ("n", "n"),
        ("0X1F", "0X1F"), ("0b101", "0b101"), ("1_000", "1_000"), ("12:30:00", "12:30:00"),
        ("2026-12-24T18:00:00Z", "2026-12-24T18:00:00Z"), ("0o8", "0o8"), ("0xG", "0xG"),
        # Numbers of the core schema.
        ("012", 12), ("-0", 0), ("+0x1F", "+0x1F"), (".5", Decimal("0.5")), ("1.", Decimal("1")),
        ("-2.50", Decimal("-2.50")), ("+.inf", Decimal("Infinity")), (".NaN", Decimal("NaN")),
        # Booleans and nulls: the three spellings each, no others.
        ("True", True), ("false", False), ("Null", None), ("NULL", None), ("nULL", "nULL"),
    ],
)
def test_plain_scalars_resolve_by_the_core_schema_only(text: str, expected: Any) -> None:
    resolved = value(f"a: {text}\n")["a"]
    if isinstance(expected, Decimal) and expected.is_nan():
        assert type(resolved) is Decimal and resolved.is_nan()
    else:
        assert (type(resolved), resolved) == (type(expected), expected)


def test_no_number_passes_through_float() -> None:
    data = value("a: 0.1\nb: 1e-4\nc: 100000000000000000000.0001\n")
    assert [type(item) for item in data.values()] == [Decimal, Decimal, Decimal]
    assert [str(item) for item in data.values()] == ["0.1", "0.0001", "100000000000000000000.0001"]


def test_standard_tags_convert_what_fits() -> None:
    data = value("a: !!int 0x1F\nb: !!float 0o17\nc: !!null ''\nd: !!bool True\ne: !!str yes\nf: !!seq [1]\ng: !!map {h: 1}\n")
    assert data == {"a": 31, "b": Decimal(15), "c": None, "d": True, "e": "yes", "f": [1], "g": {"h": 1}}
    assert type(data["b"]) is Decimal


def test_a_standard_tag_on_a_value_that_does_not_fit() -> None:
    assert problems("a: !!bool yes\nb: !!null x\nc: !!float ''\nd: !!str {e: 1}\n") == [
        "FILE:1:4: a: 'yes' is not a boolean, as its tag !!bool says; fix the value or remove the tag",
        "FILE:2:4: b: 'x' is not null, as its tag !!null says; fix the value or remove the tag",
        "FILE:3:4: c: '' is not a number, as its tag !!float says; fix the value or remove the tag",
        "FILE:4:4: d: the tag !!str does not fit a mapping; remove the tag",
    ]


def test_a_long_value_is_cut_short_in_the_message() -> None:
    assert problems("a: !!int '" + "x" * 50 + "'\n") == [
        "FILE:1:4: a: '" + "x" * 37 + "...' is not an integer, as its tag !!int says; fix the value or remove the tag"
    ]


def test_a_number_too_long_to_convert_is_refused() -> None:
    assert problems("a: " + "1" * 4301 + "\n") == [
        "FILE:1:4: a: the number '11111111111111111111...' has more than 4300 digits; quote it if it is meant as text"
    ]
    assert value("a: '" + "1" * 4301 + "'\n")["a"] == "1" * 4301


def test_python_tag_is_refused() -> None:
    assert problems("name: !!python/object/apply:os.system [echo hi]\n") == [
        f"FILE:1:7: name: the tag !!python/object/apply:os.system {TAG_HINT}"
    ]


def test_custom_and_timestamp_tags_are_refused() -> None:
    text = "name: Acme\nchannels: !count 10\nsince: !!timestamp 2026-01-01\n"
    assert problems(text) == [
        f"FILE:2:11: channels: the tag !count {TAG_HINT}",
        f"FILE:3:8: since: the tag !!timestamp {TAG_HINT}",
    ]


def test_binary_tag_is_refused() -> None:
    assert problems("a: !!binary aGk=\n") == [f"FILE:1:4: a: the tag !!binary {TAG_HINT}"]


def test_standard_tag_that_does_not_fit() -> None:
    assert problems("channels: !!int ten\ntags: !!map [a]\n") == [
        "FILE:1:11: channels: 'ten' is not an integer, as its tag !!int says; fix the value or remove the tag",
        "FILE:2:7: tags: the tag !!map does not fit a sequence; remove the tag",
    ]


# --- keys ----------------------------------------------------------------------------------


def test_every_duplicate_key_is_reported_with_both_lines() -> None:
    text = "name: Acme\nconfig:\n  tags: [a]\n  tags: [b]\nname: Other\n"
    assert problems(text) == [
        f"FILE:4:3: config.tags: duplicate key 'tags' (lines 3 and 4); {DUPLICATE_HINT}",
        f"FILE:5:1: name: duplicate key 'name' (lines 1 and 5); {DUPLICATE_HINT}",
    ]


def test_a_duplicate_key_inside_a_sequence_names_the_item() -> None:
    assert problems("a:\n  - b: 1\n    b: 2\n  - c\n") == [
        f"FILE:3:5: a[0].b: duplicate key 'b' (lines 2 and 3); {DUPLICATE_HINT}"
    ]
    assert problems("- {a: 1, a: 2}\n") == [f"FILE:1:10: [0].a: duplicate key 'a' (lines 1 and 1); {DUPLICATE_HINT}"]


def test_keys_must_be_strings() -> None:
    text = "name: Acme\n1: one\nnull: nothing\n? [a, b]\n: list\n"
    assert problems(text) == [
        f"FILE:2:1: the key '1' is read as an integer, {KEY_HINT}",
        f"FILE:3:1: the key 'null' is read as null, {KEY_HINT}",
        "FILE:4:3: this key is a sequence, not a string; keys must be strings",
    ]


def test_boolean_number_and_mapping_keys_are_refused_and_quoted_ones_read() -> None:
    assert problems("true: x\n1.5: y\n? {a: 1}\n: z\n") == [
        f"FILE:1:1: the key 'true' is read as a boolean, {KEY_HINT}",
        f"FILE:2:1: the key '1.5' is read as a number, {KEY_HINT}",
        "FILE:3:3: this key is a mapping, not a string; keys must be strings",
    ]
    assert value("'1': x\n'true': y\n") == {"1": "x", "true": "y"}


def test_inside_a_refused_key_nothing_more_is_reported() -> None:
    # The value of a refused key is read and dropped: its own duplicates are not reported.
    assert problems("1: {a: 1, a: 2}\n") == [f"FILE:1:1: the key '1' is read as an integer, {KEY_HINT}"]


def test_merge_key_is_refused() -> None:
    assert problems("base: &base {a: 1}\nother:\n  <<: *base\n") == [
        "FILE:3:3: other: merge keys (<<) are not supported; write the fields out in full"
    ]


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert value("'<<': 1\n") == {"<<": 1}


# --- aliases -------------------------------------------------------------------------------


def test_aliases_are_copies() -> None:
    data, marks, _, _ = parse_yaml("a: &tags [x]\nb: *tags\n", PATH)
    assert data == {"a": ["x"], "b": ["x"]}
    assert data["a"] is not data["b"]
    assert marks[("b",)] == Mark(2, 4)


def test_an_alias_within_the_budget_is_read() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n"
    assert value(text)["b"] == ["x"] * 100


def test_too_many_aliases() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert problems(text) == [
        "FILE:2:405: b[100]: the document uses more than 100 aliases; write the values out instead"
    ]


def test_alias_bomb_fails_fast() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    assert problems("\n".join(levels) + "\n") == [
        "FILE:5:40: e[8]: aliases expand the document to more than 100000 values (an alias bomb?); "
        "write the values out instead"
    ]


def test_recursive_alias() -> None:
    assert problems("config: &config\n  tags: *config\n") == [
        "FILE:2:9: config.tags: alias *config refers to the node that contains it (a recursive "
        "structure); a file must be a tree, remove the alias"
    ]


def test_an_alias_without_its_anchor() -> None:
    assert problems("a: *nope\n") == [
        "FILE:1:4: a: alias *nope has no anchor &nope before it; define the anchor first or write the value out"
    ]


# --- limits --------------------------------------------------------------------------------


def test_nesting_up_to_the_depth_limit_is_read() -> None:
    nested = value("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    depth = 0
    while isinstance(nested, list):
        nested = nested[0] if nested else None
        depth += 1
    assert depth == 100


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    text = "a: " + "{b: " * MAX_DEPTH + "1" + "}" * MAX_DEPTH + "\n"
    assert problems(text) == [
        f"FILE:1:400: a{'.b' * 99}: the document nests more than 100 levels deep; flatten it"
    ]
    assert problems("[" * 101 + "]" * 101) == [
        f"FILE:1:101: {'[0]' * 100}: the document nests more than 100 levels deep; flatten it"
    ]


def test_a_document_of_more_values_than_the_limit_is_refused() -> None:
    assert len(value("[" + ", ".join(["0"] * (MAX_NODES - 1)) + "]")) == 99_999
    assert problems("[" + ", ".join(["0"] * MAX_NODES) + "]") == [
        "FILE:1:299999: [99999]: the document holds more than 100000 values; split it"
    ]


# --- documents and syntax ------------------------------------------------------------------


def test_yaml_syntax_error_is_the_one_problem() -> None:
    assert problems("name: Acme\nchannels: [10, 20\nstatus: active\n") == [
        "FILE:3:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
        f"sequence at line 2, column 11); {SYNTAX_HINT}"
    ]


def test_several_documents() -> None:
    assert problems("name: Acme\n---\nname: Other\n") == [
        "FILE:2:1: a second YAML document starts here; a file holds exactly one document, remove "
        "the '---' line and what follows or move it to its own file"
    ]


def test_comments_only() -> None:
    assert problems("# nothing yet\n") == [
        "FILE: the file holds no YAML document, only comments or blank lines; write the document in it"
    ]


def test_parse_yaml_refuses_a_lone_surrogate() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_yaml("a: \ud800\n", Path("x.yaml"))
    assert str(caught.value) == (
        "x.yaml:1:4: the text holds a lone surrogate (U+D800), which is not a character; remove it"
    )


def test_control_character() -> None:
    assert problems("name: Ac\x01me\n") == [
        "FILE:1:9: YAML does not allow the character U+0001 (control characters are not allowed); "
        "remove it or write it as an escape in a double-quoted string"
    ]


def test_parse_yaml_reads_any_single_document() -> None:
    data, marks, key_marks, blocks = parse_yaml("- 1\n- two\n", Path("x.yaml"))
    assert (data, marks, key_marks, blocks) == ([1, "two"], {(): Mark(1, 1), (0,): Mark(1, 3), (1,): Mark(2, 3)}, {}, frozenset())


def test_a_scalar_document() -> None:
    assert parse_yaml("  42\n", PATH) == (42, {(): Mark(1, 3)}, {}, frozenset())


# --- positions -----------------------------------------------------------------------------


def test_marks_and_key_marks() -> None:
    text = "# schema\nname: Acme\nconfig:\n  tags:\n    - wholesale\n    - tier-1\n  invoice: {due_days: 30}\n"
    _, marks, key_marks, _ = parse_yaml(text, PATH)
    assert marks[()] == Mark(2, 1)
    assert marks[("name",)] == Mark(2, 7)
    assert key_marks[("name",)] == Mark(2, 1)
    assert marks[("config", "tags")] == Mark(5, 5)
    assert key_marks[("config", "tags")] == Mark(4, 3)
    assert marks[("config", "tags", 1)] == Mark(6, 7)
    assert marks[("config", "invoice")] == Mark(7, 12)
    assert marks[("config", "invoice", "due_days")] == Mark(7, 23)
    assert key_marks[("config", "invoice", "due_days")] == Mark(7, 13)


def test_every_value_and_key_has_a_mark() -> None:
    text = "a: [b, &c [d], *c]\ne:\n  - f: 1\n    g: ~\n"
    data, marks, key_marks, blocks = parse_yaml(text, PATH)
    assert data == {"a": ["b", ["d"], ["d"]], "e": [{"f": 1, "g": None}]}
    assert marks == {
        (): Mark(1, 1),
        ("a",): Mark(1, 4),
        ("a", 0): Mark(1, 5),
        ("a", 1): Mark(1, 8),
        ("a", 1, 0): Mark(1, 12),
        ("a", 2): Mark(1, 16),
        ("e",): Mark(3, 3),
        ("e", 0): Mark(3, 5),
        ("e", 0, "f"): Mark(3, 8),
        ("e", 0, "g"): Mark(4, 8),
    }
    assert key_marks == {
        ("a",): Mark(1, 1), ("e",): Mark(2, 1), ("e", 0, "f"): Mark(3, 5), ("e", 0, "g"): Mark(4, 5),
    }
    assert blocks == frozenset()


def test_block_scalars() -> None:
    text = 'config:\n  vars: |\n    region = "eu"\n  note: >\n    folded\n  tag: plain\n'
    data, marks, _, blocks = parse_yaml(text, PATH)
    assert blocks == frozenset({("config", "vars"), ("config", "note")})
    assert marks[("config", "vars")] == Mark(2, 9)
    assert data["config"]["vars"] == 'region = "eu"\n'


def test_block_scalars_in_a_sequence_with_chomping_indicators() -> None:
    data, marks, _, blocks = parse_yaml("- |-\n  text\n- >+\n  folded\n\n- 'quoted'\n- \"double\"\n", PATH)
    assert data == ["text", "folded\n\n", "quoted", "double"]
    assert blocks == frozenset({(0,), (1,)})
    assert (marks[(0,)], marks[(1,)], marks[(2,)]) == (Mark(1, 3), Mark(3, 3), Mark(6, 3))


# --- the lean pass: the value alone -----------------------------------------------------

LEAN_CASES = [
    "name: Acme\nchannels: 30\nlimit: 12.50\ntags: [a, b]\nnotes: |\n  two\n  lines\n",
    "quoted: 'x'\ndouble: \"0x1F\"\nnon_specific: ! 12\nempty:\n",
    "a: &anchor 1\nb: *anchor\n",  # anchors and aliases: the full composer's
    "a: !!int 3\n",  # a tag
    "a: 1\na: 2\n",  # a duplicate key
    "<<: {a: 1}\n'<<': quoted\n",  # a merge key, and a key that only looks like one
    "1: one\n",  # a key that is not a string
    "[a]: b\n",
    "a: 1\n---\nb: 2\n",  # a second document
    "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
    "a: " + "9" * 5000 + "\n",
    "a: [" + "1, " * MAX_NODES + "]\n",
    "- a\n- b\n",
    "a: [unclosed\n",
]


def _either(read: Any, source: bytes) -> tuple[str, str]:
    try:
        return "value", repr(read(source, PATH))
    except InvalidInput as exc:
        return "problems", str(exc)


@pytest.mark.parametrize("text", LEAN_CASES)
def test_the_lean_pass_reads_what_the_composer_reads(text: str) -> None:
    source = text.encode()
    assert _either(parse_yaml_data, source) == _either(lambda *read: parse_yaml_bytes(*read)[0], source)


def test_every_yaml_file_of_the_project_reads_the_same_both_ways() -> None:
    files = [*REPO.glob("customers.d/*.y*ml"), *REPO.glob("plans/*.y*ml"), *(REPO / "tests").rglob("*.y*ml")]
    assert len(files) > 100
    for path in files:
        source = path.read_bytes()
        assert _either(parse_yaml_data, source) == _either(lambda *read: parse_yaml_bytes(*read)[0], source), path


def test_a_customer_file_is_read_in_the_lean_pass_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """What files hold takes no second pass: the full composer is not run for an example."""
    from reconciler.documents import yaml12

    def refused(*_: Any) -> Any:
        raise AssertionError("the full composer ran")

    monkeypatch.setattr(yaml12, "_compose", refused)
    for path in REPO.glob("customers.d/*.yaml"):
        assert type(parse_yaml_data(path.read_bytes(), path)) is dict
