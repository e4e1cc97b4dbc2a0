"""TOML documents: read as TOML 1.0 (floats as `Decimal`), positions found by a scan.

The text is parsed by `tomlparse.parse_toml`: toml_rs where it reads the text, tomli (the
reference) for anything it refuses, so every error, and its message, is tomli's. Neither
parser gives positions, so a light scan of the text finds where keys and values start; it
also finds keys set twice, which tomli reports one at a time and without the key. The scan
runs only when an error needs a position (see `loader.LoadedDocument`).
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli

from reconciler.documents.yaml12 import MAX_DEPTH, KeyPath, Mark, nesting
from reconciler.errors import InvalidInput, Problem
from reconciler.model.fields import field_path
from reconciler.tomlparse import parse_toml

_TOML_POSITION = re.compile(r"(.*) \((?:at line (\d+), column (\d+)|at end of document)\)", re.DOTALL)


def load_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        data = parse_toml(text, parse_float=Decimal)
    except tomli.TOMLDecodeError as exc:
        duplicates = TomlScan(text, path).duplicates
        raise InvalidInput(duplicates or [_toml_syntax_problem(path, text, str(exc))]) from None
    except ValueError:
        # Python's own limit: an integer of over 4300 digits.
        message = "the TOML holds a number too long to read (over 4300 digits); shorten it"
        raise InvalidInput([Problem(path, None, None, "", message)]) from None
    except RecursionError:
        # tomli's own limits: values nested over 400 levels, keys of over 1000 parts.
        raise InvalidInput([_too_deep(path)]) from None
    if _may_nest_deeper(text) and nesting(data) > MAX_DEPTH:
        # tomli reads a dotted key 1,000 levels deep; nothing after it should have to.
        raise InvalidInput([_too_deep(path)])
    return data


def _may_nest_deeper(text: str) -> bool:
    """Whether TEXT has room to nest past MAX_DEPTH. Each table or list below the document
    is opened by a character of its own: `[` (a table's header, an array), `{` (an inline
    table) or `.` (between the parts of a dotted key or a header); a string holding any of
    them only makes the bound looser. A customer file holds a few dozen, so the walk of
    every value (`nesting`, a tenth of reading a TOML file) is spared."""
    return 1 + text.count("[") + text.count("{") + text.count(".") > MAX_DEPTH


def _too_deep(path: Path) -> Problem:
    return Problem(path, None, None, "", f"the document nests more than {MAX_DEPTH} levels deep; flatten it")


def _toml_syntax_problem(path: Path, text: str, error: str) -> Problem:
    match = _TOML_POSITION.fullmatch(error)
    reason = match.group(1) if match else error
    if match and match.group(2):
        line, column = int(match.group(2)), int(match.group(3))
    else:  # at the end of the document
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
    return Problem(path, line, column, "", f"TOML syntax error: {reason[:1].lower()}{reason[1:]}; fix the syntax here")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SIMPLE_KEY_VALUE = re.compile(r"([A-Za-z0-9_-]+)[ \t]*=[ \t]*")
_BLANK = re.compile(r"[ \t]*")
MAX_TOML_SCAN_DEPTH = 64
_BASIC_STRING_END = re.compile(r'(?:[^"\\\n]|\\.)*"')
_ML_BASIC_END = re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL)
_ML_LITERAL_END = re.compile(r"(?:[^']|'(?!''))*'''")


class TomlScan:
    """Where each key and value of a TOML text starts, found line by line.

    Tracks `[table]` and `[[array]]` headers and `key = value` lines with dotted and
    quoted keys; inside a value only the items of an array are marked. Also collects keys
    set twice in one table, which tomli reports one at a time and without the key.
    """

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.line_starts = [0, *(match.end() for match in re.finditer("\n", text))]
        self.marks: dict[KeyPath, Mark] = {(): Mark(1, 1)}
        self.key_marks: dict[KeyPath, Mark] = {}
        self.block_scalars: set[KeyPath] = set()
        self.duplicates: list[Problem] = []
        self.defined: dict[KeyPath, int] = {}  # key or [table] -> the line it is set on
        self.array_index: dict[tuple[str, ...], int] = {}  # [[array]] -> its current item
        self.table: KeyPath = ()
        self._scan()

    def mark(self, pos: int) -> Mark:
        line = bisect.bisect_right(self.line_starts, pos)
        return Mark(line, pos - self.line_starts[line - 1] + 1)

    def _scan(self) -> None:
        text, pos, end = self.text, 0, len(self.text)
        while pos < end:
            pos = _skip_blank(text, pos)
            char = text[pos : pos + 1]
            if char == "[":
                pos = self._header(pos)
            elif char and char not in "#\r\n":
                pos = self._key_value(pos)
            next_line = text.find("\n", pos)
            pos = end if next_line < 0 else next_line + 1

    def _keys(self, pos: int) -> tuple[list[tuple[str, int]], int]:
        """The dotted key at POS as (key, position) pairs, and where it ends; no keys if unreadable."""
        text = self.text
        keys: list[tuple[str, int]] = []
        while True:
            pos = _skip_blank(text, pos)
            char = text[pos : pos + 1]
            if char == '"':
                closing = _BASIC_STRING_END.match(text, pos + 1)
                if closing is None:
                    return [], pos
                key = _decode_basic(text[pos : closing.end()])
                if key is None:
                    return [], pos
                keys.append((key, pos))
                pos = closing.end()
            elif char == "'":
                closing_at = text.find("'", pos + 1)
                if closing_at < 0 or "\n" in text[pos:closing_at]:
                    return [], pos
                keys.append((text[pos + 1 : closing_at], pos))
                pos = closing_at + 1
            else:
                bare = _BARE_KEY.match(text, pos)
                if bare is None:
                    return [], pos
                keys.append((bare.group(), pos))
                pos = bare.end()
            pos = _skip_blank(text, pos)
            if text[pos : pos + 1] != ".":
                return keys, pos
            pos += 1

    def _header(self, pos: int) -> int:
        is_array = self.text.startswith("[[", pos)
        keys, after = self._keys(pos + (2 if is_array else 1))
        if not keys or not self.text.startswith("]]" if is_array else "]", after):
            return after
        header_mark = self.mark(pos)
        before_line = pos - header_mark.column
        names = tuple(key for key, _ in keys)
        table: list[str | int] = []
        for depth, (key, key_pos) in enumerate(keys, 1):
            table.append(key)
            prefix = tuple(table)
            if prefix not in self.marks:
                self.marks[prefix] = header_mark
                self.key_marks[prefix] = Mark(header_mark.line, key_pos - before_line)
            if is_array and depth == len(keys):
                index = self.array_index.get(names, -1) + 1
                self.array_index = {
                    name: item for name, item in self.array_index.items() if name[: len(names)] != names
                }
                self.array_index[names] = index
                table.append(index)
            elif names[:depth] in self.array_index:
                table.append(self.array_index[names[:depth]])
        self.table = tuple(table)
        key_mark = Mark(header_mark.line, keys[-1][1] - before_line)
        self.marks[self.table] = header_mark
        self.key_marks[self.table] = key_mark
        if not is_array:
            self._define(self.table, key_mark, f"table [{'.'.join(names)}] is declared twice")
        return after

    def _key_value(self, pos: int) -> int:
        simple = _SIMPLE_KEY_VALUE.match(self.text, pos)
        if simple is not None:
            keys, value_pos = [(simple.group(1), pos)], simple.end()
        else:
            keys, after = self._keys(pos)
            if not keys or not self.text.startswith("=", after):
                return after
            value_pos = _skip_blank(self.text, after + 1)
        # A key, its '=' and the start of its value share one line.
        line = bisect.bisect_right(self.line_starts, pos)
        before_line = self.line_starts[line - 1] - 1
        key_path = self.table
        for key, key_pos in keys[:-1]:
            key_path = (*key_path, key)
            if key_path not in self.marks:
                self.marks[key_path] = self.key_marks[key_path] = Mark(line, key_pos - before_line)
        last_key, key_pos = keys[-1]
        key_path = (*key_path, last_key)
        key_mark = Mark(line, key_pos - before_line)
        self.key_marks[key_path] = key_mark
        self._define(key_path, key_mark, f"key '{last_key}' is set twice")
        self.marks[key_path] = Mark(line, value_pos - before_line)
        return self._value(value_pos, key_path)

    def _define(self, key_path: KeyPath, at: Mark, what: str) -> None:
        first = self.defined.setdefault(key_path, at.line)
        if first != at.line:
            message = f"{what} (lines {first} and {at.line}); keep only one"
            self.duplicates.append(Problem(self.path, at.line, at.column, field_path(key_path), message))

    def _value(self, pos: int, key_path: KeyPath | None, depth: int = 0) -> int:
        """Where the value at POS ends; marks the items of an array at KEY_PATH."""
        text = self.text
        quotes = text[pos : pos + 3]
        if quotes in ('"""', "'''"):
            # The content starts on the next line only when the delimiter ends its line.
            if key_path is not None and text[_skip_blank(text, pos + 3) :][:1] in ("", "\r", "\n"):
                self.block_scalars.add(key_path)
            closing = _ML_BASIC_END if quotes == '"""' else _ML_LITERAL_END
            found = closing.match(text, pos + 3)
            if found is None:
                return len(text)
            end = found.end()
            while text[end : end + 1] == quotes[0] and end - found.end() < 2:
                end += 1
            return end
        char = text[pos : pos + 1]
        if char == '"':
            found = _BASIC_STRING_END.match(text, pos + 1)
            return found.end() if found else len(text)
        if char == "'":
            closing_at = text.find("'", pos + 1)
            return len(text) if closing_at < 0 else closing_at + 1
        if char not in ("[", "{"):
            return pos
        return self._collection(pos, key_path if char == "[" else None, depth + 1)

    def _collection(self, pos: int, key_path: KeyPath | None, depth: int) -> int:
        text, end = self.text, len(self.text)
        if depth > MAX_TOML_SCAN_DEPTH:
            return end  # deeper than any document we read; tomllib has its say on it
        closer = "]" if text[pos] == "[" else "}"
        pos += 1
        index = 0
        while pos < end:
            char = text[pos]
            if char in " \t\r\n,":
                pos += 1
            elif char == "#":
                next_line = text.find("\n", pos)
                pos = end if next_line < 0 else next_line + 1
            elif char == closer:
                return pos + 1
            elif closer == "}":
                pos = self._value(pos, None, depth) if char in "\"'[{" else pos + 1
            else:
                if key_path is not None:
                    self.marks[(*key_path, index)] = self.mark(pos)
                index += 1
                item_end = self._value(pos, None, depth)
                pos = item_end if item_end > pos else max(_scalar_end(text, pos), pos + 1)
        return end


def _skip_blank(text: str, pos: int) -> int:
    blank = _BLANK.match(text, pos)
    return blank.end() if blank else pos


def _scalar_end(text: str, pos: int) -> int:
    """The end of a bare value (number, boolean, date) inside an array."""
    while pos < len(text) and text[pos] not in ",]}#\n":
        pos += 1
    return pos


def _decode_basic(quoted: str) -> str | None:
    try:
        key = tomli.loads(f"k = {quoted}")["k"]
    except tomli.TOMLDecodeError:
        return None
    return key if isinstance(key, str) else None
