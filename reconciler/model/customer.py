"""The customer account as the platform's form holds it: typed, constrained and frozen.

A customer file (customers.d/KEY.yaml or KEY.toml) is a `Customer`; its key is the file
stem and is not part of the document. Basic fields sit at the top, the rest in the blocks
the form groups them in; the value types they use are in `model.types`.

The JSON schema in schemas/customer.schema.json is generated from these classes, so every
field carries a description (editors show it on hover).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.model.types import (
    KEY_PATTERN,
    UNIQUE_ITEMS,
    WEBSITE_PATTERN,
    ClockTime,
    Country,
    Currency,
    Email,
    Frozen,
    Hostname,
    Money,
    Percent,
    ShortText,
    SignedMoney,
    Tag,
    Text,
    Timezone,
    check_toml,
    check_website,
    unique,
    unique_set,
)

Status = Literal["active", "inactive", "penalty", "pending_approval"]
Visibility = Literal["show", "hide"]
# The platform does not publish its list of portal features: any feature name it uses.
PORTAL_FEATURE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
PortalFeature = Annotated[str, Field(pattern=PORTAL_FEATURE_PATTERN)]
PortalAccess = Annotated[
    dict[PortalFeature, Visibility],
    # pydantic writes the key pattern as patternProperties, which lets other keys through.
    Field(json_schema_extra={"propertyNames": {"pattern": PORTAL_FEATURE_PATTERN}}),
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --- blocks -------------------------------------------------------------------------------


class Invoice(Frozen):
    """How and when the platform invoices the customer."""

    schedule: Literal["none", "daily", "weekly", "monthly"] = Field(
        default="none", description="How often an invoice is raised."
    )
    due_days: StrictInt | None = Field(
        default=None, ge=0, le=365,
        description="Invoice Due Days: the allowed number of days past the due date that the invoice can "
        "go unpaid (unset: the platform's default). At most 365, a guard against a typo, not a platform limit.",
    )
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

    paypal_email: Email | None = Field(default=None, description="PayPal account the customer pays from.")
    website: Annotated[str, AfterValidator(check_website), Field(json_schema_extra={"pattern": WEBSITE_PATTERN})] | None = Field(
        default=None, description="The customer's website (http or https URL)."
    )
    p_asserted_id: Literal["default", "remove", "if_available", "required"] = Field(
        default="default", description="What to do with the P-Asserted-Identity header on outbound calls."
    )
    portal_access: PortalAccess = Field(
        default_factory=dict,
        description="Customer portal features to show or hide, by the platform's feature name "
        "(e.g. cdr, invoices, payments); a feature not listed keeps the platform's default.",
    )
    tags: Annotated[list[Tag], AfterValidator(unique_set), UNIQUE_ITEMS] = Field(
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
        default="locked", description="The platform's RTP firewall setting for the customer's media: locked or unlocked."
    )
    call_recording_retention_days: StrictInt | None = Field(
        default=None, ge=0, le=3650,
        description="Days the platform keeps the customer's call recordings (unset: the platform's default). "
        "At most 3,650 (ten years), a guard against a typo.",
    )
    domain: Hostname | None = Field(
        default=None,
        description="The portal domain the customer signs in to, one of the platform's domains (it sets the "
        "portal's brand, price points, support levels and features); with catalogs.domains in "
        "reconciler.toml, one of those. Not a SIP domain.",
    )
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


class Timeouts(Frozen):
    """Call set-up timeouts, in seconds (unset: the platform default). The upper bounds are guards
    against a typo (a timeout in milliseconds), not platform limits."""

    first_reply: StrictInt | None = Field(
        default=None, ge=1, le=300, description="Seconds to wait for any reply (1..300, a guard)."
    )
    pdd: StrictInt | None = Field(
        default=None, ge=1, le=300, description="Post-dial delay: seconds to wait for ringing (1..300, a guard)."
    )
    ring: StrictInt | None = Field(default=None, ge=1, le=3600, description="Seconds to let a call ring (1..3600, a guard).")


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
    """What the platform requires of the customer before and while it dials (the form's
    Verification tab). A required verification not yet done keeps the customer from dialling."""

    approved_cli_only: StrictBool = Field(
        default=False, description="Only caller IDs approved on the platform may be sent."
    )
    require_email: StrictBool = Field(
        default=False,
        description="Email Verification: force the customer to verify their email address in the portal; "
        "until they do, they cannot dial. Set it when you create a customer by hand.",
    )
    require_mobile: StrictBool = Field(
        default=False,
        description="Mobile Verification: force the customer to verify their mobile number in the portal; "
        "until they do, they cannot dial.",
    )


class Window(Frozen):
    """A span of the day in which calls are allowed; `to` before `from` crosses midnight."""

    start: ClockTime = Field(alias="from", description="Start of the window, HH:MM.")
    end: ClockTime = Field(alias="to", description="End of the window, HH:MM; before `from` to cross midnight.")
    days: Annotated[list[Weekday], AfterValidator(unique), UNIQUE_ITEMS] | None = Field(
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


class DayTimeRestriction(Frozen):
    """When the customer may make calls."""

    timezone: Timezone = Field(
        description="IANA time zone the windows are in, e.g. Europe/London."
    )
    windows: list[Window] = Field(min_length=1, description="Allowed windows; calls outside all of them are refused.")


# --- the customer -------------------------------------------------------------------------


# Where `model.fields` keeps a customer's canonical document and its fields once made: in
# the instance's __dict__, beside the fields (pydantic's equality, hash and dumps read only
# the fields). A copy with changed fields must not carry them.
KEPT_CANONICAL = "_kept_canonical"
KEPT_FIELDS = "_kept_fields"
KEPT_DIGEST = "_kept_digest"


class Customer(Frozen):
    """One customer account. The file stem is its key; everything else is here."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for kept in (KEPT_CANONICAL, KEPT_FIELDS, KEPT_DIGEST):
                copied.__dict__.pop(kept, None)
        return copied

    name: ShortText | None = Field(
        default=None, description="Name shown on the platform; unique, case-insensitively (default: the key)."
    )
    renamed_from: Annotated[
        list[Annotated[str, Field(pattern=KEY_PATTERN)]], AfterValidator(unique_set), UNIQUE_ITEMS
    ] = Field(default_factory=list, description="Earlier keys of this customer: a rename, not a delete and create.")
    channels: StrictInt = Field(
        default=0, ge=0, le=100_000,
        description="Maximum concurrent calls. What 0 means on the platform is not documented: set it. "
        "At most 100,000, a guard against a typo, not a platform limit.",
    )
    flow_speed: Money = Field(
        default=Decimal(0),
        description="Calls per second (CPS). What 0 means on the platform is not documented: set it.",
    )
    status: Status = Field(
        default="active",
        description="Account status. Removing the file sets inactive; penalty is usually the platform's own "
        "(balance, alerts), and the reconciler leaves a penalty it did not ask for alone.",
    )
    debit_limit: SignedMoney = Field(
        default=Decimal(0),
        description="How far below zero the balance may go; negative keeps a buffer above zero.",
    )
    minimum_payment: Money = Field(
        default=Decimal(0), description="Smallest payment the portal accepts."
    )
    topup_currencies: Annotated[list[Currency], AfterValidator(unique_set), UNIQUE_ITEMS] = Field(
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
    verification: Verification = Field(
        default_factory=Verification, description="Verification the platform requires of the customer."
    )
    notes: Text | None = Field(default=None, max_length=10_000, description="Free text notes.")
    day_time_restriction: DayTimeRestriction | None = Field(
        default=None, description="When calls are allowed (unset: at any time)."
    )


# The order fields appear in a file written by the tool (import, compact): the form's order.
FIELD_ORDER: tuple[str, ...] = tuple(Customer.model_fields)
