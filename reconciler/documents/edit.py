"""Rewrite a customer file in place: apply merge patches to its text, keeping everything else.

Comments, key order, quoting and layout survive (ruamel.yaml's round-trip mode for YAML,
tomlkit for TOML); a replaced value keeps the style of the one it replaces (a flow list
stays a flow list, a literal block stays a block). New keys go at the end of their
mapping or table. Values arrive as the loader reads them: money is `Decimal` and is
written from its exact text, never through a float.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, MutableMapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomlkit
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.tokens import CommentToken
from tomlkit.items import Item

from reconciler.documents.merge_patch import merge_patch

Patch = Mapping[str, Any]


def patch_text(path: Path, text: str, patches: Sequence[Patch]) -> str:
    """The text of customer file PATH after applying PATCHES in order."""
    if path.suffix == ".toml":
        document = tomlkit.parse(text)
        for patch in patches:
            _patch_toml(document, patch)
        return tomlkit.dumps(document)
    yaml = _yaml(text)
    data = yaml.load(text)
    for patch in patches:
        _patch_yaml(data, patch)
    return _dump(yaml, data)


def new_text(path: Path, document: Patch, header: Sequence[str]) -> str:
    """A new customer file holding DOCUMENT, its first lines the comments in HEADER."""
    comments = "".join(f"# {line}\n" for line in header)
    if path.suffix == ".toml":
        toml = tomlkit.document()
        _patch_toml(toml, merge_patch(None, document))
        return comments + tomlkit.dumps(toml)
    data = CommentedMap()
    _patch_yaml(data, merge_patch(None, document))
    return comments + _dump(_yaml(""), data)


# --- YAML ---------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    pass


def _represent_decimal(representer: RoundTripRepresenter, amount: Decimal) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:float", format(amount, "f"))


_STR = "tag:yaml.org,2002:str"


def _plain_is_safe(text: str) -> bool:
    """Whether TEXT written plain reads back as itself to libyaml with YAML 1.1 rules, in a
    flow list: the strictest place it can stand, and the oldest rules a reader may use."""
    try:
        return bool(yaml.load(f"[{text}]", Loader=yaml.CSafeLoader) == [text])
    except yaml.YAMLError:
        return False


def _represent_str(representer: RoundTripRepresenter, text: str) -> Any:
    # We read YAML 1.2, where `NO`, `on` and `21:00` are strings. A YAML 1.1 reader (PyYAML,
    # many editors and scripts) reads them as false, true and 1260, and libyaml refuses some
    # plain scalars ruamel would write in a flow list (`[:0]`): quote them, so every reader
    # of a file we write sees the string we mean.
    if not _plain_is_safe(text):
        return representer.represent_scalar(_STR, text, style='"')
    return RoundTripRepresenter.represent_str(representer, text)


_Representer.add_representer(Decimal, _represent_decimal)
_Representer.add_representer(str, _represent_str)

_SEQUENCE_ITEM = re.compile(r"^( *)- ", re.MULTILINE)
_KEY_LINE = re.compile(r"^( *)[^\s#-][^:\n]*:", re.MULTILINE)


def _yaml(text: str) -> YAML:
    yaml = YAML()
    yaml.Representer = _Representer
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the author wrote on one
    mapping, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=mapping + offset, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int]:
    """The file's mapping indent and how far a block list's dash sits in from its key."""
    indents = sorted({len(match.group(1)) for match in _KEY_LINE.finditer(text)} - {0})
    mapping = indents[0] if indents else 2
    lines = text.splitlines()
    for number, line in enumerate(lines):
        item = _SEQUENCE_ITEM.match(line)
        if item and number and lines[number - 1].rstrip().endswith(":"):
            parent = len(lines[number - 1]) - len(lines[number - 1].lstrip())
            return mapping, max(len(item.group(1)) - parent, 0)
    return mapping, mapping


def _dump(yaml: YAML, data: Any) -> str:
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _patch_yaml(node: MutableMapping[str, Any], patch: Patch) -> None:
    for name, value in patch.items():
        current = node.get(name)
        if value is None:
            _remove_yaml_key(node, name)
        elif isinstance(value, Mapping) and isinstance(current, MutableMapping):
            _patch_yaml(current, value)
        else:
            node[name] = _yaml_value(merge_patch(None, value), current)


def _remove_yaml_key(node: MutableMapping[str, Any], name: str) -> None:
    """Remove a key, handing the comment lines and blank lines after it to the key before it."""
    if name not in node:
        return
    keys = list(node)
    comments = getattr(node, "ca", None)
    token = comments.items.get(name, [None] * 4)[2] if comments is not None else None
    del node[name]
    position = keys.index(name)
    if comments is None or token is None or position == 0:
        return
    # The token holds the key's end-of-line comment, then the lines up to the next key.
    following = token.value.split("\n", 1)[1] if "\n" in token.value else ""
    previous = comments.items.setdefault(keys[position - 1], [None] * 4)
    if previous[2] is None:
        previous[2] = CommentToken("\n" + following, CommentMark(0), None)
    else:
        previous[2].value += following


def _yaml_value(value: Any, like: Any) -> Any:
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        _patch_yaml(mapping, value)
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_yaml_value(item, None) for item in value)
        flow = like.fa.flow_style() if isinstance(like, CommentedSeq) else not any(
            isinstance(item, Mapping | list) for item in value
        )
        if flow:
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, str) and (isinstance(like, LiteralScalarString) or "\n" in value):
        return LiteralScalarString(value)
    if isinstance(value, dt.time):  # from a TOML overlay; YAML holds a time of day as text
        return value.strftime("%H:%M")
    return value


# --- TOML ---------------------------------------------------------------------------------


def _patch_toml(table: MutableMapping[str, Any], patch: Patch) -> None:
    for name, value in patch.items():
        current = table.get(name)
        if value is None:
            if name in table:
                del table[name]
        elif isinstance(value, Mapping) and isinstance(current, MutableMapping):
            _patch_toml(current, value)
        else:
            table[name] = _toml_value(merge_patch(None, value))


def _toml_value(value: Any) -> Item:
    if isinstance(value, Decimal):
        return tomlkit.value(format(value, "f"))
    if isinstance(value, Mapping):
        table = tomlkit.table()
        for name, item in value.items():
            table[name] = _toml_value(item)
        return table
    if isinstance(value, list):
        if value and all(isinstance(item, Mapping) for item in value):
            tables = tomlkit.aot()
            for item in value:
                tables.append(_toml_value(item))
            return tables
        array = tomlkit.array()
        array.extend(_toml_value(item) for item in value)
        return array
    if isinstance(value, str) and "\n" in value:
        return tomlkit.string(value, multiline=True)
    scalar: Item = tomlkit.item(value)
    return scalar
