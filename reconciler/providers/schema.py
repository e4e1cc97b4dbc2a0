"""The SQL live store's schema, the same on SQLite and PostgreSQL, and its migrations.

Typed columns for everything a switch reads; JSON only for the nested parts (address,
tags, portal access, restriction windows, ...). The platform's own rules, and
every enum, range and sign of the customer model, are enforced by the database, so a write
the model or the platform would refuse is refused here too, whoever writes:

- currency is fixed once a customer exists (a trigger);
- every enumerated field holds one of its values, every range and sign holds (CHECK
  constraints, `CHECKS`). Values no constraint can express (an email address, a time zone,
  TOML text, an ISO code) are the model's to refuse when the record is read.

Each rule has a name that appears in the database's refusal, so `sql.py` can say which
rule refused a write (`RULES`).

Migrations: a fresh store is created from the tables below at `SCHEMA_VERSION`; an older
store is brought up to it by the steps in `MIGRATIONS`, applied in order on open. A step
never fails because of rows already there: constraints added later hold for every write
from then on, and rows that break them are reported (`StoreState.notes`) and read back as
unreadable records, which the plan blocks one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    text,
)
from sqlalchemy.types import TypeEngine

from reconciler.model.customer import Status
from reconciler.providers import migrations
from reconciler.providers.base import StoreState
from reconciler.providers.columns import Json, UtcDateTime
from reconciler.providers.ledger import audit_table, create_lock, lease_table, runs_table

SCHEMA_VERSION = 6
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

metadata = MetaData()

def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _money(amount: int, dialect: str) -> int:
    """An amount as the column stores it: ten-thousandths on SQLite (see `Money`)."""
    return amount * 10**_SCALE if dialect == "sqlite" else amount


# Rule name -> (what it says, its condition per dialect). A null passes every condition
# on a column that may be null.
CHECKS: dict[str, tuple[str, Callable[[str], str]]] = {
    "customer_status_valid": (
        f"status must be one of {', '.join(get_args(Status))}", lambda d: f"status IN ({_one_of(get_args(Status))})"
    ),
    "customer_channels_not_negative": ("channels cannot be negative", lambda d: "channels >= 0"),
    "customer_channels_at_most": ("channels is at most 100000", lambda d: "channels <= 100000"),
    "customer_flow_speed_not_negative": ("flow_speed cannot be negative", lambda d: "flow_speed >= 0"),
    "customer_minimum_payment_not_negative": ("minimum_payment cannot be negative", lambda d: "minimum_payment >= 0"),
    "customer_tax_percent_range": (
        "tax_percent is between 0 and 100", lambda d: f"tax_percent >= 0 AND tax_percent <= {_money(100, d)}"
    ),
    "customer_daily_spend_limit_not_negative": (
        "config.daily_spend_limit cannot be negative", lambda d: "daily_spend_limit IS NULL OR daily_spend_limit >= 0"
    ),
    "customer_p_asserted_id_valid": (
        "config.p_asserted_id must be one of default, remove, if_available, required",
        lambda d: f"p_asserted_id IN ({_one_of(('default', 'remove', 'if_available', 'required'))})",
    ),
    "customer_invoice_schedule_valid": (
        "config.invoice.schedule must be one of none, daily, weekly, monthly",
        lambda d: f"invoice_schedule IN ({_one_of(('none', 'daily', 'weekly', 'monthly'))})",
    ),
    "customer_invoice_due_days_range": (
        "config.invoice.due_days is between 0 and 365",
        lambda d: "invoice_due_days IS NULL OR (invoice_due_days >= 0 AND invoice_due_days <= 365)",
    ),
    "customer_rtp_firewall_valid": (
        "config.rtp_firewall must be locked or unlocked", lambda d: f"rtp_firewall IN ({_one_of(('locked', 'unlocked'))})"
    ),
    "customer_retention_range": (
        "config.call_recording_retention_days is between 0 and 3650",
        lambda d: "call_recording_retention_days IS NULL OR "
        "(call_recording_retention_days >= 0 AND call_recording_retention_days <= 3650)",
    ),
    "customer_attestation_valid": (
        "config.stir_shaken_attestation must be A, B or C",
        lambda d: f"stir_shaken_attestation IS NULL OR stir_shaken_attestation IN ({_one_of(('A', 'B', 'C'))})",
    ),
    "customer_timeout_first_reply_range": (
        "timeouts.first_reply is between 1 and 300",
        lambda d: "timeout_first_reply IS NULL OR (timeout_first_reply >= 1 AND timeout_first_reply <= 300)",
    ),
    "customer_timeout_pdd_range": (
        "timeouts.pdd is between 1 and 300", lambda d: "timeout_pdd IS NULL OR (timeout_pdd >= 1 AND timeout_pdd <= 300)"
    ),
    "customer_timeout_ring_range": (
        "timeouts.ring is between 1 and 3600",
        lambda d: "timeout_ring IS NULL OR (timeout_ring >= 1 AND timeout_ring <= 3600)",
    ),
}
# The rules of version 2; those after it are added by `_add_checks`.
_V2_CHECKS = (
    "customer_status_valid", "customer_channels_not_negative", "customer_flow_speed_not_negative",
    "customer_minimum_payment_not_negative",
)


def _checks() -> list[CheckConstraint]:
    """Every rule of CHECKS, once per dialect (money is scaled on SQLite)."""
    return [
        CheckConstraint(condition(dialect), name=name).ddl_if(dialect=dialect)
        for name, (_, condition) in CHECKS.items()
        for dialect in ("sqlite", "postgresql")
    ]

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
    Column("invoice_due_days", Integer),
    Column("invoice_template", String(255)),
    Column("invoice_create_on_payment", Boolean, nullable=False),
    Column("allow_inbound_zero_balance", Boolean, nullable=False),
    Column("ext_accounting_id", String(255)),
    Column("rtp_firewall", String(16), nullable=False),
    Column("call_recording_retention_days", Integer),
    Column("domain", String(253)),
    Column("daily_spend_limit", Money),
    Column("stir_shaken_attestation", String(1)),
    # timeouts, address, verification, notes, day/time restriction
    Column("timeout_first_reply", Integer),
    Column("timeout_pdd", Integer),
    Column("timeout_ring", Integer),
    Column("address", Json, nullable=False),
    Column("approved_cli_only", Boolean, nullable=False),
    Column("require_email", Boolean, nullable=False),
    Column("require_mobile", Boolean, nullable=False),
    Column("notes", Text),
    Column("day_time_restriction", Json),
    # The canonical digest of the content (`model.fields.digest`) as the reconciler wrote it,
    # and the version it wrote it at: it describes the row while the version is still that
    # one. Every write bumps the version, one made outside the reconciler too (a trigger), so
    # a plan compares digests and reads only the rows that differ (`sql.read_differing`).
    Column("digest", String(32)),
    Column("digest_version", Integer),
    *_checks(),
)

# What a plan reads of every row (`sql.read_differing`), as an index that holds it all: the
# scan reads the index, a few dozen bytes a row, not the table (100,000 rows: 0.34 s -> 0.14 s).
CUSTOMER_SUMMARY = Index(
    "customer_summary", customer.c.key, customer.c.version, customer.c.managed, customer.c.active,
    customer.c.digest, customer.c.digest_version,
)

audit = audit_table(metadata, "audit")
AUDIT_BY_CUSTOMER = Index("audit_by_customer", audit.c.customer_key, audit.c.id)

lease = lease_table(metadata, "lease")

runs = runs_table(metadata, "runs")

schema_meta = migrations.version_table(metadata, "schema_meta")

# Rule name (as it appears in the database's refusal) -> what the rule says.
RULES: dict[str, str] = {
    "customer_currency_fixed": "currency is fixed once a customer exists",
    **{name: says for name, (says, _) in CHECKS.items()},
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


# Every write bumps the version: one that does not (an UPDATE someone ran by hand, a tool
# of the platform's) gets it bumped here, so the digest of the reconciler's last write no
# longer passes for the row's content, and a plan reads the row again.
_SQLITE_VERSION_BUMP = (
    """
    CREATE TRIGGER customer_version_bumped AFTER UPDATE ON customer
    FOR EACH ROW WHEN NEW.version = OLD.version
    BEGIN
        UPDATE customer SET version = OLD.version + 1 WHERE key = NEW.key;
    END
    """,
)
_POSTGRESQL_VERSION_BUMP = (
    """
    CREATE FUNCTION customer_version_bumped() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.version = OLD.version THEN
            NEW.version := OLD.version + 1;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER customer_version_bumped BEFORE UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_version_bumped()
    """,
)


def _version_bump(connection: Connection) -> tuple[str, ...]:
    return _SQLITE_VERSION_BUMP if connection.dialect.name == "sqlite" else _POSTGRESQL_VERSION_BUMP


def _add_digests(connection: Connection) -> list[str]:
    """Version 5: a digest of each row's content and the version it describes, and the
    trigger that bumps the version of a write made outside the reconciler. Rows already
    there get their digest here, once (a row the model cannot read gets none)."""
    from reconciler.providers.rows import digest_rows  # rows.py builds on this module

    present = {column["name"] for column in inspect(connection).get_columns("customer")}
    for column in ("digest VARCHAR(32)", "digest_version INTEGER"):
        if column.split()[0] not in present:  # a store rebuilt by step 3 has them already
            connection.execute(text(f"ALTER TABLE customer ADD COLUMN {column}"))
    digest_rows(connection)  # before the trigger, which would take these writes for outside ones
    for statement in _version_bump(connection):
        connection.execute(text(statement))
    return []


def _add_audit_index(connection: Connection) -> list[str]:
    # Version 1 had no index on audit by customer: read_audit(key) scanned the table.
    AUDIT_BY_CUSTOMER.create(connection)
    return []


_RENAMED_COLUMNS = {
    # The platform's Email and Mobile Verification options force the customer to verify:
    # the columns held those options all along, under names that said "is verified".
    "verified_email": "require_email",
    "verified_mobile": "require_mobile",
    "verified_approved_cli_only": "approved_cli_only",
}


def _verification_and_checks(connection: Connection) -> list[str]:
    """Version 3: the verification columns named for what they are (values kept), invoice due
    days and recording retention unset by default, a CHECK for every enum, range and sign."""
    if connection.dialect.name == "sqlite":
        _rebuild_sqlite_customer(connection)
    else:
        for old, new in _RENAMED_COLUMNS.items():
            connection.execute(text(f"ALTER TABLE customer RENAME COLUMN {old} TO {new}"))
        for column in ("invoice_due_days", "call_recording_retention_days"):
            connection.execute(text(f"ALTER TABLE customer ALTER COLUMN {column} DROP NOT NULL"))
        for name, (_, condition) in CHECKS.items():
            if name not in _V2_CHECKS:
                # NOT VALID: rows already there are not checked (they are reported below).
                connection.execute(text(f"ALTER TABLE customer ADD CONSTRAINT {name} CHECK ({condition('postgresql')}) NOT VALID"))
        connection.execute(text("ALTER TABLE audit ADD COLUMN note VARCHAR(255)"))
    notes = [
        "verification: the columns verified_email and verified_mobile are now require_email and require_mobile, "
        "values kept: they always held the platform's Email and Mobile Verification options (true: the customer "
        "must verify before it can dial); rename the fields in the customer files to match"
    ]
    return notes + breaking_rows(connection)


def _rebuild_sqlite_customer(connection: Connection) -> None:
    # SQLite adds no CHECK and drops no NOT NULL in place: build the table anew and copy the
    # rows over as they are (checks off for the copy only, so no row is lost).
    connection.execute(text("ALTER TABLE customer RENAME TO customer_v2"))
    connection.execute(text("DROP TRIGGER IF EXISTS customer_currency_fixed"))
    customer.create(connection)
    old_names = {new: old for old, new in _RENAMED_COLUMNS.items()}
    columns = [column.name for column in customer.columns if column.name not in ("digest", "digest_version")]
    selected = ", ".join(old_names.get(name, name) for name in columns)
    connection.execute(text("PRAGMA ignore_check_constraints = ON"))
    try:
        connection.execute(text(f"INSERT INTO customer ({', '.join(columns)}) SELECT {selected} FROM customer_v2"))
    finally:
        connection.execute(text("PRAGMA ignore_check_constraints = OFF"))
    connection.execute(text("DROP TABLE customer_v2"))
    for statement in _SQLITE_RULES:
        connection.execute(text(statement))
    connection.execute(text("ALTER TABLE audit ADD COLUMN note VARCHAR(255)"))


def breaking_rows(connection: Connection) -> list[str]:
    """A line per customer row that breaks a rule of CHECKS (rows from before the rule)."""
    dialect = connection.dialect.name
    found: dict[str, list[str]] = {}
    for says, condition in CHECKS.values():
        for (key,) in connection.execute(text(f"SELECT key FROM customer WHERE NOT ({condition(dialect)})")):
            found.setdefault(key, []).append(says)
    return [
        f"customer {key} breaks a rule the store now enforces: {'; '.join(rules)}; "
        f"fix it on the platform, or overwrite it from its file with apply --repair {key}"
        for key, rules in sorted(found.items())
    ]


# Version -> the step that brings a store from version - 1 to it, and what it has to say.
def _add_runs(connection: Connection) -> list[str]:
    runs.create(connection)
    return []


def _add_summary_index(connection: Connection) -> list[str]:
    CUSTOMER_SUMMARY.create(connection, checkfirst=True)  # a table rebuilt by step 3 has it
    return []


MIGRATIONS: dict[int, Callable[[Connection], list[str]]] = {
    2: _add_audit_index, 3: _verification_and_checks, 4: _add_runs, 5: _add_digests, 6: _add_summary_index,
}


def _create(connection: Connection) -> None:
    metadata.create_all(connection)
    for statement in _SQLITE_RULES if connection.dialect.name == "sqlite" else _POSTGRESQL_RULES:
        connection.execute(text(statement))
    for statement in _version_bump(connection):
        connection.execute(text(statement))
    create_lock(connection, lease)


STORE = migrations.Schema("live store", SCHEMA_VERSION, schema_meta, _create, MIGRATIONS)


def stored_version(connection: Connection) -> int | None:
    """The store's schema version; None when there is no store yet."""
    return migrations.stored_version(connection, STORE)


def migrate(connection: Connection) -> StoreState:
    """Create the store, or bring it to `SCHEMA_VERSION`; call inside a write transaction."""
    return migrations.migrate(connection, STORE)
