"""Our customer fields under ConnexCS's API names, and their values converted both ways.

ConnexCS publishes the API names of a few customer fields only. Confirmed by ConnexCS's own
code: `id`, `name`, `status`, `currency`, `debit_limit`, `tags`, `account_manager_id`; from
third-party code: `channels` and `cps`. Every other name in `BUILT_IN` is our best guess,
overridable in reconciler.toml (`[live.mapping]`), and `reconciler live status` shows which
mapped names a live record does not carry.

Values are converted exactly:

- money and other decimals go out as strings of their exact decimal text ("500.00", "2.5"):
  JSON numbers are read as floats by many servers (the stand-in's among them), which round
  past 17 digits. The `decimals = "number"` option sends them as JSON numbers written from
  the same text, never through a float. They are read back from a string, an integer or a
  JSON number parsed as a `Decimal`;
- enumerated fields through a value map (ours -> the API's spelling; `[live.values."PATH"]`
  overrides entries of `DEFAULT_VALUES`);
- the account manager through `[live.account_manager_ids]` (name -> the platform's user
  id), as the API wants an id.

Live keys the mapping does not know are never sent back and never compared. `renamed_from`
is the repository's bookkeeping, kept in the state store, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from reconciler.errors import ConfigError, ProviderError
from reconciler.model.customer import Customer
from reconciler.model.fields import MONEY_FIELDS, SET_FIELDS, canonical, decimal_text, unflatten
from reconciler.model.messages import show
from reconciler.providers.base import LiveProblem

Kind = Literal["text", "integer", "decimal", "boolean", "choice", "texts", "object", "account_manager"]
Source = Literal["confirmed", "third-party code", "guess", "reconciler.toml"]
Decimals = Literal["string", "number"]


@dataclass(frozen=True)
class FieldMap:
    """One field of ours (a path of the customer document) under its API name."""

    path: str
    api: str
    kind: Kind
    source: Source


BUILT_IN: tuple[FieldMap, ...] = (
    FieldMap("name", "name", "text", "confirmed"),
    FieldMap("channels", "channels", "integer", "third-party code"),
    FieldMap("flow_speed", "cps", "decimal", "third-party code"),
    FieldMap("status", "status", "choice", "confirmed"),
    FieldMap("debit_limit", "debit_limit", "decimal", "confirmed"),
    FieldMap("minimum_payment", "minimum_payment", "decimal", "guess"),
    FieldMap("topup_currencies", "topup_currencies", "texts", "guess"),
    FieldMap("tax_percent", "tax_percent", "decimal", "guess"),
    FieldMap("currency", "currency", "text", "confirmed"),
    FieldMap("config.paypal_email", "paypal_email", "text", "guess"),
    FieldMap("config.website", "website", "text", "guess"),
    FieldMap("config.p_asserted_id", "p_asserted_id", "choice", "guess"),
    FieldMap("config.portal_access", "portal_access", "object", "guess"),
    FieldMap("config.tags", "tags", "texts", "confirmed"),
    FieldMap("config.vars", "vars", "text", "guess"),
    FieldMap("config.reseller", "reseller", "text", "guess"),
    FieldMap("config.account_manager", "account_manager_id", "account_manager", "confirmed"),
    FieldMap("config.invoice.schedule", "invoice_schedule", "choice", "guess"),
    FieldMap("config.invoice.due_days", "invoice_due_days", "integer", "guess"),
    FieldMap("config.invoice.template", "invoice_template", "text", "guess"),
    FieldMap("config.invoice.create_on_payment", "invoice_on_payment", "boolean", "guess"),
    FieldMap("config.flags.allow_inbound_zero_balance", "allow_inbound_zero_balance", "boolean", "guess"),
    FieldMap("config.ext_accounting_id", "ext_accounting_id", "text", "guess"),
    FieldMap("config.rtp_firewall", "rtp_firewall", "choice", "guess"),
    FieldMap("config.call_recording_retention_days", "call_recording_retention", "integer", "guess"),
    FieldMap("config.domain", "domain", "text", "guess"),
    FieldMap("config.daily_spend_limit", "daily_spend_limit", "decimal", "guess"),
    FieldMap("config.stir_shaken_attestation", "stir_shaken_attestation", "choice", "guess"),
    FieldMap("timeouts.first_reply", "timeout_first_reply", "integer", "guess"),
    FieldMap("timeouts.pdd", "timeout_pdd", "integer", "guess"),
    FieldMap("timeouts.ring", "timeout_ring", "integer", "guess"),
    FieldMap("address.lines", "address_lines", "texts", "guess"),
    FieldMap("address.city", "city", "text", "guess"),
    FieldMap("address.region", "state", "text", "guess"),
    FieldMap("address.postcode", "postcode", "text", "guess"),
    FieldMap("address.country", "country", "text", "guess"),
    FieldMap("verification.approved_cli_only", "approved_cli_only", "boolean", "guess"),
    FieldMap("verification.require_email", "verify_email", "boolean", "guess"),
    FieldMap("verification.require_mobile", "verify_mobile", "boolean", "guess"),
    FieldMap("notes", "notes", "text", "guess"),
    FieldMap("day_time_restriction", "day_time_restriction", "object", "guess"),
)

# The platform's own spelling of enumerated values, where we guess it differs from ours:
# the control panel shows statuses capitalised. Every other enumerated field is sent as we
# spell it until [live.values."PATH"] says otherwise.
DEFAULT_VALUES: dict[str, dict[str, str]] = {
    "status": {"active": "Active", "inactive": "Inactive", "penalty": "Penalty", "pending_approval": "Pending Approval"},
}

# Fields the server keeps itself: a mapping onto them would write what cannot be written.
READ_ONLY = frozenset({"id", "credit", "last_call", "ips", "sip_users", "cards", "contact_name"})
_API_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class FieldMapping:
    """The mapping in use: the built-in table with reconciler.toml's overrides."""

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        values: Mapping[str, Mapping[str, str]] | None = None,
        account_manager_ids: Mapping[str, int] | None = None,
        *,
        decimals: Decimals = "string",
    ) -> None:
        """ConfigError naming the entry for a field path, API name or value that is wrong."""
        by_path = {field.path: field for field in BUILT_IN}
        for path, api in (overrides or {}).items():
            if path not in by_path:
                raise ConfigError(
                    f'live.mapping."{path}": no such field to map; mappable fields: {", ".join(by_path)}'
                )
            if not isinstance(api, str) or not _API_NAME.match(api) or api in READ_ONLY:
                reason = "is read-only on the platform" if api in READ_ONLY else "is not an API field name"
                raise ConfigError(f'live.mapping."{path}": {show(api)} {reason}')
            by_path[path] = FieldMap(path, api, by_path[path].kind, "reconciler.toml")
        names: dict[str, str] = {}
        for field in by_path.values():
            if field.api in names:
                raise ConfigError(
                    f'live.mapping: "{names[field.api]}" and "{field.path}" are both mapped to {field.api}; '
                    "give each field its own API name"
                )
            names[field.api] = field.path
        self.fields: tuple[FieldMap, ...] = tuple(by_path.values())
        self.api: dict[str, str] = {field.path: field.api for field in self.fields}  # field path -> API name
        self._by_path = {field.path: field for field in self.fields}
        self.values = _value_maps(by_path, values or {})
        self._read_values = {path: {theirs: ours for ours, theirs in spelled.items()} for path, spelled in self.values.items()}
        self.account_manager_ids = _account_manager_ids(account_manager_ids or {})
        self._managers_by_id = {user_id: name for name, user_id in self.account_manager_ids.items()}
        self.decimals: Decimals = decimals
        self._routes = tuple((field, tuple(field.path.split("."))) for field in self.fields)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(field path, API name) of every field, in the form's order."""
        return tuple((field.path, field.api) for field in self.fields)

    # --- ours -> the API's --------------------------------------------------------------

    def to_api(self, key: str, customer: Customer) -> dict[str, Any]:
        """Every mapped field of CUSTOMER as the API spells it (`name` defaults to KEY);
        ProviderError naming the customer for a value the mapping cannot spell."""
        document = customer.model_dump(by_alias=True)
        wire: dict[str, Any] = {}
        for field, route in self._routes:
            value: Any = document
            for part in route:
                value = value[part]
            wire[field.api] = self._out(key, field, value)
        if wire[self.api["name"]] is None:
            wire[self.api["name"]] = key  # a customer's name is its key unless it has its own
        return wire

    def _out(self, key: str, field: FieldMap, value: Any) -> Any:
        if value is None:
            return None
        if field.kind == "decimal":
            text = decimal_text(value, money=field.path in MONEY_FIELDS)
            return Decimal(text) if self.decimals == "number" else text
        if field.kind == "choice":
            spelled = self.values.get(field.path, {})
            if value not in spelled:
                raise ProviderError(
                    f"{key}: {field.path} {show(value)} has no ConnexCS value in the mapping "
                    f"(known: {', '.join(spelled)}); add it to [live.values.\"{field.path}\"] in reconciler.toml"
                )
            return spelled[value]
        if field.kind == "account_manager":
            if value not in self.account_manager_ids:
                raise ProviderError(
                    f"{key}: {field.path} {show(value)} has no ConnexCS user id; add it to "
                    "[live.account_manager_ids] in reconciler.toml (name = user id)"
                )
            return self.account_manager_ids[value]
        if field.kind == "object":
            return canonical(value)
        if field.kind == "texts":
            return list(value)
        return value

    # --- the API's -> ours --------------------------------------------------------------

    def from_api(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[LiveProblem]]:
        """RECORD (as the API gives it) as a customer document of the model's shape, and a
        problem per value no conversion takes (the model judges the rest). A field the record
        does not carry is left out: the model's default stands for it."""
        flat: dict[str, Any] = {}
        problems: list[LiveProblem] = []
        for field in self.fields:
            if field.api not in record:
                continue
            raw = record[field.api]
            try:
                converted = self._in(field, raw)
            except _Refused as refusal:
                problems.append(LiveProblem(field.path, show(raw), str(refusal)))
                flat[field.path] = raw
                continue
            if converted is not _LEAVE_OUT:
                flat[field.path] = converted
        return unflatten(flat), problems

    def mapped_values(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The values of RECORD under mapped names only (what a digest of it may cover)."""
        return {field.api: record[field.api] for field in self.fields if field.api in record}

    def _in(self, field: FieldMap, raw: Any) -> Any:
        kind = field.kind
        if raw is None:
            # No list or map of ours is ever null: the API's null is the empty default.
            return _LEAVE_OUT if kind in ("texts", "object") and field.path != "day_time_restriction" else None
        if kind in ("integer", "account_manager"):
            number = _whole(raw)
            if kind == "integer":
                return raw if number is None else number
            if number is None or number not in self._managers_by_id:
                raise _Refused(
                    "no account manager has this ConnexCS user id in [live.account_manager_ids]; "
                    "add the manager's name with this id there"
                )
            return self._managers_by_id[number]
        if kind == "decimal" and isinstance(raw, str):
            try:
                amount = Decimal(raw.strip())
            except InvalidOperation:
                return raw  # the model says what is wrong with it
            return amount if amount.is_finite() else raw
        if kind == "boolean" and type(raw) is int and raw in (0, 1):
            return bool(raw)
        if kind == "choice":
            ours = self._read_values.get(field.path, {})
            if not isinstance(raw, str) or raw not in ours:
                raise _Refused(
                    f"no value of ours is spelt so; the mapping knows {', '.join(ours)}: add it to "
                    f"[live.values.\"{field.path}\"] in reconciler.toml"
                )
            return ours[raw]
        return raw

    def same(self, path: str, wanted: Any, live: Any) -> bool:
        """Whether a live value already is the value we would send (by value: "500" and
        "500.00" are one amount, a set in another order is the same set)."""
        field = self._by_path[path]
        return bool(_normal(field, wanted) == _normal(field, live))


class _Refused(Exception):
    """A live value no conversion of its field takes."""


_LEAVE_OUT = object()  # the model's default stands for the value


def _whole(raw: Any) -> int | None:
    if type(raw) is int:
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,18}", raw.strip()):
        return int(raw)
    return None


def _normal(field: FieldMap, value: Any) -> Any:
    if field.kind == "decimal" and isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return value
    if field.kind in ("integer", "account_manager"):
        number = _whole(value)
        return value if number is None else number
    if field.kind == "boolean" and type(value) is int and value in (0, 1):
        return bool(value)
    if field.kind == "texts" and field.path in SET_FIELDS and isinstance(value, list):
        return sorted(value, key=repr)
    return value


def _value_maps(by_path: Mapping[str, FieldMap], given: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for path, field in by_path.items():
        if field.kind == "choice":
            maps[path] = {value: value for value in _choices(path)} | DEFAULT_VALUES.get(path, {})
    for path, spelled in given.items():
        if path not in maps:
            raise ConfigError(
                f'live.values."{path}": not an enumerated field; enumerated fields: {", ".join(maps)}'
            )
        for ours, theirs in spelled.items():
            if ours not in maps[path]:
                raise ConfigError(
                    f'live.values."{path}".{ours}: not a value of {path}; its values: {", ".join(maps[path])}'
                )
            if not isinstance(theirs, str) or not theirs:
                raise ConfigError(f'live.values."{path}".{ours}: expected the API\'s spelling, got {show(theirs)}')
            maps[path][ours] = theirs
        spellings = list(maps[path].values())
        if len(set(spellings)) != len(spellings):
            raise ConfigError(f'live.values."{path}": two of our values are spelt the same way; spell each its own')
    return maps


def _account_manager_ids(given: Mapping[str, int]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name, user_id in given.items():
        if type(user_id) is not int or user_id < 0:
            raise ConfigError(f'live.account_manager_ids."{name}": expected the ConnexCS user id (a whole number)')
        if user_id in ids.values():
            raise ConfigError(f'live.account_manager_ids."{name}": user id {user_id} is given to two managers')
        ids[name] = user_id
    return ids


def _choices(path: str) -> tuple[str, ...]:
    """The values of an enumerated field of the customer model."""
    model: type[BaseModel] = Customer
    annotation: Any = None
    for part in path.split("."):
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return _literals(annotation)


def _literals(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) is Literal:
        return tuple(str(value) for value in get_args(annotation))
    return tuple(value for argument in get_args(annotation) for value in _literals(argument))
