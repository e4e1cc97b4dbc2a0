"""The lease lock, the audit trail and the record of apply runs as SQL tables, kept one way
wherever they live: in the SQL live store's own database, in the transaction of the write
(sql.py), or in the state store beside an API provider (state.py).

Leases expire by the database's clock, never a client's: two holders whose clocks disagree
still agree on when a lease ends.

Each function runs on a connection the caller holds inside its transaction; the caller
turns database failures into `ProviderError`s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import Column as SqlColumn

from reconciler.errors import LockHeld
from reconciler.model.customer import Customer
from reconciler.model.diff import diff_to_customer
from reconciler.model.fields import default_fields, flatten
from reconciler.model.types import instant_text
from reconciler.providers.base import AuditAction, AuditContext, AuditRecord, Lease, Run
from reconciler.providers.columns import Json, UtcDateTime, json_value, readable

LOCK_NAME = "apply"

# (field path, before, after) in the canonical form; field None: the write as a whole.
Change = tuple[str | None, Any, Any]


def lease_table(metadata: MetaData, name: str) -> Table:
    """One row per lock (`LOCK_NAME`); a free lock has no holder."""
    return Table(
        name,
        metadata,
        SqlColumn("name", String(64), primary_key=True),
        SqlColumn("holder", String(255)),
        SqlColumn("token", String(64)),
        SqlColumn("expires_at", UtcDateTime),
    )


def audit_table(metadata: MetaData, name: str, *extra: SqlColumn[Any]) -> Table:
    """One row per changed field of a write, and one per create (`creation_changes`), plus the
    columns in EXTRA; read back as an `AuditRecord` per field (`read_audit`)."""
    return Table(
        name,
        metadata,
        SqlColumn("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        SqlColumn("at", UtcDateTime, nullable=False),
        SqlColumn("actor", String(255), nullable=False),
        SqlColumn("git_commit", String(64)),
        SqlColumn("plan_id", String(64)),
        SqlColumn("customer_key", String(64), nullable=False),
        SqlColumn("action", String(16), nullable=False),
        SqlColumn("field", String(255)),
        SqlColumn("before_value", Json),
        SqlColumn("after_value", Json),
        SqlColumn("note", String(255)),  # an override the operator asked for: --lift-penalty, --repair
        *extra,
    )


# --- the lease lock -------------------------------------------------------------------------


def create_lock(connection: Connection, table: Table) -> None:
    connection.execute(insert(table).values(name=LOCK_NAME))


def database_now(connection: Connection) -> datetime:
    """The store's clock (UTC). SQLite is embedded: its clock is the machine's, which every
    process sharing the file shares."""
    if connection.dialect.name == "postgresql":
        found: datetime = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
        return found.astimezone(UTC)
    stamp: str = connection.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def acquire_lease(connection: Connection, table: Table, target: str, holder: str, ttl: timedelta) -> Lease:
    """Take the lock for TTL (an expired lease is taken over); LockHeld naming holder and expiry."""
    current = _lease(connection, table, for_update=True)
    now = database_now(connection)
    if current is not None and current.expires_at > now:
        raise LockHeld(
            f"the lock on {target} is held by {current.holder} until {instant_text(current.expires_at)}; "
            "wait until it is released or expires, then try again"
        )
    taken = Lease(holder, now + ttl, secrets.token_hex(16))
    _set_lease(connection, table, taken)
    return taken


def renew_lease(connection: Connection, table: Table, target: str, held: Lease, ttl: timedelta) -> Lease:
    """Extend a lease held by us to now + TTL; LockHeld if it was taken over or released."""
    current = _lease(connection, table, for_update=True)
    now = database_now(connection)
    if current is None or current.token != held.token:
        now_held = (
            f"it is held by {current.holder} until {instant_text(current.expires_at)}"
            if current is not None and current.expires_at > now
            else "it is free"
        )
        raise LockHeld(f"the lock on {target} held by {held.holder} was lost: {now_held}")
    renewed = Lease(held.holder, now + ttl, held.token)
    _set_lease(connection, table, renewed)
    return renewed


def release_lease(connection: Connection, table: Table, held: Lease) -> None:
    """Give the lock up; nothing happens if the lease is no longer ours."""
    connection.execute(
        update(table)
        .where(table.c.name == LOCK_NAME, table.c.token == held.token)
        .values(holder=None, token=None, expires_at=None)
    )


def current_lease(connection: Connection, table: Table) -> Lease | None:
    """The unexpired lease, or None when the lock is free."""
    current = _lease(connection, table, for_update=False)
    return current if current is not None and current.expires_at > database_now(connection) else None


def _lease(connection: Connection, table: Table, *, for_update: bool) -> Lease | None:
    query = select(table).where(table.c.name == LOCK_NAME)
    row = connection.execute(query.with_for_update() if for_update else query).mappings().one()
    if row["holder"] is None:
        return None
    return Lease(row["holder"], row["expires_at"], row["token"])


def _set_lease(connection: Connection, table: Table, held: Lease) -> None:
    connection.execute(
        update(table)
        .where(table.c.name == LOCK_NAME)
        .values(holder=held.holder, token=held.token, expires_at=held.expires_at)
    )


# --- apply runs -----------------------------------------------------------------------------

# Runs older than this are forgotten as new ones are recorded: punctuality looks back at most
# a year (`schedule.lookback_days`).
KEEP_RUNS = timedelta(days=366)


def runs_table(metadata: MetaData, name: str) -> Table:
    """One row per apply that ran to its end (`Run`)."""
    return Table(
        name,
        metadata,
        SqlColumn("id", Integer, primary_key=True, autoincrement=True),
        SqlColumn("evaluated_at", UtcDateTime, nullable=False, index=True),
        SqlColumn("finished_at", UtcDateTime, nullable=False),
        SqlColumn("outcome", String(16), nullable=False),
        SqlColumn("actor", String(255), nullable=False),
        SqlColumn("git_commit", String(64)),
        SqlColumn("plan_id", String(64)),
    )


def record_run(connection: Connection, table: Table, run: Run) -> None:
    connection.execute(
        insert(table).values(
            evaluated_at=run.at, finished_at=run.finished_at, outcome=run.outcome, actor=run.actor,
            git_commit=run.commit, plan_id=run.plan_id,
        )
    )
    connection.execute(delete(table).where(table.c.evaluated_at < run.at - KEEP_RUNS))


def read_runs(connection: Connection, table: Table, since: datetime) -> list[Run]:
    query = select(table).where(table.c.evaluated_at >= since).order_by(table.c.evaluated_at)
    return [
        Run(
            at=row["evaluated_at"], finished_at=row["finished_at"], outcome=row["outcome"], actor=row["actor"],
            commit=row["git_commit"], plan_id=row["plan_id"],
        )
        for row in connection.execute(query).mappings()
    ]


# --- the audit trail ------------------------------------------------------------------------


def record_audit(
    connection: Connection,
    table: Table,
    now: datetime,
    context: AuditContext,
    key: str,
    action: AuditAction,
    changes: Sequence[Change],
    **extra: Any,
) -> None:
    """One audit row per change of one write; EXTRA sets the table's own columns."""
    shared = audit_context(now, context)
    connection.execute(insert(table), [{**shared, **row} for row in audit_rows(key, action, changes, **extra)])


def audit_context(now: datetime, context: AuditContext) -> dict[str, Any]:
    """The audit table's columns that every row of a write shares (of every write of a batch
    with the same CONTEXT): when, who, from which commit and plan, and the operator's note."""
    return {"at": now, "actor": context.actor, "git_commit": context.commit, "plan_id": context.plan_id, "note": context.note}


def audit_rows(key: str, action: AuditAction, changes: Sequence[Change], **extra: Any) -> list[dict[str, Any]]:
    """The audit table's rows for one write, but for `audit_context`'s columns (`record_audit`
    inserts them; a batch of writes inserts the rows of all its writes at once)."""
    return [
        {"customer_key": key, "action": action, "field": field, "before_value": before, "after_value": after, **extra}
        for field, before, after in changes
    ]


def field_changes(before: Mapping[str, Any] | Customer, after: Customer) -> list[Change]:
    """Every field whose value differs between a customer document (or a customer) and the
    customer written over it, as the audit records it."""
    return [(change.path, change.before, change.after) for change in diff_to_customer(before, after)]


def creation_changes(document: Mapping[str, Any]) -> list[Change]:
    """A create of the customer whose canonical document is DOCUMENT as the audit records
    it: one change of the write as a whole, whose after is the [path, value] of each field
    it sets away from a new customer's defaults (currency always), in the form's order. A
    list, not a map: PostgreSQL's JSONB keeps no map's order. Read back, it is a record a
    field, as a write of fields is (`_records`): 100,000 creates write 100,000 audit rows,
    not 2.5 million (~10 s)."""
    defaults = default_fields()
    return [(None, None, [
        [path, value] for path, value in flatten(document).items() if path == "currency" or defaults.get(path) != value
    ])]


def latest_audit(connection: Connection, table: Table, keys: Sequence[str], field: str) -> list[AuditRecord]:
    """The newest audit record of FIELD for each of KEYS that has one, in one query (and one
    more for each key whose newest such row is a create that left FIELD at its default)."""
    newest = (
        select(func.max(table.c.id))
        .where(table.c.customer_key.in_(keys), _of_field(table, field))
        .group_by(table.c.customer_key)
    )
    rows = connection.execute(readable(table).where(table.c.id.in_(newest))).mappings().all()
    found = {record.key: record for record in _records(rows, field)}
    for row in rows:
        if row["customer_key"] not in found:
            earlier = read_audit(connection, table, row["customer_key"], 1, field, table.c.id < row["id"])
            found.update((record.key, record) for record in earlier)
    return list(found.values())


def read_audit(
    connection: Connection,
    table: Table,
    key: str | None,
    limit: int | None,
    field: str | None = None,
    *where: ColumnElement[bool],
) -> list[AuditRecord]:
    """Audit records newest first: all, or one customer key's, or of one field, of the rows
    WHERE allows. Of one field, a create's row may hold no record of it: the rows are read
    as they come until LIMIT records are found."""
    query = readable(table).where(*where).order_by(table.c.id.desc())
    if key is not None:
        query = query.where(table.c.customer_key == key)
    if field is not None:
        query = query.where(_of_field(table, field))
    elif limit is not None:
        query = query.limit(limit)  # every row is a record at least
    return list(islice(_records(connection.execute(query).mappings(), field), limit))


def _of_field(table: Table, field: str) -> ColumnElement[bool]:
    """The rows that may hold a record of FIELD: its own, and each create's."""
    return or_(table.c.field == field, and_(table.c.action == "create", table.c.field.is_(None)))


def _records(found: Iterable[Mapping[Any, Any]], field: str | None = None) -> Iterator[AuditRecord]:
    """The audit records of the rows FOUND (newest first), or those of FIELD alone: a create's
    row gives a record for each field it set, the last it set first."""
    for row in found:
        context = {
            "at": row["at"], "actor": row["actor"], "commit": row["git_commit"], "plan_id": row["plan_id"],
            "key": row["customer_key"], "action": row["action"], "note": row["note"],
        }
        after = json_value(row["after_value"])
        fields = _created_fields(row, after)
        if fields is not None:
            yield from (
                AuditRecord(**context, field=path, before=None, after=value)
                for path, value in reversed(fields) if field is None or path == field
            )
        elif field is None or row["field"] == field:
            yield AuditRecord(**context, field=row["field"], before=json_value(row["before_value"]), after=after)


def _created_fields(row: Mapping[Any, Any], after: Any) -> list[tuple[str, Any]] | None:
    """The (path, value) pairs of a create's row (`creation_changes`), whose value AFTER
    holds; None for any other row, and for a row that does not hold pairs (a row written by
    hand is read as it is)."""
    if row["action"] != "create" or row["field"] is not None or not isinstance(after, list):
        return None
    pairs = [(pair[0], pair[1]) for pair in after if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)]
    return pairs if len(pairs) == len(after) else None
