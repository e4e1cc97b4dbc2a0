from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.documents.loader import (
    MAX_FILE_BYTES,
    LoadedDocument,
    Mark,
    load_document,
    parse_yaml,
)
from reconciler.errors import InvalidInput

SYNTAX_HINT = "check the indentation, colons and quotes here"
DUPLICATE_HINT = "a key may appear only once in a mapping, remove one of them"
TAG_HINT = "is not allowed: a file holds only plain scalars, mappings and sequences; remove the tag"
KEY_HINT = "not a string; keys must be strings, so quote it if it is meant as text"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load(tmp_path: Path, name: str, content: str | bytes) -> LoadedDocument:
    return load_document(write(tmp_path, name, content))


def problems(tmp_path: Path, name: str, content: str | bytes) -> list[str]:
    path = write(tmp_path, name, content)
    with pytest.raises(InvalidInput) as caught:
        load_document(path)
    return [str(problem).replace(f"{path}:", "FILE:", 1) for problem in caught.value.problems]


# --- failures -----------------------------------------------------------------------------


def test_yaml_syntax_error_is_the_one_problem(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "name: Acme\nchannels: [10, 20\nstatus: active\n") == [
        "FILE:3:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
        f"sequence at line 2, column 11); {SYNTAX_HINT}"
    ]


def test_every_duplicate_key_is_reported_with_both_lines(tmp_path: Path) -> None:
    text = "name: Acme\nconfig:\n  tags: [a]\n  tags: [b]\nname: Other\n"
    assert problems(tmp_path, "acme.yaml", text) == [
        f"FILE:4:3: config.tags: duplicate key 'tags' (lines 3 and 4); {DUPLICATE_HINT}",
        f"FILE:5:1: name: duplicate key 'name' (lines 1 and 5); {DUPLICATE_HINT}",
    ]


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    assert problems(tmp_path, "bomb.yaml", "\n".join(levels) + "\n") == [
        "FILE:5:40: e[8]: aliases expand the document to more than 100000 values (an alias bomb?); "
        "write the values out instead"
    ]


def test_too_many_aliases(tmp_path: Path) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert problems(tmp_path, "acme.yaml", text) == [
        "FILE:2:405: b[100]: the document uses more than 100 aliases; write the values out instead"
    ]


def test_recursive_alias(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "config: &config\n  tags: *config\n") == [
        "FILE:2:9: config.tags: alias *config refers to the node that contains it (a recursive "
        "structure); a file must be a tree, remove the alias"
    ]


def test_python_tag_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "name: !!python/object/apply:os.system [echo hi]\n") == [
        f"FILE:1:7: name: the tag !!python/object/apply:os.system {TAG_HINT}"
    ]


def test_custom_and_timestamp_tags_are_refused(tmp_path: Path) -> None:
    text = "name: Acme\nchannels: !count 10\nsince: !!timestamp 2026-01-01\n"
    assert problems(tmp_path, "acme.yaml", text) == [
        f"FILE:2:11: channels: the tag !count {TAG_HINT}",
        f"FILE:3:8: since: the tag !!timestamp {TAG_HINT}",
    ]


def test_standard_tag_that_does_not_fit(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "channels: !!int ten\ntags: !!map [a]\n") == [
        "FILE:1:11: channels: 'ten' is not an integer, as its tag !!int says; fix the value or remove the tag",
        "FILE:2:7: tags: the tag !!map does not fit a sequence; remove the tag",
    ]


def test_merge_key_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "base: &base {a: 1}\nother:\n  <<: *base\n") == [
        "FILE:3:3: other: merge keys (<<) are not supported; write the fields out in full"
    ]


def test_document_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "- name: Acme\n") == [
        "FILE:1:1: the document is a sequence, not a mapping; write it as 'key: value' lines"
    ]


def test_several_documents(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "name: Acme\n---\nname: Other\n") == [
        "FILE:2:1: a second YAML document starts here; a file holds exactly one document, remove "
        "the '---' line and what follows or move it to its own file"
    ]


@pytest.mark.parametrize("name", ["acme.yaml", "acme.toml"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert problems(tmp_path, name, "\n  \n") == ["FILE: the file is empty; write the document in it"]


def test_comments_only(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "# nothing yet\n") == [
        "FILE: the file holds no YAML document, only comments or blank lines; write the document in it"
    ]


def test_invalid_utf8(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", b"name: Acme\ncity: M\xfcnchen\n") == [
        "FILE:2:8: the file is not valid UTF-8: byte 0xfc at offset 18 cannot be decoded; save the file as UTF-8"
    ]


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    content = b"name: Acme\n" + b"# padding\n" * (MAX_FILE_BYTES // 10)
    assert problems(tmp_path, "acme.yaml", content) == [
        f"FILE: the file is {len(content)} bytes, more than the 1048576 (1 MiB) allowed; split it or trim it"
    ]
    with pytest.raises(InvalidInput, match="more than the 1048576"):
        load_document(Path("acme.yaml"), content)


def test_keys_must_be_strings(tmp_path: Path) -> None:
    text = "name: Acme\n1: one\nnull: nothing\n? [a, b]\n: list\n"
    assert problems(tmp_path, "acme.yaml", text) == [
        f"FILE:2:1: the key '1' is read as an integer, {KEY_HINT}",
        f"FILE:3:1: the key 'null' is read as null, {KEY_HINT}",
        "FILE:4:3: this key is a sequence, not a string; keys must be strings",
    ]


def test_unknown_suffix(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.json", "{}") == [
        "FILE: '.json' files are not read; write the document as .yaml, .yml or .toml"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_document(tmp_path / "acme.yaml")
    assert str(caught.value) == f"{tmp_path / 'acme.yaml'}: cannot read the file: No such file or directory"


def test_toml_syntax_error(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", 'name = "Acme"\nchannels = \n') == [
        "FILE:2:12: TOML syntax error: invalid value; fix the syntax here"
    ]


def test_toml_syntax_error_at_end_of_document(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", 'name = "Acme') == [
        "FILE:1:13: TOML syntax error: unterminated string; fix the syntax here"
    ]


def test_toml_duplicate_keys_and_tables(tmp_path: Path) -> None:
    text = 'name = "Acme"\n[config]\ntags = ["a"]\ntags = ["b"]\n[address]\n[config]\n'
    assert problems(tmp_path, "acme.toml", text) == [
        "FILE:4:1: config.tags: key 'tags' is set twice (lines 3 and 4); keep only one",
        "FILE:6:2: config: table [config] is declared twice (lines 2 and 6); keep only one",
    ]


def test_parse_yaml_refuses_a_lone_surrogate() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_yaml("a: \ud800\n", Path("x.yaml"))
    assert str(caught.value) == (
        "x.yaml:1:4: the text holds a lone surrogate (U+D800), which is not a character; remove it"
    )


def test_control_character(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "name: Ac\x01me\n") == [
        "FILE:1:9: YAML does not allow the character U+0001 (control characters are not allowed); "
        "remove it or write it as an escape in a double-quoted string"
    ]


# --- what YAML 1.2 reads ------------------------------------------------------------------


def test_core_schema_scalars(tmp_path: Path) -> None:
    text = (
        "country: NO\nyes: yes\non: on\noff: off\nfrom: 08:00\nwhen: 2026-12-01\n"
        "limit: 1.50\nhex: 0x1F\noctal: 0o17\nplus: +12\nexp: 1e3\ninf: -.inf\n"
        "yes_bool: true\nno_bool: FALSE\nnothing: ~\nempty:\nquoted: '12'\nstr: !!str 12\n"
        "nonspecific: ! 12\nfloat: !!float 1\n"
    )
    assert load(tmp_path, "acme.yaml", text).data == {
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


def test_decimal_keeps_the_exact_text(tmp_path: Path) -> None:
    limit = load(tmp_path, "acme.yaml", "debit_limit: 1.50\n").data["debit_limit"]
    assert type(limit) is Decimal
    assert str(limit) == "1.50"


def test_marks_and_key_marks(tmp_path: Path) -> None:
    text = "# schema\nname: Acme\nconfig:\n  tags:\n    - wholesale\n    - tier-1\n  invoice: {due_days: 30}\n"
    document = load(tmp_path, "acme.yaml", text)
    assert document.marks[()] == Mark(2, 1)
    assert document.marks[("name",)] == Mark(2, 7)
    assert document.key_marks[("name",)] == Mark(2, 1)
    assert document.marks[("config", "tags")] == Mark(5, 5)
    assert document.key_marks[("config", "tags")] == Mark(4, 3)
    assert document.marks[("config", "tags", 1)] == Mark(6, 7)
    assert document.marks[("config", "invoice", "due_days")] == Mark(7, 23)
    assert document.key_marks[("config", "invoice", "due_days")] == Mark(7, 13)
    assert document.locate(("config", "tags", 1)) == Mark(6, 7)
    assert document.locate(("config", "invoice", "schedule")) == Mark(7, 12)
    assert document.locate(("config", "tags"), key=True) == Mark(4, 3)
    assert document.locate(("config", "tags", 1), key=True) == Mark(6, 7)
    assert document.locate(("unknown",)) == Mark(2, 1)


def test_block_scalars(tmp_path: Path) -> None:
    text = 'config:\n  vars: |\n    region = "eu"\n  note: >\n    folded\n  tag: plain\n'
    document = load(tmp_path, "acme.yaml", text)
    assert document.block_scalars == frozenset({("config", "vars"), ("config", "note")})
    assert document.marks[("config", "vars")] == Mark(2, 9)
    assert document.data["config"]["vars"] == 'region = "eu"\n'


def test_aliases_are_copies(tmp_path: Path) -> None:
    document = load(tmp_path, "acme.yaml", "a: &tags [x]\nb: *tags\n")
    assert document.data == {"a": ["x"], "b": ["x"]}
    assert document.data["a"] is not document.data["b"]
    assert document.marks[("b",)] == Mark(2, 4)


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    document = load(tmp_path, "acme.yaml", b"\xef\xbb\xbfname: Acme\n")
    assert document.data == {"name": "Acme"}
    assert document.marks[("name",)] == Mark(1, 7)


def test_parse_yaml_reads_any_single_document() -> None:
    value, marks, key_marks, blocks = parse_yaml("- 1\n- two\n", Path("x.yaml"))
    assert (value, marks, key_marks, blocks) == ([1, "two"], {(): Mark(1, 1), (0,): Mark(1, 3), (1,): Mark(2, 3)}, {}, frozenset())


# --- TOML ---------------------------------------------------------------------------------

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


# --- robustness ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-?[]{},&*!|>'\"#\n\t .=01%<~\\")), max_size=60))
def test_no_yaml_or_toml_input_crashes(text: str) -> None:
    for name in ("fuzz.yaml", "fuzz.toml"):
        with contextlib.suppress(InvalidInput):
            load_document(Path(name), text.encode("utf-8"))


def test_toml_scan_moves_past_a_stray_brace(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.toml", "tags = [0}]\n") == [
        "FILE:1:10: TOML syntax error: unclosed array; fix the syntax here"
    ]
