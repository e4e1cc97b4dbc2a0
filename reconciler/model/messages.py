"""What is wrong with a value, in words: pydantic's errors rewritten into sentences that say
what to write instead, for files (`documents.validation`) and live records alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from reconciler.model.customer import PORTAL_FEATURE_PATTERN
from reconciler.model.types import CLOCK_PATTERN, HOSTNAME_PATTERN, KEY_PATTERN, TAG_PATTERN

Loc = tuple[str | int, ...]

# What a pattern asks for, in words: a reader should not have to decode a regex.
PATTERN_MEANINGS = {
    KEY_PATTERN: "a customer key: lower case letters, digits, '-' and '_', at most 64",
    HOSTNAME_PATTERN: "a host name: lower case labels separated by dots, e.g. portal.example.com",
    TAG_PATTERN: "a tag: letters, digits and _ . : / - without spaces, at most 64",
    CLOCK_PATTERN: "a time of day as HH:MM between 00:00 and 24:00",
    PORTAL_FEATURE_PATTERN: "a portal feature name: lower case letters, digits and '_', starting with a letter",
}


def error_message(error: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(model, loc)
    if kind == "missing":
        return "is required"
    if kind in ("bool_type", "bool_parsing"):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return f"{show(value)} is text; write {value.strip().lower()} without quotes"
        return f"{show(value)} is not a boolean; write true or false (unquoted)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return f"{show(value)} is text; write {value.strip()} without quotes"
        return f"{show(value)} is not a whole number"
    if kind in ("decimal_type", "decimal_parsing"):
        return f"{show(value)} is not a decimal number"
    if kind in ("string_type",):
        hint = "; quote it" if isinstance(value, bool | int | Decimal) or value is None else ""
        return f"{show(value)} is not text{hint}"
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
        if isinstance(value, str):
            return "must not be empty" if ctx["min_length"] == 1 else f"needs at least {ctx['min_length']} characters"
        return f"needs at least {_count(ctx['min_length'], 'item')}"
    if kind == "too_long":
        if isinstance(value, str):
            return f"is longer than {ctx['max_length']} characters"
        return f"has more than {_count(ctx['max_length'], 'item')}"
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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _expected(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    return expected.replace("'", "").replace(" or ", ", ")


SHOWN_LENGTH = 60  # characters of a value a message quotes; a longer one is cut


def show(value: Any) -> str:
    """A value as an error message quotes it: strings quoted, with control characters escaped
    (a message never moves a terminal's cursor) and cut after SHOWN_LENGTH characters;
    YAML's words for the rest."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= SHOWN_LENGTH else repr(value[: SHOWN_LENGTH - 3] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return _shown_list(value, SHOWN_LENGTH)
    return str(value)


def _shown_list(items: list[Any], room: int) -> str:
    """A list as `show` quotes it, cut after ROOM characters. Items past ROOM are not looked
    at: a live record's list may be long, or nested deeper than Python recurses."""
    if room <= 3:
        return "..."
    text = "["
    for index, item in enumerate(items):
        if len(text) > room:
            break
        if index:
            text += ", "
        text += _shown_list(item, room - len(text)) if isinstance(item, list) else show(item)
    else:
        text += "]"
    return text if len(text) <= room else text[: room - 3] + "..."


# Fields that were renamed, by where they stood: what they are called now, and why.
RENAMED_FIELDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("verification", "email"): (
        "require_email",
        "the platform's Email Verification option forces the customer to verify their email before they can dial",
    ),
    ("verification", "mobile"): (
        "require_mobile",
        "the platform's Mobile Verification option forces the customer to verify their mobile before they can dial",
    ),
}


def closest(name: str, known: Iterable[str]) -> str | None:
    """The one of KNOWN that NAME most likely misspells, if one is close: the "did you mean"
    of every message about an unknown name (a field, a customer key, a provider, an option)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_field(model: type[BaseModel], loc: Loc) -> str:
    renamed = RENAMED_FIELDS.get(tuple(str(part) for part in loc[-2:]))
    if renamed is not None:
        return f"'{loc[-1]}' is now called '{renamed[0]}' ({renamed[1]}); rename it"
    name = str(loc[-1])
    known = _fields_at(model, loc[:-1])
    close = closest(name, known)
    hint = f"; did you mean '{close}'?" if close else f"; known fields here: {', '.join(known)}"
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
