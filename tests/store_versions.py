"""Turning a store of today's schema back into an older one, the way it was on disk, so a
test can open it and watch the migration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from reconciler.providers.schema import _V2_CHECKS, CHECKS


def downgrade(spec: Any, version: int) -> None:
    """Make the store of SPEC look like schema VERSION (1 to 5) wrote it."""
    engine = spec.engine()
    dialect = engine.dialect.name
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX customer_summary"))
        if version == 5:
            connection.execute(text("UPDATE schema_meta SET schema_version = 5"))
            engine.dispose()
            return
        if dialect == "postgresql":
            connection.execute(text("DROP TRIGGER customer_version_bumped ON customer"))
            connection.execute(text("DROP FUNCTION customer_version_bumped()"))
        else:
            connection.execute(text("DROP TRIGGER customer_version_bumped"))
        connection.execute(text("ALTER TABLE customer DROP COLUMN digest"))
        connection.execute(text("ALTER TABLE customer DROP COLUMN digest_version"))
        if version == 4:
            connection.execute(text("UPDATE schema_meta SET schema_version = 4"))
            engine.dispose()
            return
        connection.execute(text("DROP TABLE runs"))
        if version == 3:
            connection.execute(text("UPDATE schema_meta SET schema_version = 3"))
            engine.dispose()
            return
        for new, old in (("require_email", "verified_email"), ("require_mobile", "verified_mobile"),
                         ("approved_cli_only", "verified_approved_cli_only")):
            connection.execute(text(f"ALTER TABLE customer RENAME COLUMN {new} TO {old}"))
        connection.execute(text("ALTER TABLE audit DROP COLUMN note"))
        if dialect == "postgresql":  # SQLite cannot drop a CHECK; its migration rebuilds the table anyway
            for name in CHECKS:
                if name not in _V2_CHECKS:
                    connection.execute(text(f"ALTER TABLE customer DROP CONSTRAINT {name}"))
        if version < 2:
            connection.execute(text("DROP INDEX audit_by_customer"))
        connection.execute(text(f"UPDATE schema_meta SET schema_version = {version}"))
    engine.dispose()


def insert_unchecked(spec: Any, statement: str) -> None:
    """Run STATEMENT as someone with database access would, past the store's CHECKs."""
    engine = spec.engine()
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA ignore_check_constraints = ON"))
        connection.execute(text(statement))
    engine.dispose()
