"""The value types of a customer document: money, codes, names, text, times of day.

Each type carries its constraints and the description editors show, so the customer
model (`model.customer`) reads as the platform's form and nothing else. Money is
`Decimal` end to end: the loaders never produce a float, and a float handed in by code
is refused rather than rounded.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from reconciler.tomlparse import parse_toml

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_RE = re.compile(KEY_PATTERN)


class Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        use_attribute_docstrings=False,
        # The validator is built when first used, not on import: a plan of an unchanged
        # fleet validates no customer, and building the model's validator is a fifth of a
        # second of its startup.
        defer_build=True,
    )


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise PydanticCustomError(
            "money_float",
            "a float cannot hold money exactly; write the amount as a decimal number",
        )
    return value


def _money_json_schema(*, signed: bool, maximum: int | None = None) -> dict[str, Any]:
    # Written as a number or a string of digits; at most 4 decimal places either way.
    sign = "-?" if signed else ""
    number: dict[str, Any] = {"type": "number"}
    if not signed:
        number["minimum"] = 0
    if maximum is not None:
        number["maximum"] = maximum
    return {
        "anyOf": [number, {"type": "string", "pattern": rf"^{sign}[0-9]{{1,14}}(\.[0-9]{{1,4}})?$"}],
    }


# The limits before the float check: pydantic checks the constraints that come before any
# validator in its core, and those after one in Python (a twentieth of a file's validation).
_DIGITS = Field(max_digits=18, decimal_places=4, allow_inf_nan=False)
_NO_FLOAT = BeforeValidator(_refuse_float)
SignedMoney = Annotated[Decimal, _DIGITS, _NO_FLOAT, WithJsonSchema(_money_json_schema(signed=True))]
Money = Annotated[Decimal, _DIGITS, Field(ge=0), _NO_FLOAT, WithJsonSchema(_money_json_schema(signed=False))]
Percent = Annotated[
    Decimal, _DIGITS, Field(ge=0, le=100), _NO_FLOAT, WithJsonSchema(_money_json_schema(signed=False, maximum=100))
]


# pycountry is imported when a code is first checked, not with the model: a plan of an
# unchanged fleet checks none, and the import is a hundredth of a second of its start.
@cache
def currency_codes() -> frozenset[str]:
    import pycountry

    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


@cache
def country_codes() -> frozenset[str]:
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


# ISO 4217 codes that are not money an account can be kept in: precious metals, bond market
# and accounting units, the SDR, the testing code and "no currency".
NOT_MONEY = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})


def _check_currency(code: str) -> str:
    if code in NOT_MONEY:
        raise PydanticCustomError(
            "currency", "'{code}' is an ISO 4217 code for something that is not money (a metal, a unit of "
            "account, testing, or no currency); use the currency the account is kept in, e.g. USD", {"code": code}
        )
    if code not in currency_codes():
        raise PydanticCustomError(
            "currency", "'{code}' is not an ISO 4217 currency code (upper case, e.g. USD, EUR, GBP)", {"code": code}
        )
    return code


def _check_country(code: str) -> str:
    if code not in country_codes():
        raise PydanticCustomError(
            "country", "'{code}' is not an ISO 3166-1 alpha-2 country code (upper case, e.g. US, GB, NO)", {"code": code}
        )
    return code


Currency = Annotated[
    str,
    # The pattern is for editors; the check below gives the clearer message.
    Field(
        json_schema_extra={"pattern": "^[A-Z]{3}$", "not": {"enum": sorted(NOT_MONEY)}},
        description="ISO 4217 currency code, upper case; not one of the codes that are not money (XAU, XXX, ...).",
    ),
    AfterValidator(_check_currency),
]
Country = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^[A-Z]{2}$"}, description="ISO 3166-1 alpha-2 country code, upper case."),
    AfterValidator(_check_country),
]

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


WEBSITE_PATTERN = r"^https?://[^\s/?#]+([/?#]\S*)?$"  # the gist, for editors; `check_website` decides


def check_website(url: str) -> str:
    # Validated as a URL but kept as written: a normalised form (trailing slash added)
    # would show as a change against the platform on every plan.
    try:
        _HTTP_URL.validate_python(url)
    except ValidationError as exc:
        raise PydanticCustomError(
            "website", "'{url}' is not an http(s) URL: {reason}", {"url": url, "reason": exc.errors()[0]["msg"]}
        ) from None
    return url


# An address of the plainest kind (letters, digits and . _ + - before the @; a lower-case
# host name of at least two labels after it, none an IDNA label or of a special-use name):
# one that email-validator accepts and gives back as it is. Each such address is that
# address, without its ~20-40 µs (a fleet of 100,000 spent ~1.7 s of CPU on it); any other
# goes to email-validator through pydantic's `EmailStr`, for its verdict and its message.
# tests/model/test_customer.py holds the two in agreement over generated addresses.
_PLAIN_EMAIL = re.compile(
    r"(?=.{6,254}$)(?=[^@]{1,64}@)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?!(?:arpa|invalid|local|localhost|onion|test)$)[a-z]{2,63}"
)


def _plain_email(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if type(value) is str and _PLAIN_EMAIL.fullmatch(value):
        return value
    return handler(value)


Email = Annotated[EmailStr, WrapValidator(_plain_email)]


HOSTNAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
Hostname = Annotated[
    str,
    Field(pattern=HOSTNAME_PATTERN, max_length=253, description="A fully qualified host name, lower case."),
]
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"
Tag = Annotated[
    str,
    Field(
        pattern=TAG_PATTERN,
        description="A tag: letters, digits and _ . : / -, at most 64 characters.",
    ),
]
# Any control character but tab, newline and carriage return; DEL; half of a surrogate pair.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# The same characters as bytes of UTF-8, where no other character's bytes fall among them.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _no_control_characters(text: str) -> str:
    # YAML's "\0" and TOML's "\u0000" escapes can put any character in a string; the
    # platform's database refuses NUL, and no field means any control but tab and newline
    # (nor half of a UTF-16 surrogate pair, which no database can store). This runs on every
    # text of every file: the text's UTF-8 (which has no half of a pair) with the control
    # bytes taken out, in C, is ~5x sooner than a regular expression over a long note.
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        encoded = b""  # half of a surrogate pair: found below
    if encoded and len(encoded.translate(None, _CONTROL_BYTES)) == len(encoded):
        return text
    found = _CONTROL_CHARACTER.search(text)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "contains the control character U+{code}; remove it",
            {"code": f"{ord(found.group()):04X}"},
        )
    return text


# The same rule for editors and check-jsonschema (the model's own check gives the clearer message).
_NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$"
Text = Annotated[
    str, AfterValidator(_no_control_characters), Field(json_schema_extra={"pattern": _NO_CONTROL_CHARACTERS})
]
ShortText = Annotated[Text, Field(min_length=1, max_length=255)]


def unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("unique", "'{value}' is listed twice", {"value": value})
        seen.add(value)
    return values


# What `unique` and `unique_set` check, as the JSON Schema says it.
UNIQUE_ITEMS = Field(json_schema_extra={"uniqueItems": True})


def unique_set(values: list[Any]) -> list[Any]:
    """A list the platform treats as a set: each item once, kept sorted, so two customers
    that differ only in the order their tags were written are the same customer."""
    return sorted(unique(values))


def _hh_mm(value: Any) -> Any:
    # TOML reads `from = 08:00:00` as a local time; YAML 1.2 reads `08:00` as a string.
    if isinstance(value, dt.time):
        if value.second or value.microsecond or value.tzinfo:
            raise PydanticCustomError("hh_mm", "a window boundary is a time of day as HH:MM")
        return value.strftime("%H:%M")
    return value


CLOCK_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
ClockTime = Annotated[
    str,
    BeforeValidator(_hh_mm),
    Field(pattern=CLOCK_PATTERN),
    WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN}),
]


def check_toml(text: str) -> None:
    """Raise a validation error whose context carries the line and column inside the TOML text."""
    try:
        parse_toml(text)
    except tomli.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        line, column = (int(match.group(1)), int(match.group(2))) if match else (1, 1)
        raise PydanticCustomError(
            "vars_toml",
            "invalid TOML on line {toml_line} of the text: {reason}",
            {"reason": _TOML_LINE_RE.sub("", str(exc)).strip(), "toml_line": line, "toml_column": column},
        ) from None
    except RecursionError:  # tomli's limits: values nested over 400 levels, keys of over 1000 parts
        raise PydanticCustomError(
            "vars_toml_limit", "the TOML text nests too deep to read (over 400 levels, or a key of over 1000 parts); flatten it"
        ) from None
    except ValueError:  # Python's own limit: an integer of over 4300 digits
        raise PydanticCustomError(
            "vars_toml_limit", "the TOML text holds a number too long to read (over 4300 digits); shorten it"
        ) from None


_TOML_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "'{name}' is not an IANA time zone (e.g. Europe/London, UTC)", {"name": name}
        ) from None
    return name


Timezone = Annotated[str, AfterValidator(_check_timezone)]


# --- instants ----------------------------------------------------------------------------


def instant_text(instant: dt.datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z: 2026-12-24T18:00:00Z."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: Any) -> Any:
    # YAML 1.2 reads a timestamp as a string; TOML gives a datetime, with or without a zone.
    text = value if isinstance(value, str) else value.isoformat() if isinstance(value, dt.datetime) else ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "instant", "'{text}' is not an instant; write it as 2026-12-27T06:00:00Z", {"text": text}
            ) from None
    if not isinstance(value, dt.datetime):
        raise PydanticCustomError("instant", "is not an instant; write it as 2026-12-27T06:00:00Z")
    if value.tzinfo is None:
        raise PydanticCustomError(
            "instant", "'{text}' has no time zone; add Z for UTC or an offset such as +01:00", {"text": text}
        )
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise PydanticCustomError(
            "instant", "'{text}' is out of range: the instant in UTC falls before year 1 or after 9999",
            {"text": text},
        ) from None


Instant = Annotated[
    dt.datetime,
    BeforeValidator(_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": r"(Z|[+-]\d{2}:\d{2})$"}),
]


LAST_INSTANT = dt.datetime.max.replace(tzinfo=dt.UTC)


def later_by(instant: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """INSTANT + DELTA, or the last instant there is when that would pass year 9999."""
    try:
        return instant + delta
    except OverflowError:
        return LAST_INSTANT
