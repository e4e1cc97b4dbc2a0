"""The SQL live store's schema, the same on SQLite and PostgreSQL, and its migrations.

Typed columns for everything a switch reads; JSON only for the nested parts (address,
tags, portal access, restriction windows, ...). The platform's own rules are enforced by
the database, so a write the platform would refuse is refused here too, whoever writes:

- currency is fixed once a customer exists (a trigger);
- status is one of the four the platform knows; channels, flow speed and minimum payment
  are never negative (CHECK constraints).

Each rule has a name that appears in the database's refusal, so `sql.py` can say which
rule refused a write (`RULES`).

Migrations: a fresh store is created from the tables below at `SCHEMA_VERSION`; an older
store is brought up to it by the steps in `MIGRATIONS`, applied in order on open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from reconciler.errors import ProviderError
from reconciler.model.customer import Status
from reconciler.providers.base import StoreState

SCHEMA_VERSION = 2
LOCK_NAME = "apply"
_SCALE = 4  # money has at most four decimal places (model.Money)


def canonical_money(amount: Decimal) -> Decimal:
    """The shortest exact form: 500.0000 -> 500, 0.5000 -> 0.5 (equal values, one spelling)."""
    if amount == amount.to_integral_value():
        return amount.quantize(Decimal(1))
    return amount.normalize()


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC(18, 4) on PostgreSQL, integer ten-thousandths on SQLite.

    SQLite has no decimal type and would hand back floats; an integer count of
    ten-thousandths is exact and still compares and sums in SQL. A float is refused.
    """

    impl = Numeric(18, _SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, _SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}: {value!r}")
        if dialect.name != "sqlite":
            return value
        scaled = Decimal(value).scaleb(_SCALE)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"money has at most {_SCALE} decimal places: {value}")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        amount = Decimal(value).scaleb(-_SCALE) if dialect.name == "sqlite" else Decimal(value)
        return canonical_money(amount)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, the same out (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

_STATUSES = ", ".join(f"'{status}'" for status in get_args(Status))

customer = Table(
    "customer",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("managed", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # basic fields
    Column("name", String(255)),
    Column("renamed_from", Json, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("flow_speed", Money, nullable=False),
    Column("status", String(16), nullable=False),
    Column("debit_limit", Money, nullable=False),
    Column("minimum_payment", Money, nullable=False),
    Column("topup_currencies", Json, nullable=False),
    Column("tax_percent", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    # config
    Column("paypal_email", String(320)),
    Column("website", Text),
    Column("p_asserted_id", String(16), nullable=False),
    Column("portal_access", Json, nullable=False),
    Column("tags", Json, nullable=False),
    Column("vars", Text),
    Column("reseller", String(255)),
    Column("account_manager", String(255)),
    Column("invoice_schedule", String(16), nullable=False),
    Column("invoice_due_days", Integer, nullable=False),
    Column("invoice_template", String(255)),
    Column("invoice_create_on_payment", Boolean, nullable=False),
    Column("allow_inbound_zero_balance", Boolean, nullable=False),
    Column("ext_accounting_id", String(255)),
    Column("rtp_firewall", String(16), nullable=False),
    Column("call_recording_retention_days", Integer, nullable=False),
    Column("domain", String(253)),
    Column("daily_spend_limit", Money),
    Column("stir_shaken_attestation", String(1)),
    # timeouts, address, verification, notes, day/time restriction
    Column("timeout_first_reply", Integer),
    Column("timeout_pdd", Integer),
    Column("timeout_ring", Integer),
    Column("address", Json, nullable=False),
    Column("verified_approved_cli_only", Boolean, nullable=False),
    Column("verified_email", Boolean, nullable=False),
    Column("verified_mobile", Boolean, nullable=False),
    Column("notes", Text),
    Column("day_time_restriction", Json),
    CheckConstraint(f"status IN ({_STATUSES})", name="customer_status_valid"),
    CheckConstraint("channels >= 0", name="customer_channels_not_negative"),
    CheckConstraint("flow_speed >= 0", name="customer_flow_speed_not_negative"),
    CheckConstraint("minimum_payment >= 0", name="customer_minimum_payment_not_negative"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("git_commit", String(64)),
    Column("plan_id", String(64)),
    Column("customer_key", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("field", String(255)),
    Column("before_value", Json),
    Column("after_value", Json),
)
AUDIT_BY_CUSTOMER = Index("audit_by_customer", audit.c.customer_key, audit.c.id)

lease = Table(
    "lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255)),
    Column("token", String(64)),
    Column("expires_at", UtcDateTime),
)

schema_meta = Table("schema_meta", metadata, Column("schema_version", Integer, nullable=False))

# Rule name (as it appears in the database's refusal) -> what the platform's rule says.
RULES: dict[str, str] = {
    "customer_currency_fixed": "currency is fixed once a customer exists",
    "customer_status_valid": f"status must be one of {', '.join(get_args(Status))}",
    "customer_channels_not_negative": "channels cannot be negative",
    "customer_flow_speed_not_negative": "flow_speed cannot be negative",
    "customer_minimum_payment_not_negative": "minimum_payment cannot be negative",
}

_SQLITE_RULES = (
    """
    CREATE TRIGGER customer_currency_fixed BEFORE UPDATE OF currency ON customer
    FOR EACH ROW WHEN NEW.currency IS NOT OLD.currency
    BEGIN
        SELECT RAISE(ABORT, 'customer_currency_fixed: currency is fixed once a customer exists');
    END
    """,
)
_POSTGRESQL_RULES = (
    """
    CREATE FUNCTION customer_currency_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.currency IS DISTINCT FROM OLD.currency THEN
            RAISE EXCEPTION 'customer_currency_fixed: currency is fixed once a customer exists (% -> %)',
                OLD.currency, NEW.currency USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER customer_currency_fixed BEFORE UPDATE OF currency ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_currency_fixed()
    """,
)


def _add_audit_index(connection: Connection) -> None:
    # Version 1 had no index on audit by customer: read_audit(key) scanned the table.
    AUDIT_BY_CUSTOMER.create(connection)


# Version -> the step that brings a store from version - 1 to it.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _add_audit_index}


def stored_version(connection: Connection) -> int | None:
    """The store's schema version; None when there is no store yet."""
    if not inspect(connection).has_table("schema_meta"):
        return None
    found: int = connection.execute(select(schema_meta.c.schema_version)).scalar_one()
    return found


def migrate(connection: Connection) -> StoreState:
    """Create the store, or bring it to `SCHEMA_VERSION`; call inside a write transaction."""
    if connection.dialect.name == "postgresql":
        # Two first opens at once: one creates, the other waits and finds it made.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('reconciler.schema'))"))
    found = stored_version(connection)
    if found is None:
        metadata.create_all(connection)
        rules = _SQLITE_RULES if connection.dialect.name == "sqlite" else _POSTGRESQL_RULES
        for statement in rules:
            connection.execute(text(statement))
        connection.execute(insert(schema_meta).values(schema_version=SCHEMA_VERSION))
        connection.execute(insert(lease).values(name=LOCK_NAME))
        return StoreState(created=True, schema_version=SCHEMA_VERSION, migrated_from=None)
    if found > SCHEMA_VERSION:
        raise ProviderError(
            f"the live store is at schema version {found}, newer than this reconciler knows "
            f"({SCHEMA_VERSION}); upgrade reconciler"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](connection)
    if found == SCHEMA_VERSION:
        return StoreState(created=False, schema_version=found, migrated_from=None)
    connection.execute(update(schema_meta).values(schema_version=SCHEMA_VERSION))
    return StoreState(created=False, schema_version=SCHEMA_VERSION, migrated_from=found)
