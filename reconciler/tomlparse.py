"""The one way TOML text is parsed: two parsers of the same language, one fast, one the reference.

`toml_rs` (the Rust `toml` crate's parser) reads a customer file in a tenth of tomli's time.
`tomli` is the standard library's `tomllib` as its upstream ships it, compiled with mypyc
(below 2.4, which reads TOML 1.1), and is the reference: any text toml_rs refuses is
tomli's to judge, so every error, and its message, is tomli's. The two agree on every case
of the TOML conformance suite (tests/documents/toml-test) and on generated documents
(tests/test_tomlparse.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import toml_rs
import tomli

# Limits tomli keeps and toml_rs does not: values nested over 400 levels (toml_rs recurses
# on the native stack, which some thousands of levels down ends the process), keys of over
# 1000 parts, and decimal integers longer than Python converts (`int` refuses over 4300
# digits). A text with room to pass one is left to tomli, which refuses it as always; a
# customer file has a few dozen brackets and dots, and no number near that long.
_TOMLI_MAX_NESTING = 400
_TOMLI_MAX_KEY_PARTS = 1000
_MAX_DIGITS = sys.get_int_max_str_digits()  # 0: no limit
_LONG_INTEGER = re.compile(f"[0-9_]{{{_MAX_DIGITS + 1}}}")


def _may_pass_tomli_limits(text: str) -> bool:
    return (
        text.count("[") + text.count("{") >= _TOMLI_MAX_NESTING
        or text.count(".") >= _TOMLI_MAX_KEY_PARTS - 1
        or (0 < _MAX_DIGITS < len(text) and _LONG_INTEGER.search(text) is not None)
    )


def parse_toml(text: str, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """TEXT as `tomli.loads` reads it (and raising what it raises): by toml_rs where that
    reads it, else by tomli. A leading byte order mark is tomli's to refuse."""
    if text[:1] != "\ufeff" and not _may_pass_tomli_limits(text):
        try:
            return toml_rs.loads(text, parse_float=parse_float, toml_version="1.0.0")
        except (ValueError, RecursionError):  # a syntax error, a lone surrogate, Python's stack
            pass
    return tomli.loads(text, parse_float=parse_float)
