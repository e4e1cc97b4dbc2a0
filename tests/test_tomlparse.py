"""`parse_toml` reads TOML as tomli reads it: the same value, or the same error.

toml_rs reads where it can and tomli judges the rest, so each case is read by both
`parse_toml` and tomli alone; the outcomes must be equal, to the type of every value and
the order of every table's keys. Separately, the fast parser must do the reading where it
can: with tomli unable to read anything, every valid case of TOML 1.0 still reads.
"""

from __future__ import annotations

import codecs
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import tomlparse
from reconciler.tomlparse import parse_toml

SUITE = Path(__file__).resolve().parent / "documents" / "toml-test"  # a copy; see its README.md


def _cases(version: str) -> list[str]:
    listed = (SUITE / f"files-toml-{version}").read_text(encoding="utf-8").split()
    return [name for name in listed if name.endswith(".toml")]


TOML_1_0 = _cases("1.0.0")
# Cases of TOML 1.1 only (`\e`, `\xHH`, newlines in inline tables, seconds left out, ...):
# a TOML 1.0 reader refuses most of them, and must refuse each as tomli does.
TOML_1_1_ONLY = sorted(set(_cases("1.1.0")) - set(TOML_1_0))


def _text(name: str) -> str | None:
    """The case as the loader hands it to the parser: without the byte order mark a file
    may start with; None when its bytes are not UTF-8 (the loader refuses those itself)."""
    content = (SUITE / name).read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _typed(value: Any) -> Any:
    """VALUE with the type of every part spelled out, so that equal means the same values
    of the same types, tables' keys in the same order (1 == 1.0 == True would not do)."""
    if isinstance(value, dict):
        return ("table", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("array", [_typed(item) for item in value])
    if isinstance(value, dt.datetime | dt.time):
        return (type(value).__name__, value.isoformat(), value.utcoffset() if isinstance(value, dt.datetime) else None)
    return (type(value).__name__, str(value))


def _outcome(read: Callable[[str], Any], text: str) -> tuple[Any, ...]:
    try:
        return ("value", _typed(read(text)))
    except (tomli.TOMLDecodeError, ValueError, RecursionError) as exc:
        return ("error", type(exc).__name__, str(exc))


def _reference(text: str) -> Any:
    return tomli.loads(text, parse_float=Decimal)


def _ours(text: str) -> Any:
    return parse_toml(text, parse_float=Decimal)


def test_the_copy_of_the_suite_is_whole() -> None:
    assert len(TOML_1_0) == 709
    assert len(TOML_1_1_ONLY) == 68
    assert all((SUITE / name).is_file() for name in TOML_1_0 + TOML_1_1_ONLY)


@pytest.mark.parametrize("name", TOML_1_0 + TOML_1_1_ONLY)
def test_reads_every_case_as_tomli_does(name: str) -> None:
    text = _text(name)
    if text is None:
        assert name.startswith("invalid/encoding/")
        return
    ours = _outcome(_ours, text)
    assert ours == _outcome(_reference, text)
    # And as the suite says, for the version both read.
    if name in TOML_1_0:
        assert ours[0] == ("value" if name.startswith("valid/") else "error")


def test_the_fast_parser_reads_every_valid_case(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(text: str, **_: Any) -> Any:
        raise AssertionError("tomli was asked")

    monkeypatch.setattr(tomlparse.tomli, "loads", unreadable)
    valid = [name for name in TOML_1_0 if name.startswith("valid/")]
    for name in valid:
        text = _text(name)
        assert text is not None
        parse_toml(text, parse_float=Decimal)
    assert len(valid) == 210


def test_a_byte_order_mark_is_refused_as_tomli_refuses_it() -> None:
    # toml_rs reads past a BOM; tomli does not. (The loader strips the one a file may start
    # with before either sees the text: this is a second one.)
    with pytest.raises(tomli.TOMLDecodeError, match=r"Invalid statement \(at line 1, column 1\)"):
        parse_toml("\ufeffa = 1")


def test_a_text_that_could_nest_deep_is_left_to_tomli() -> None:
    # toml_rs would recurse on the native stack and end the process (SIGSEGV); tomli stops
    # at 400 levels with an error. In a process of its own, so a crash fails this test only.
    script = (
        "from reconciler.tomlparse import parse_toml\n"
        "try:\n"
        "    parse_toml('a = ' + '[' * 100_000 + ']' * 100_000)\n"
        "except RecursionError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "TOML inline arrays/tables are nested more than the allowed 400 levels")


# Texts at and past each limit tomli keeps (and toml_rs does not).
_AT_THE_LIMITS = {
    "arrays 399 deep": "a = " + "[" * 399 + "]" * 399,
    "arrays 401 deep": "a = " + "[" * 401 + "]" * 401,
    "inline tables 401 deep": "a = " + "{b = " * 401 + "1" + "}" * 401,
    "400 arrays side by side": "\n".join(f"a{n} = []" for n in range(400)),
    "a key of 999 parts": "a" + ".a" * 998 + " = 1",
    "a key of 1001 parts": "a" + ".a" * 1000 + " = 1",
    "a header of 1001 parts": "[a" + ".a" * 1000 + "]",
    "an integer of 4300 digits": "a = " + "9" * 4300,
    "an integer of 4301 digits": "a = " + "9" * 4301,
    "an integer of 4301 digits with underscores": "a = " + "_".join(["9" * 10] * 431),
    "a hex integer of 5000 digits": "a = 0x" + "f" * 5000,
    "a string of 5000 digits": 'a = "' + "9" * 5000 + '"',
    "a float of 5000 digits": "a = 1." + "9" * 5000,
}


@pytest.mark.parametrize("text", _AT_THE_LIMITS.values(), ids=_AT_THE_LIMITS.keys())
def test_at_and_past_tomli_limits_reads_as_tomli_does(text: str) -> None:
    assert _outcome(_ours, text) == _outcome(_reference, text)


def test_a_lone_surrogate_is_left_to_tomli() -> None:
    # toml_rs cannot take a str that is not UTF-8; tomli reads it as Python text.
    assert parse_toml('a = "\ud800"') == {"a": "\ud800"}


# Offsets in whole minutes, as TOML writes them.
_OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)))
_SCALARS = (
    st.text(max_size=12)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.dates()
    | st.times()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC) | _OFFSETS)
)
_KEYS = st.text(min_size=1, max_size=8)
_DOCUMENTS = st.dictionaries(
    _KEYS,
    st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3), max_leaves=12),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(_DOCUMENTS)
def test_generated_documents_read_as_tomli_reads_them(document: dict[str, Any]) -> None:
    text = tomlkit.dumps(document)
    assert _outcome(_ours, text) == _outcome(_reference, text)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(TOML_1_0), st.data())
def test_mutated_cases_read_as_tomli_reads_them(name: str, data: st.DataObject) -> None:
    text = _text(name)
    if not text:
        return
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    cut = data.draw(st.integers(min_value=0, max_value=3))
    inserted = data.draw(st.text(alphabet="[]{}=.,\"'\\#\n \t01eE-+:_TZaz\x00\x7f\u00e9", max_size=3))
    mutated = text[:at] + inserted + text[at + cut :]
    assert _outcome(_ours, mutated) == _outcome(_reference, mutated)
