"""Turn a loaded document into a typed model, or into problems that point at file, line and field.

pydantic knows *what* is wrong and *where in the document*; the loader knows where in the
*file* each value stands. This module joins the two and rewrites pydantic's generic
sentences into ones that say what to write instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.documents.loader import LoadedDocument, Mark
from reconciler.documents.yaml12 import dotted
from reconciler.errors import Problem
from reconciler.model.types import CLOCK_PATTERN, HOSTNAME_PATTERN, KEY_PATTERN, TAG_PATTERN

ModelT = TypeVar("ModelT", bound=BaseModel)

Loc = tuple[str | int, ...]

# `('windows', 0, 'from')` -> `windows[0].from`: the loader names fields the same way.
field_path = dotted

# What a pattern asks for, in words: a reader should not have to decode a regex.
PATTERN_MEANINGS = {
    KEY_PATTERN: "a customer key: lower case letters, digits, '-' and '_', at most 64",
    HOSTNAME_PATTERN: "a host name: lower case labels separated by dots, e.g. sip.example.com",
    TAG_PATTERN: "a tag: letters, digits and _ . : / - without spaces, at most 64",
    CLOCK_PATTERN: "a time of day as HH:MM between 00:00 and 24:00",
}


def validate(model: type[ModelT], document: LoadedDocument, *, base: Loc = ()) -> ModelT | list[Problem]:
    """Validate `document.data` (or the part of it at `base`) as `model`."""
    data: Any = document.data
    for part in base:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return problems_from(exc, document, model, base=base)


def problems_from(
    exc: ValidationError, document: LoadedDocument, model: type[BaseModel], *, base: Loc = ()
) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = base + _document_loc(error["loc"])
        is_key = error["type"] == "extra_forbidden" or "[key]" in error["loc"]
        mark = document.locate(loc, key=is_key)
        line, column = _position(mark, error, document, loc)
        message = _message(error, model, loc[len(base):])
        problems.append(Problem(document.path, line, column, field_path(loc), message))
    return problems


def _document_loc(loc: Sequence[str | int]) -> Loc:
    # pydantic appends '[key]' when a mapping key (not its value) failed.
    return tuple(part for part in loc if part != "[key]")


def _position(
    mark: Mark | None, error: ErrorDetails, document: LoadedDocument, loc: Loc
) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    toml_line = (error.get("ctx") or {}).get("toml_line")
    if isinstance(toml_line, int):
        # A line inside an embedded TOML text: a block scalar starts on the next line.
        offset = 0 if loc in document.block_scalars else -1
        return mark.line + toml_line + offset, None
    return mark.line, mark.column


def _message(error: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(model, loc)
    if kind == "missing":
        return "is required"
    if kind in ("bool_type", "bool_parsing"):
        return f"{show(value)} is not a boolean; write true or false (unquoted)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{show(value)} is not a whole number"
    if kind in ("decimal_type", "decimal_parsing"):
        return f"{show(value)} is not a decimal number"
    if kind in ("string_type",):
        hint = "; quote it" if isinstance(value, bool | int) or value is None else ""
        return f"{show(value)} is not a string{hint}"
    if kind == "literal_error":
        return f"{show(value)} is not one of: {_expected(ctx)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, not {show(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, not {show(value)}"
    if kind == "greater_than":
        return f"must be more than {ctx['gt']}, not {show(value)}"
    if kind == "decimal_max_places":
        return f"{show(value)} has more than {ctx['decimal_places']} decimal places"
    if kind == "decimal_max_digits":
        return f"{show(value)} has more than {ctx['max_digits']} digits"
    if kind == "finite_number":
        return f"{show(value)} is not a finite number"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is longer than {ctx['max_length']} characters"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"has more than {ctx['max_length']} items"
    if kind == "string_pattern_mismatch":
        meaning = PATTERN_MEANINGS.get(str(ctx["pattern"]))
        return f"{show(value)} is not {meaning}" if meaning else f"{show(value)} does not match {ctx['pattern']}"
    if kind in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        wanted = "a list" if kind == "list_type" else "a mapping"
        return f"must be {wanted}, not {show(value)}"
    if kind == "vars_toml":
        return f"invalid TOML on line {ctx['toml_line']} of the text: {ctx['reason']}"
    if kind == "value_error" and "email address" in str(error["msg"]):
        reason = str(error["msg"]).split(": ", 1)[-1]
        return f"{show(value)} is not an email address: {reason}"
    if kind == "value_error":
        # Raised by validators as ValueError: the text after pydantic's prefix is ours.
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _expected(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    return expected.replace("'", "").replace(" or ", ", ")


def show(value: Any) -> str:
    """A value as an error message quotes it: strings quoted, YAML's words for the rest."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def _unknown_field(model: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1])
    known = _fields_at(model, loc[:-1])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known fields here: {', '.join(known)}"
    return f"unknown field '{name}'{hint}"


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names (aliases where set) of the sub-model at `loc`."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part)) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        current = _model_in(field.annotation) if field is not None else None
    if current is None:
        return []
    return [field.alias or name for name, field in current.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
