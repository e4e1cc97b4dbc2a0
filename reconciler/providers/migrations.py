"""Creating a store of ours on first use, and bringing an older one up to date, one way for
every store: the SQL live store (schema.py) and the state store (state.py).

A store keeps its schema version in a one-row table. A fresh store is created at the
current version; an older one is brought up to it by its steps, applied in order on open,
each returning what the operator should be told. A store newer than the code is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    insert,
    inspect,
    select,
    text,
    update,
)

from reconciler.errors import ProviderError
from reconciler.providers.base import StoreState


def version_table(metadata: MetaData, name: str) -> Table:
    return Table(name, metadata, Column("schema_version", Integer, nullable=False))


@dataclass(frozen=True)
class Schema:
    """One kind of store: its tables, its version and how to get there."""

    what: str  # "live store", "state store": for messages
    version: int
    versions: Table  # the one-row table holding the version (`version_table`)
    create: Callable[[Connection], None]  # everything at `version`, the version row excepted
    steps: Mapping[int, Callable[[Connection], list[str]]]  # version -> the step from version - 1


def stored_version(connection: Connection, schema: Schema) -> int | None:
    """The store's schema version; None when there is no store yet."""
    if not inspect(connection).has_table(schema.versions.name):
        return None
    found: int = connection.execute(select(schema.versions.c.schema_version)).scalar_one()
    return found


def migrate(connection: Connection, schema: Schema) -> StoreState:
    """Create the store, or bring it to its version; call inside a write transaction."""
    if connection.dialect.name == "postgresql":
        # Two first opens at once: one creates, the other waits and finds it made.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('reconciler.schema'))"))
    found = stored_version(connection, schema)
    if found is None:
        schema.create(connection)
        connection.execute(insert(schema.versions).values(schema_version=schema.version))
        return StoreState(created=True, schema_version=schema.version, migrated_from=None)
    if found > schema.version:
        raise ProviderError(
            f"the {schema.what} is at schema version {found}, newer than this reconciler knows "
            f"({schema.version}); upgrade reconciler"
        )
    if found == schema.version:
        return StoreState(created=False, schema_version=found, migrated_from=None)
    notes: list[str] = []
    for version in range(found + 1, schema.version + 1):
        notes.extend(schema.steps[version](connection))
    connection.execute(update(schema.versions).values(schema_version=schema.version))
    return StoreState(created=False, schema_version=schema.version, migrated_from=found, notes=tuple(notes))


def open_store(engine: Engine, schema: Schema) -> StoreState:
    """What `Provider.open()` does to a store: look first without the write lock (a store in
    use by a writer is opened all the same), migrate only when the version is not current."""
    with engine.connect() as connection:
        connection.execution_options(reconciler_read_only=True)
        with connection.begin():
            found = stored_version(connection, schema)
    if found == schema.version:
        return StoreState(created=False, schema_version=found, migrated_from=None)
    with engine.begin() as connection:
        return migrate(connection, schema)
