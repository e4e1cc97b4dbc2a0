"""Translation between `Customer` and a row of the SQL store's `customer` table.

A row is written from the customer's canonical document (`model.fields`), its amounts
made `Decimal` again for their typed columns (`row_from_canonical`): a create the plan
holds as that document is written without its customer made again. A row is read back as
the Python form of `Customer.model_dump(by_alias=True)` (`document_from_row`), which the
model validates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Dialect,
    Integer,
    Select,
    bindparam,
    select,
    type_coerce,
    update,
)
from sqlalchemy.types import NullType, TypeEngine

from reconciler.model.fields import digest, is_digest, remember_digest
from reconciler.model.messages import show
from reconciler.providers.base import LiveCustomer, LiveProblem, LiveRecord
from reconciler.providers.columns import Json, JsonText, UtcDateTime
from reconciler.providers.records import live_record
from reconciler.providers.schema import Money, customer

# Document path -> column. A path may end at a branch (address): its column is JSON.
FIELD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("renamed_from", "renamed_from"),
    ("channels", "channels"),
    ("flow_speed", "flow_speed"),
    ("status", "status"),
    ("debit_limit", "debit_limit"),
    ("minimum_payment", "minimum_payment"),
    ("topup_currencies", "topup_currencies"),
    ("tax_percent", "tax_percent"),
    ("currency", "currency"),
    ("config.paypal_email", "paypal_email"),
    ("config.website", "website"),
    ("config.p_asserted_id", "p_asserted_id"),
    ("config.portal_access", "portal_access"),
    ("config.tags", "tags"),
    ("config.vars", "vars"),
    ("config.reseller", "reseller"),
    ("config.account_manager", "account_manager"),
    ("config.invoice.schedule", "invoice_schedule"),
    ("config.invoice.due_days", "invoice_due_days"),
    ("config.invoice.template", "invoice_template"),
    ("config.invoice.create_on_payment", "invoice_create_on_payment"),
    ("config.flags.allow_inbound_zero_balance", "allow_inbound_zero_balance"),
    ("config.ext_accounting_id", "ext_accounting_id"),
    ("config.rtp_firewall", "rtp_firewall"),
    ("config.call_recording_retention_days", "call_recording_retention_days"),
    ("config.domain", "domain"),
    ("config.daily_spend_limit", "daily_spend_limit"),
    ("config.stir_shaken_attestation", "stir_shaken_attestation"),
    ("timeouts.first_reply", "timeout_first_reply"),
    ("timeouts.pdd", "timeout_pdd"),
    ("timeouts.ring", "timeout_ring"),
    ("address", "address"),
    ("verification.approved_cli_only", "approved_cli_only"),
    ("verification.require_email", "require_email"),
    ("verification.require_mobile", "require_mobile"),
    ("notes", "notes"),
    ("day_time_restriction", "day_time_restriction"),
)
_ROUTES = tuple((tuple(path.split(".")), column) for path, column in FIELD_COLUMNS)
_FIELD_OF_COLUMN = {column: path for path, column in FIELD_COLUMNS}


def digest_columns(known: str, version: int) -> dict[str, Any]:
    """The digest columns of a row written at VERSION with the customer whose digest is KNOWN."""
    return {"digest": known, "digest_version": version}


_SET_DIGEST = (
    update(customer)
    .where(customer.c.key == bindparam("where_key", type_=customer.c.key.type))
    .values(digest=bindparam("set_digest"), digest_version=bindparam("set_version", type_=Integer()))
)


def digest_rows(connection: Connection) -> None:
    """Set the digest of every row the model can read (schema version 5 does it once)."""
    found = []
    for row in connection.execute(RAW_CUSTOMER).mappings():
        record = record_from_row(row, connection.dialect)
        if isinstance(record, LiveCustomer):
            found.append({"where_key": record.key, "set_digest": digest(record.customer), "set_version": record.version})
    if found:
        connection.execute(_SET_DIGEST, found)


def row_from_canonical(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `customer` table's field columns for a customer's canonical document: its values
    as they are, but each amount a `Decimal` of its exact text (`Money`). The canonical form
    spells nothing else a column holds otherwise than the model does (tests/providers/
    test_sql_store.py holds the two equal over generated customers)."""
    row: dict[str, Any] = {}
    for route, column in _ROUTES:
        value: Any = document
        for part in route:
            value = value[part]
        row[column] = Decimal(value) if column in _MONEY_COLUMNS and value is not None else value
    return row


_MONEY_COLUMNS = frozenset(column.name for column in customer.columns if isinstance(column.type, Money))


def document_from_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The document of a row's field columns (as `Customer.model_dump` holds it, amounts as
    `Decimal`), for the model to validate."""
    document: dict[str, Any] = {}
    for route, column in _ROUTES:
        branch = document
        for part in route[:-1]:
            branch = branch.setdefault(part, {})
        branch[route[-1]] = row[column]
    return document


def raw(*columns: Column[Any]) -> Select[*tuple[Any, ...]]:
    """COLUMNS of the customer table as the database holds them, without SQLAlchemy's type
    processing: a row someone wrote by hand (text in a money column, broken JSON) must not
    stop a read. A JSON column comes as its text (`columns.JsonText`), for `decode_row` to read."""
    return select(*(
        (JsonText(column) if isinstance(column.type, Json) else type_coerce(column, NullType())).label(column.name)
        for column in columns
    ))


RAW_CUSTOMER = raw(*customer.columns)


def decode_row(row: Mapping[Any, Any], dialect: Dialect) -> tuple[dict[str, Any], list[LiveProblem]]:
    """A raw row's values as their columns' types read them; a value its column cannot hold
    is kept as it is and named in a problem."""
    decoded: dict[str, Any] = {}
    problems: list[LiveProblem] = []
    for name, decode in _decoders():
        value = row[name]
        if value is None or decode is None:
            decoded[name] = value
            continue
        try:
            decoded[name] = decode(value, dialect)
        except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            decoded[name] = value
            field = _FIELD_OF_COLUMN.get(name, name)
            problems.append(LiveProblem(field, show(value), f"the store's {name} column cannot hold it: {_reason(exc)}"))
    return decoded, problems


Decode = Callable[[Any, Dialect], Any]


@cache
def _decoders() -> list[tuple[str, Decode | None]]:
    """Each column of the customer table, and how a value of it is read (None: as it is),
    chosen once: a plan may decode a hundred thousand rows of 46 columns."""
    return [(column.name, _decoder(column.type)) for column in customer.columns]


def _decoder(kind: TypeEngine[Any]) -> Decode | None:
    if isinstance(kind, Money):
        money = kind
        return lambda value, dialect: money.process_result_value(
            value if isinstance(value, int | Decimal) else Decimal(str(value)), dialect
        )
    if isinstance(kind, Json):
        return lambda value, _: json.loads(value) if isinstance(value, str | bytes) else value
    if isinstance(kind, Boolean):
        return _boolean
    if isinstance(kind, UtcDateTime):
        instant = kind
        return lambda value, dialect: instant.process_result_value(
            value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value), dialect
        )
    return None


def _boolean(value: Any, _: Dialect) -> bool:
    if value in (0, 1):  # True and False are 1 and 0
        return bool(value)
    raise ValueError("not a boolean")


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return "not valid JSON"
    if isinstance(exc, ArithmeticError):
        return "not a number"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__


def record_from_row(row: Mapping[Any, Any], dialect: Dialect) -> LiveRecord:
    """A raw row (`RAW_CUSTOMER`) as the live record it is: readable or not."""
    decoded, problems = decode_row(row, dialect)
    record = live_record(
        str(decoded["key"]), document_from_row(decoded),
        version=int(decoded["version"]), managed=bool(decoded["managed"]), active=bool(decoded["active"]),
        problems=problems,
    )
    # The digest the reconciler wrote with the row describes it while no write came since
    # (a write outside the reconciler bumps the version past it: schema.py's trigger).
    known = decoded["digest"]
    if isinstance(record, LiveCustomer) and decoded["digest_version"] == record.version and is_digest(known):
        remember_digest(record.customer, known)
    return record
