"""The customer account as the platform's form holds it: typed, constrained and frozen.

A customer file (customers.d/KEY.yaml or KEY.toml) is a `Customer`; its key is the file
stem and is not part of the document. Basic fields sit at the top, the rest in the blocks
the form groups them in. Money is `Decimal` end to end: the loaders never produce a float,
and a float handed in by code is refused rather than rounded.

The JSON schema in schemas/customer.schema.json is generated from these classes, so every
field carries a description (editors show it on hover).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_RE = re.compile(KEY_PATTERN)

Status = Literal["active", "inactive", "penalty", "pending_approval"]
Visibility = Literal["show", "hide"]
PortalFeature = Literal[
    "alerts",
    "balance",
    "breakout",
    "cdr",
    "cli",
    "did",
    "invoices",
    "payments",
    "rates",
    "routes",
    "sip_users",
    "support",
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        use_attribute_docstrings=False,
    )


# --- value types --------------------------------------------------------------------------


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


_MONEY = (BeforeValidator(_refuse_float), Field(max_digits=18, decimal_places=4, allow_inf_nan=False))
SignedMoney = Annotated[Decimal, *_MONEY, WithJsonSchema(_money_json_schema(signed=True))]
Money = Annotated[Decimal, *_MONEY, Field(ge=0), WithJsonSchema(_money_json_schema(signed=False))]
Percent = Annotated[
    Decimal, *_MONEY, Field(ge=0, le=100), WithJsonSchema(_money_json_schema(signed=False, maximum=100))
]


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def _check_currency(code: str) -> str:
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
    Field(json_schema_extra={"pattern": "^[A-Z]{3}$"}, description="ISO 4217 currency code, upper case."),
    AfterValidator(_check_currency),
]
Country = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^[A-Z]{2}$"}, description="ISO 3166-1 alpha-2 country code, upper case."),
    AfterValidator(_check_country),
]

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _check_website(url: str) -> str:
    # Validated as a URL but kept as written: a normalised form (trailing slash added)
    # would show as a change against the platform on every plan.
    try:
        _HTTP_URL.validate_python(url)
    except ValidationError as exc:
        raise PydanticCustomError(
            "website", "'{url}' is not an http(s) URL: {reason}", {"url": url, "reason": exc.errors()[0]["msg"]}
        ) from None
    return url


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
def _no_control_characters(text: str) -> str:
    # YAML's "\0" and TOML's "\u0000" escapes can put any character in a string; the
    # platform's database refuses NUL, and no field means any control but tab and newline
    # (nor half of a UTF-16 surrogate pair, which no database can store).
    for character in text:
        if (character < " " and character not in "\t\n\r") or character == "\x7f" or "\ud800" <= character <= "\udfff":
            raise PydanticCustomError(
                "control_character",
                "contains the control character U+{code}; remove it",
                {"code": f"{ord(character):04X}"},
            )
    return text


Text = Annotated[str, AfterValidator(_no_control_characters)]
ShortText = Annotated[Text, Field(min_length=1, max_length=255)]


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("unique", "'{value}' is listed twice", {"value": value})
        seen.add(value)
    return values


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


# --- blocks -------------------------------------------------------------------------------


class Invoice(Frozen):
    """How and when the platform invoices the customer."""

    schedule: Literal["none", "daily", "weekly", "monthly"] = Field(
        default="none", description="How often an invoice is raised."
    )
    due_days: StrictInt = Field(default=14, ge=0, le=365, description="Days after issue an invoice falls due.")
    template: ShortText | None = Field(default=None, description="Name of the invoice template.")
    create_on_payment: StrictBool = Field(
        default=False, description="Raise an invoice (receipt) for every payment received."
    )


class Flags(Frozen):
    """Behaviour switches."""

    allow_inbound_zero_balance: StrictBool = Field(
        default=False, description="Accept inbound calls while the balance is zero or below."
    )


class Config(Frozen):
    """The form's Config block."""

    paypal_email: EmailStr | None = Field(default=None, description="PayPal account the customer pays from.")
    website: Annotated[str, AfterValidator(_check_website)] | None = Field(
        default=None, description="The customer's website (http or https URL)."
    )
    p_asserted_id: Literal["default", "remove", "if_available", "required"] = Field(
        default="default", description="What to do with the P-Asserted-Identity header on outbound calls."
    )
    portal_access: dict[PortalFeature, Visibility] = Field(
        default_factory=dict,
        description="Customer portal pages to show or hide, by feature (unset: the platform default).",
    )
    tags: Annotated[list[Tag], AfterValidator(_unique)] = Field(
        default_factory=list, description="Free-form labels, each at most once."
    )
    vars: Text | None = Field(
        default=None,
        description="TOML text handed to routing scripts, stored verbatim and checked for TOML syntax.",
    )
    reseller: ShortText | None = Field(default=None, description="Reseller this customer belongs to.")
    account_manager: ShortText | None = Field(default=None, description="Account manager responsible.")
    invoice: Invoice = Field(default_factory=Invoice, description="Invoicing.")
    flags: Flags = Field(default_factory=Flags, description="Behaviour switches.")
    ext_accounting_id: ShortText | None = Field(
        default=None, description="The customer's id in an external accounting system."
    )
    rtp_firewall: Literal["locked", "unlocked"] = Field(
        default="locked", description="Whether media must come from the signalling address (locked)."
    )
    call_recording_retention_days: StrictInt = Field(
        default=0, ge=0, le=3650, description="Days call recordings are kept (0: not recorded)."
    )
    domain: Hostname | None = Field(default=None, description="SIP domain of the customer.")
    daily_spend_limit: Money | None = Field(
        default=None, description="Most the customer may spend in one UTC day (unset: no limit)."
    )
    stir_shaken_attestation: Literal["A", "B", "C"] | None = Field(
        default=None, description="STIR/SHAKEN attestation level for the customer's calls."
    )

    @field_validator("vars")
    @classmethod
    def _vars_is_toml(cls, text: str | None) -> str | None:
        if text is not None:
            check_toml(text)
        return text


def check_toml(text: str) -> None:
    """Raise a validation error whose context carries the line inside the TOML text."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise PydanticCustomError(
            "vars_toml",
            "invalid TOML on line {toml_line} of the text: {reason}",
            {"reason": _TOML_LINE_RE.sub("", str(exc)).strip(), "toml_line": line},
        ) from None


_TOML_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml_error_line(message: str) -> int:
    match = _TOML_LINE_RE.search(message)
    return int(match.group(1)) if match else 1


class Timeouts(Frozen):
    """Call set-up timeouts, in seconds (unset: the platform default)."""

    first_reply: StrictInt | None = Field(default=None, ge=1, le=300, description="Seconds to wait for any reply.")
    pdd: StrictInt | None = Field(default=None, ge=1, le=300, description="Post-dial delay: seconds to wait for ringing.")
    ring: StrictInt | None = Field(default=None, ge=1, le=3600, description="Seconds to let a call ring.")


class Address(Frozen):
    """Postal address."""

    lines: list[ShortText] = Field(default_factory=list, max_length=4, description="Street address lines.")
    city: ShortText | None = Field(default=None, description="City.")
    region: ShortText | None = Field(default=None, description="State, county or region.")
    postcode: Annotated[Text, Field(min_length=1, max_length=16)] | None = Field(
        default=None, description="Postal code."
    )
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2 country code.")


class Verification(Frozen):
    """What the customer has verified. An unverified customer cannot dial."""

    approved_cli_only: StrictBool = Field(default=False, description="Only caller IDs approved on the platform may be sent.")
    email: StrictBool = Field(default=False, description="The customer's email address is verified.")
    mobile: StrictBool = Field(default=False, description="The customer's mobile number is verified.")


class Window(Frozen):
    """A span of the day in which calls are allowed; `to` before `from` crosses midnight."""

    start: ClockTime = Field(alias="from", description="Start of the window, HH:MM.")
    end: ClockTime = Field(alias="to", description="End of the window, HH:MM; before `from` to cross midnight.")
    days: Annotated[list[Weekday], AfterValidator(_unique)] | None = Field(
        default=None,
        description="Days of the week the window starts on (mon..sun); unset: every day.",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end or (self.start, self.end) == ("24:00", "00:00"):
            raise PydanticCustomError(
                "window", "window {start}-{end} is empty; use 00:00-24:00 for the whole day",
                {"start": self.start, "end": self.end},
            )
        if self.start == "24:00":
            raise PydanticCustomError("window", "a window cannot start at 24:00; start it at 00:00")
        return self


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "'{name}' is not an IANA time zone (e.g. Europe/London, UTC)", {"name": name}
        ) from None
    return name


class DayTimeRestriction(Frozen):
    """When the customer may make calls."""

    timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
        description="IANA time zone the windows are in, e.g. Europe/London."
    )
    windows: list[Window] = Field(min_length=1, description="Allowed windows; calls outside all of them are refused.")


# --- the customer -------------------------------------------------------------------------


class Customer(Frozen):
    """One customer account. The file stem is its key; everything else is here."""

    name: ShortText | None = Field(
        default=None, description="Name shown on the platform; unique, case-insensitively (default: the key)."
    )
    renamed_from: Annotated[
        list[Annotated[str, Field(pattern=KEY_PATTERN)]], AfterValidator(_unique)
    ] = Field(default_factory=list, description="Earlier keys of this customer: a rename, not a delete and create.")
    channels: StrictInt = Field(default=0, ge=0, le=100_000, description="Maximum concurrent calls.")
    flow_speed: Money = Field(default=Decimal(0), description="Calls per second (CPS)."
    )
    status: Status = Field(default="active", description="Account status.")
    debit_limit: SignedMoney = Field(
        default=Decimal(0),
        description="How far below zero the balance may go; negative keeps a buffer above zero.",
    )
    minimum_payment: Money = Field(
        default=Decimal(0), description="Smallest payment the portal accepts."
    )
    topup_currencies: Annotated[list[Currency], AfterValidator(_unique)] = Field(
        default_factory=list, description="Currencies the customer may top up in (ISO 4217)."
    )
    tax_percent: Percent = Field(
        default=Decimal(0), description="Tax added to invoices, in percent (0..100)."
    )
    currency: Currency = Field(
        description="Account currency (ISO 4217). Fixed once the customer exists on the platform."
    )
    config: Config = Field(default_factory=Config, description="The form's Config block.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Call set-up timeouts in seconds.")
    address: Address = Field(default_factory=Address, description="Postal address.")
    verification: Verification = Field(default_factory=Verification, description="Verification state.")
    notes: Text | None = Field(default=None, max_length=10_000, description="Free text notes.")
    day_time_restriction: DayTimeRestriction | None = Field(
        default=None, description="When calls are allowed (unset: at any time)."
    )

    def document(self) -> dict[str, Any]:
        """The customer as a JSON-compatible document (money as exact strings)."""
        return self.model_dump(mode="json", by_alias=True)


# The order fields appear in a file written by the tool (import, compact): the form's order.
FIELD_ORDER: tuple[str, ...] = tuple(Customer.model_fields)
