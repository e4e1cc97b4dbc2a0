"""YAML 1.2 (core schema) on PyYAML's event parser, with the position of every value.

PyYAML resolves plain scalars by YAML 1.1 (`NO`, `on` and `yes` are booleans, `08:00` is
sexagesimal, `2026-12-01` a date), keeps the last of two duplicate keys and builds any
Python object a tag asks for. This module reads the parser's events itself instead:

- plain scalars resolve by the 1.2 core schema; numbers with a fraction or exponent
  become `Decimal` from their exact text (money never passes through float);
- only the standard tags `!!str !!int !!float !!bool !!null !!map !!seq` are honoured;
- mapping keys must be strings, and appear once; `<<` is not a merge key;
- aliases are copied, within a budget, so an alias bomb fails fast and a document
  that contains itself fails at once.

Events rather than PyYAML's composed nodes: the composer's resolver hook cannot tell
`! 12` (a string) from `12`, and its recursive C composer has no depth limit.

One module over the usual size: the composer is one state machine over the event stream,
and its scalar rules, limits and messages are read together; split, each part would
need the others to be understood.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from reconciler.errors import InvalidInput, Problem
from reconciler.model.fields import field_path

KeyPath = tuple[str | int, ...]

MAX_ALIASES = 100
MAX_NODES = 100_000
MAX_DEPTH = 100

_STANDARD = "tag:yaml.org,2002:"


class Mark(NamedTuple):
    """A position in a file, both 1-based. A tuple: cheap to build by the hundred thousand,
    and to pickle into the document cache."""

    line: int
    column: int


Parsed = tuple[Any, dict[KeyPath, Mark], dict[KeyPath, Mark], frozenset[KeyPath]]


if yaml.__with_libyaml__:
    from yaml._yaml import CParser as _EventParser
else:  # pragma: no cover - the wheels ship libyaml; this keeps a source install working

    class _EventParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: bytes) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


# --- scalars ------------------------------------------------------------------------------

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {
    **{f"{sign}.{inf}": Decimal(f"{sign}Infinity") for sign in ("", "+", "-") for inf in ("inf", "Inf", "INF")},
    **{f".{nan}": Decimal("NaN") for nan in ("nan", "NaN", "NAN")},
}
_NUMBER_START = frozenset("0123456789+-.")
_NOT_A_VALUE: Any = object()


def _number(text: str) -> Any:
    """The core schema's int or float (as Decimal) for TEXT, else _NOT_A_VALUE.

    Raises ValueError for a decimal integer longer than Python converts (4300 digits).
    """
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return Decimal(text)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _OCTAL.fullmatch(text):
        return int(text[2:], 8)
    return _SPECIAL_FLOATS.get(text, _NOT_A_VALUE)


def _plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar by the YAML 1.2 core schema."""
    try:
        return _resolve(text)
    except ValueError:
        raise _Refused(f"the number '{text[:20]}...' has more than 4300 digits; quote it if it is meant as text") from None


def _resolve(text: str) -> Any:
    if text in _NULLS:
        return None
    boolean = _BOOLS.get(text)
    if boolean is not None:
        return boolean
    if text[0] in _NUMBER_START:
        number = _number(text)
        if number is not _NOT_A_VALUE:
            return number
    return text


def _tagged(tag: str, text: str) -> Any:
    """TEXT under an explicit standard scalar tag, or _NOT_A_VALUE when it does not fit."""
    if tag == "str":
        return text
    if tag == "null":
        return None if text in _NULLS else _NOT_A_VALUE
    if tag == "bool":
        return _BOOLS.get(text, _NOT_A_VALUE)
    number = _number(text) if text else _NOT_A_VALUE
    if tag == "int":
        return number if type(number) is int else _NOT_A_VALUE
    return Decimal(number) if type(number) is int else number


_TAG_KINDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean", "null": "null"}


class _Refused(Exception):
    """A scalar we do not read; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _scalar(event: ScalarEvent) -> Any:
    """A quoted, block or tagged scalar's value (plain untagged ones go to `_plain`)."""
    tag, text = event.tag, event.value
    if tag is None or tag == "!":
        return text
    kind = tag[len(_STANDARD) :] if tag.startswith(_STANDARD) else ""
    if kind not in _TAG_KINDS:
        raise _Refused(_not_allowed(tag))
    try:
        value = _tagged(kind, text)
    except ValueError:
        value = _NOT_A_VALUE
    if value is _NOT_A_VALUE:
        raise _Refused(f"{_shown(text)} is not {_TAG_KINDS[kind]}, as its tag {short_tag(tag)} says; fix the value or remove the tag")
    return value


def _not_allowed(tag: str) -> str:
    return f"the tag {short_tag(tag)} is not allowed: a file holds only plain scalars, mappings and sequences; remove the tag"

def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_STANDARD) :] if tag.startswith(_STANDARD) else tag


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal):
        return "a number"
    if isinstance(value, list):
        return "a sequence"
    return "a mapping" if isinstance(value, dict) else "a string"


def nesting(value: Any) -> int:
    """How deep mappings and lists nest in VALUE (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _copy(value: Any) -> Any:
    # An alias is a copy, not a shared object: later code may change one place only.
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# --- composing ----------------------------------------------------------------------------

_NO_KEY = object()  # the mapping waits for a key
_SKIP = object()  # the pending key was refused: compose its value, keep nothing


class _Frame:
    """An open mapping or sequence while its events arrive."""

    __slots__ = ("anchor", "container", "key", "key_start", "nodes_before", "path")

    def __init__(
        self, container: Any, path: KeyPath | None, anchor: str | None, nodes_before: int, key_start: Any
    ) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.nodes_before = nodes_before
        self.key_start = key_start  # the start mark when this collection is a key, else None
        self.key: Any = _NO_KEY


def parse_yaml(text: str, path: Path) -> Parsed:
    """Read TEXT as a single YAML document by our rules: (value, marks, key_marks, block_scalars).

    marks: where each value starts, by key path (`()` is the document); key_marks: where
    the key of each mapping value starts; block_scalars: paths of `|` and `>` scalars.
    Raises InvalidInput listing every problem found (a syntax error is just the one).
    """
    try:
        source = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line, column = _text_position(text, exc.start)
        raise InvalidInput(
            [Problem(path, line, column, "", f"the text holds a lone surrogate (U+{ord(text[exc.start]):04X}), which is not a character; remove it")]
        ) from None
    return parse_yaml_bytes(source, path)


def parse_yaml_bytes(source: bytes, path: Path) -> Parsed:
    """`parse_yaml` for text already encoded as UTF-8."""
    parser = _EventParser(source)
    try:
        return _compose(parser, path)
    except yaml.MarkedYAMLError as exc:
        raise InvalidInput([_syntax_problem(path, exc)]) from None
    except yaml.reader.ReaderError as exc:
        line, column = _byte_position(source, exc.position)
        character = exc.character if isinstance(exc.character, int) else ord(exc.character or "?")
        message = f"YAML does not allow the character U+{character:04X} ({exc.reason}); remove it or write it as an escape in a double-quoted string"
        raise InvalidInput([Problem(path, line, column, "", message)]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every parser error above is marked
        raise InvalidInput([Problem(path, None, None, "", f"YAML error: {exc}")]) from None
    finally:
        parser.dispose()


def parse_yaml_data(source: bytes, path: Path) -> Any:
    """The value `parse_yaml_bytes` reads from SOURCE, without positions (a loader needs
    them only to report an error). A document of what files hold (mappings with string
    keys, sequences, untagged scalars; no anchor, alias, tag or merge key) is read in one
    lean pass over the events, in a third of the time; anything else, and any problem, is
    read by `parse_yaml_bytes`, which reports it as always."""
    parser = _EventParser(source)
    try:
        value = _compose_data(parser)
    except (yaml.YAMLError, _Refused):
        value = _NOT_A_VALUE
    finally:
        parser.dispose()
    if value is _NOT_A_VALUE:
        return parse_yaml_bytes(source, path)[0]
    return value


def _compose_data(parser: Any) -> Any:
    """`_compose`'s value where it would find no problem, keeping no position; _NOT_A_VALUE
    at the first event outside the plain subset (`parse_yaml_data`), or a limit reached."""
    get_event = parser.get_event
    get_event()  # StreamStart
    if type(get_event()) is not DocumentStartEvent:
        return _NOT_A_VALUE
    containers: list[Any] = []
    keys: list[Any] = []  # per open container: its pending key, _NO_KEY, or None for a sequence
    nodes = 0
    root: Any = _NOT_A_VALUE
    while True:
        event = get_event()
        cls = type(event)
        if cls is ScalarEvent:
            if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                return _NOT_A_VALUE
            value = _plain(event.value) if event.tag is None and event.implicit[0] else event.value
            nodes += 1
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(containers) >= MAX_DEPTH:
                return _NOT_A_VALUE
            nodes += 1
            mapping = cls is MappingStartEvent
            containers.append({} if mapping else [])
            keys.append(_NO_KEY if mapping else None)
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            value = containers.pop()
            keys.pop()
        elif cls is AliasEvent:
            return _NOT_A_VALUE
        else:  # DocumentEnd
            break
        if nodes > MAX_NODES:
            return _NOT_A_VALUE
        if not containers:
            root = value
            continue
        top, key = containers[-1], keys[-1]
        if key is None:
            top.append(value)
        elif key is _NO_KEY:
            if type(value) is not str or value in top or value == "<<":
                return _NOT_A_VALUE  # a key that is not a string, a duplicate, a merge key
            keys[-1] = value
        else:
            top[key] = value
            keys[-1] = _NO_KEY
    if type(get_event()) is not StreamEndEvent:  # a second document
        return _NOT_A_VALUE
    return root


def _compose(parser: Any, path: Path) -> Parsed:
    problems: list[Problem] = []
    marks: dict[KeyPath, Mark] = {}
    key_marks: dict[KeyPath, Mark] = {}
    blocks: set[KeyPath] = set()
    anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, its node count, its depth)
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    nodes = 0
    aliases = 0
    root: Any = None

    def fail(start: Any, field: str, message: str) -> InvalidInput:
        problems.append(Problem(path, start.line + 1, start.column + 1, field, message))
        return InvalidInput(problems)

    get_event = parser.get_event
    get_event()  # StreamStart
    if type(get_event()) is StreamEndEvent:
        raise InvalidInput([Problem(path, None, None, "", "the file holds no YAML document, only comments or blank lines; write the document in it")])
    while True:
        event = get_event()
        cls = type(event)
        start = event.start_mark
        # Where does this node go: the document, a key, a sequence item or a mapping value?
        top = stack[-1] if stack else None
        is_key = False
        if cls is MappingEndEvent or cls is SequenceEndEvent:
            assert top is not None
            stack.pop()
            value = top.container
            node_path = top.path
            if top.key_start is not None:
                is_key, start = True, top.key_start
            if top.anchor is not None:
                anchors[top.anchor] = (value, nodes - top.nodes_before, nesting(value))
                open_anchors.discard(top.anchor)
            top = stack[-1] if stack else None
        elif top is None:
            node_path = ()
            if cls is not ScalarEvent and cls is not MappingStartEvent and cls is not SequenceStartEvent and cls is not AliasEvent:
                break  # DocumentEnd
        elif type(top.container) is list:
            node_path = None if top.path is None else (*top.path, len(top.container))
        elif top.key is _NO_KEY:
            node_path, is_key = None, True
        elif top.path is None or top.key is _SKIP:
            node_path = None  # inside a refused part: read it, keep nothing
        else:
            node_path = (*top.path, top.key)

        if cls is ScalarEvent:
            nodes += 1
            try:
                value = _plain(event.value) if event.tag is None and event.implicit[0] else _scalar(event)
            except _Refused as refused:
                problems.append(Problem(path, start.line + 1, start.column + 1, field_path(node_path), refused.message))
                value = None
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1, 0)
            if node_path is not None and event.style and event.style in "|>":
                blocks.add(node_path)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise fail(start, field_path(node_path), f"the document nests more than {MAX_DEPTH} levels deep; flatten it")
            nodes += 1
            tag = event.tag
            expected = "map" if cls is MappingStartEvent else "seq"
            if tag is not None and tag != "!" and tag != _STANDARD + expected:
                problems.append(_tag_problem(path, start, node_path, tag, expected))
            if event.anchor is not None:
                open_anchors.add(event.anchor)
            if node_path is not None:
                marks[node_path] = Mark(start.line + 1, start.column + 1)
            collection: dict[str, Any] | list[Any] = {} if cls is MappingStartEvent else []
            stack.append(_Frame(collection, node_path, event.anchor, nodes, start if is_key else None))
            continue
        elif cls is AliasEvent:
            name = event.anchor
            if name in open_anchors:
                raise fail(start, field_path(node_path), f"alias *{name} refers to the node that contains it (a recursive structure); a file must be a tree, remove the alias")
            aliases += 1
            if aliases > MAX_ALIASES:
                raise fail(start, field_path(node_path), f"the document uses more than {MAX_ALIASES} aliases; write the values out instead")
            anchored = anchors.get(name)
            if anchored is None:
                problems.append(Problem(path, start.line + 1, start.column + 1, field_path(node_path), f"alias *{name} has no anchor &{name} before it; define the anchor first or write the value out"))
                value = None
            else:
                nodes += anchored[1]
                if nodes > MAX_NODES:
                    raise fail(start, field_path(node_path), f"aliases expand the document to more than {MAX_NODES} values (an alias bomb?); write the values out instead")
                if len(stack) + anchored[2] > MAX_DEPTH:
                    raise fail(start, field_path(node_path), f"alias *{name} nests the document more than {MAX_DEPTH} levels deep; write the values out instead")
                value = _copy(anchored[0])
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            pass  # value and node_path were set above
        else:  # pragma: no cover - the parser sends nothing else inside a document
            raise AssertionError(f"unexpected YAML event {event}")

        if nodes > MAX_NODES:
            raise fail(start, field_path(node_path), f"the document holds more than {MAX_NODES} values; split it")
        # Place the finished node.
        if top is None:
            root = value
            if cls is not MappingEndEvent and cls is not SequenceEndEvent:
                marks[()] = Mark(start.line + 1, start.column + 1)
        elif is_key:
            top.key = _accept_key(problems, path, top, value, event, start, key_marks)
        else:
            if node_path is not None:
                if cls is not MappingEndEvent and cls is not SequenceEndEvent:
                    marks[node_path] = Mark(start.line + 1, start.column + 1)
                if type(top.container) is list:
                    top.container.append(value)
                else:
                    top.container[top.key] = value
            elif type(top.container) is list:
                top.container.append(value)
            if type(top.container) is dict:
                top.key = _NO_KEY

    event = get_event()
    if type(event) is DocumentStartEvent:
        start = event.start_mark
        assert start is not None
        problems.append(Problem(path, start.line + 1, start.column + 1, "", "a second YAML document starts here; a file holds exactly one document, remove the '---' line and what follows or move it to its own file"))
    if problems:
        raise InvalidInput(problems)
    return root, marks, key_marks, frozenset(blocks)


def _accept_key(
    problems: list[Problem], path: Path, mapping: _Frame, key: Any, event: Any, start: Any, key_marks: dict[KeyPath, Mark]
) -> Any:
    """The key to store the next value under, or _SKIP when the key is refused."""
    where = field_path(mapping.path)
    if type(key) is not str:
        if type(event) is ScalarEvent:
            problems.append(Problem(path, start.line + 1, start.column + 1, where, f"the key {_shown(event.value)} is read as {_kind(key)}, not a string; keys must be strings, so quote it if it is meant as text"))
        else:
            problems.append(Problem(path, start.line + 1, start.column + 1, where, f"this key is {_kind(key)}, not a string; keys must be strings"))
        return _SKIP
    if key == "<<" and type(event) is ScalarEvent and event.tag is None and event.implicit[0]:
        problems.append(Problem(path, start.line + 1, start.column + 1, where, "merge keys (<<) are not supported; write the fields out in full"))
        return _SKIP
    if mapping.path is None:
        return _SKIP if key in mapping.container else key
    key_path = (*mapping.path, key)
    first = key_marks.get(key_path)
    if first is not None:
        problems.append(Problem(path, start.line + 1, start.column + 1, field_path(key_path), f"duplicate key '{key}' (lines {first.line} and {start.line + 1}); a key may appear only once in a mapping, remove one of them"))
        return _SKIP
    key_marks[key_path] = Mark(start.line + 1, start.column + 1)
    return key


def _tag_problem(path: Path, start: Any, node_path: KeyPath | None, tag: str, expected: str | None = None) -> Problem:
    shown = short_tag(tag)
    if expected is not None and tag.startswith(_STANDARD) and tag[len(_STANDARD) :] in (*_TAG_KINDS, "map", "seq"):
        kind = "a mapping" if expected == "map" else "a sequence"
        message = f"the tag {shown} does not fit {kind}; remove the tag"
    else:
        message = _not_allowed(tag)
    return Problem(path, start.line + 1, start.column + 1, field_path(node_path), message)


def _syntax_problem(path: Path, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = f"YAML syntax error: {exc.problem or exc.context}"
    context_mark = exc.context_mark
    if exc.context and exc.problem:
        if context_mark is None or (mark is not None and (context_mark.line, context_mark.column) == (mark.line, mark.column)):
            message += f" ({exc.context})"
        else:
            message += f" ({exc.context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    message += "; check the indentation, colons and quotes here"
    if mark is None:  # pragma: no cover - the parser always marks its errors
        return Problem(path, None, None, "", message)
    return Problem(path, mark.line + 1, mark.column + 1, "", message)


def _byte_position(source: bytes, offset: int) -> tuple[int, int]:
    line_start = source.rfind(b"\n", 0, offset) + 1
    column = len(source[line_start:offset].decode("utf-8", "replace")) + 1
    return source.count(b"\n", 0, offset) + 1, column


def _text_position(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1
