"""The state store: what a remote platform cannot keep for us, in a SQL database beside it
(like a Terraform backend beside its providers).

An API provider (connexcs) keeps here the lease lock, its audit records, and for every
customer it manages the binding of the file's key to the platform's id, with a version
counter, the digest of the record as last read or written, whether the reconciler
deactivated it, and the form it last applied. SQLite by default (`.reconciler/state.sqlite`
beside the repository), or PostgreSQL shared by CI runners (`[state]` in reconciler.toml).
The SQL live stores keep the same lease and audit (`ledger.py`) in their own database.

A write to the platform cannot share a transaction with this store, so a write goes in
three steps, each a short transaction of its own (threads write at once):

1. `claim`: the binding moves from the version the plan expected to the next one, or the
   claim is refused as a conflict (two writers of one version: one wins); the audit
   records of the write are stored as "pending";
2. the provider writes to the platform;
3. `settle` (the write happened: the audit records become "applied") or `abandon` (it did
   not: the version goes back and the audit records become "failed").

A crash between 1 and 3 leaves the version moved on and the audit pending, never a write
recorded as applied that did not happen. `read_audit` gives the applied records only.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.errors import ConfigError
from reconciler.providers import conflicts, ledger, migrations
from reconciler.providers.base import AuditAction, AuditContext, AuditRecord, Lease, Run, StoreState
from reconciler.providers.columns import Json, UtcDateTime, json_value, readable
from reconciler.providers.engines import (
    DEFAULT_URL_ENV,
    database_error,
    postgresql_engine,
    postgresql_url,
    shown_url,
    sqlite_engine,
)

STATE_SCHEMA_VERSION = 2
DEFAULT_PATH = ".reconciler/state.sqlite"
# A write settles within its timeouts and retry budget; a claim this old is a crashed run's.
STALE_CLAIM = timedelta(hours=1)

Clock = Callable[[], datetime]
Result = Literal["pending", "applied", "failed"]
APPLIED: tuple[Result, ...] = ("applied",)

metadata = MetaData()
versions = migrations.version_table(metadata, "state_meta")
lease = ledger.lease_table(metadata, "state_lease")
runs = ledger.runs_table(metadata, "state_runs")
audit = ledger.audit_table(
    metadata,
    "state_audit",
    Column("write_id", String(32)),  # the audit records of one write share it (its claim)
    Column("result", String(16), nullable=False),  # pending, applied or failed
)
Index("state_audit_by_customer", audit.c.customer_key, audit.c.id)
Index("state_audit_by_write", audit.c.write_id)
binding = Table(
    "state_binding",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("live_id", String(64), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("digest", String(64)),  # of the live record as last read or written
    Column("deactivated", Boolean, nullable=False),
    Column("last_applied", Json),  # the canonical document the reconciler last wrote; null: never
    # The platform name that stands for "no name of its own": the key a customer written
    # without a name was sent under (a platform customer must have one); null: none.
    Column("default_name", String(255)),
    Column("pending", String(32)),  # the claim of a write in flight
    Column("updated_at", UtcDateTime, nullable=False),
)


def _create(connection: Connection) -> None:
    metadata.create_all(connection)
    ledger.create_lock(connection, lease)


def _add_runs(connection: Connection) -> list[str]:
    runs.create(connection)
    return []


# Version -> the step that brings a store from version - 1 to it.
SCHEMA = migrations.Schema("state store", STATE_SCHEMA_VERSION, versions, _create, {2: _add_runs})


@dataclass(frozen=True)
class Binding:
    """A customer key the reconciler manages, bound to the platform's id for it."""

    key: str
    live_id: str
    version: int
    digest: str | None
    deactivated: bool
    last_applied: Mapping[str, Any] | None
    default_name: str | None
    pending: str | None


@dataclass(frozen=True)
class Applied:
    """What a settled write leaves behind besides its digest: the form it applied."""

    document: Mapping[str, Any]  # canonical
    default_name: str | None  # see the `default_name` column


def utc_now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """The state store in one database; every method is its own transaction, thread-safe."""

    def __init__(self, make_engine: Callable[[], Engine], *, shown: str, secrets_to_hide: Sequence[str] = (),
                 clock: Clock = utc_now) -> None:
        self.shown = shown  # "sqlite .reconciler/state.sqlite": never a password
        self._make_engine = make_engine
        self._secrets = tuple(secret for secret in secrets_to_hide if secret)
        self._clock = clock
        self._engine: Engine | None = None
        self._state: StoreState | None = None
        self._opening = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any] | None, *, environ: Mapping[str, str], root: Path, clock: Clock = utc_now
    ) -> StateStore:
        """The store `[state]` names (None: the default SQLite file); ConfigError when wrong."""
        settings = dict(settings or {})
        kind = settings.pop("provider", "sqlite")
        known = {"sqlite": "path", "postgresql": "url_env"}
        if kind not in known:
            raise ConfigError(f"state.provider: expected sqlite or postgresql, got {kind!r}")
        for setting in settings:
            if setting != known[kind]:
                raise ConfigError(
                    f"state.{setting}: a {kind} state store has no setting '{setting}'; its setting: {known[kind]}"
                )
        if kind == "sqlite":
            path = str(settings.get("path", DEFAULT_PATH))
            return cls(lambda: sqlite_engine(root / path), shown=f"sqlite {path}", clock=clock)
        url = postgresql_url("state.url_env", str(settings.get("url_env", DEFAULT_URL_ENV)), environ)
        return cls(
            lambda: postgresql_engine(url), shown=f"postgresql {shown_url(url)}",
            secrets_to_hide=[url.password or ""], clock=clock,
        )

    # --- connections ------------------------------------------------------------------------

    def open(self) -> StoreState:
        with self._opening:
            if self._state is None:
                with self._failures(None):
                    engine = self._make_engine()
                    try:
                        self._state = migrations.open_store(engine, SCHEMA)
                    except BaseException:
                        engine.dispose()
                        raise
                self._engine = engine
            return self._state

    def close(self) -> None:
        with self._opening:
            if self._engine is not None:
                self._engine.dispose()
            self._engine, self._state = None, None

    @contextmanager
    def _failures(self, key: str | None) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise database_error(f"state {self.shown}", exc, self._secrets, key) from exc

    @contextmanager
    def _begin(self, key: str | None = None, *, write: bool = True) -> Iterator[Connection]:
        self.open()
        assert self._engine is not None
        with self._failures(key), self._engine.connect() as connection:
            connection.execution_options(reconciler_read_only=not write)
            with connection.begin():
                yield connection

    # --- bindings ---------------------------------------------------------------------------

    def bindings(self, keys: Collection[str] | None = None) -> dict[str, Binding]:
        """Every binding, or those of KEYS."""
        query = readable(binding)  # a form last applied by hand that Python cannot read is as none (`_binding`)
        if keys is not None:
            query = query.where(binding.c.key.in_(sorted(keys)))
        with self._begin(write=False) as connection:
            return {row["key"]: _binding(row) for row in connection.execute(query).mappings()}

    def binding(self, key: str) -> Binding | None:
        return self.bindings([key]).get(key)

    def note_digests(self, seen: Mapping[str, tuple[int, str]]) -> dict[str, int]:
        """Record the digests of bound records as just read (key -> (version read, digest)).

        The caller passes the records whose content changed since they were last read or
        written: someone else wrote them, so their version goes up, as a write of ours would
        move it. A record with a write of ours in flight is left to that write. Returns the
        versions that moved.
        """
        moved: dict[str, int] = {}
        no_write_in_flight = binding.c.pending.is_(None) | (binding.c.updated_at < self._clock() - STALE_CLAIM)
        with self._begin() as connection:
            for key, (version, digest) in seen.items():
                result = connection.execute(
                    update(binding)
                    .where(binding.c.key == key, binding.c.version == version, no_write_in_flight)
                    .values(version=binding.c.version + 1, digest=digest)
                )
                if result.rowcount == 1:
                    moved[key] = version + 1
        return moved

    def claim(
        self,
        key: str,
        *,
        live_id: str,
        expected_version: int,
        bound: bool,
        digest: str | None,
        context: AuditContext,
        action: AuditAction,
        changes: Sequence[ledger.Change],
    ) -> str:
        """Step 1 of a write (see the module's docstring): the claim's token. BOUND: the key is
        bound already (its version moves on); else it is bound now, at the next version, with
        the DIGEST of its record as it is."""
        token = secrets.token_hex(16)
        now = self._clock()
        with self._begin(key) as connection:
            if bound:
                result = connection.execute(
                    update(binding)
                    .where(binding.c.key == key, binding.c.version == expected_version)
                    .values(version=expected_version + 1, pending=token, updated_at=now)
                )
                if result.rowcount != 1:
                    found = connection.execute(select(binding.c.version).where(binding.c.key == key)).scalar()
                    raise conflicts.missing(key, expected_version) if found is None else conflicts.stale(
                        key, found, expected_version
                    )
            else:
                self._bind(connection, key, live_id, expected_version + 1, digest, now, None, pending=token)
            ledger.record_audit(connection, audit, now, context, key, action, changes, write_id=token, result="pending")
        return token

    def settle(
        self, key: str, token: str, *, digest: str | None, deactivated: bool, applied: Applied | None = None
    ) -> None:
        """Step 3 of a write that happened. APPLIED: the form it wrote (None: it wrote no fields
        of the form, and the last applied form stays)."""
        values: dict[str, Any] = {"digest": digest, "deactivated": deactivated, "pending": None,
                                  "updated_at": self._clock()}
        if applied is not None:
            values.update(last_applied=dict(applied.document), default_name=applied.default_name)
        with self._begin(key) as connection:
            connection.execute(update(binding).where(binding.c.key == key, binding.c.pending == token).values(**values))
            self._result(connection, token, "applied")

    def settle_removal(self, key: str, token: str) -> None:
        """Step 3 of a delete that happened: the binding goes."""
        with self._begin(key) as connection:
            connection.execute(delete(binding).where(binding.c.key == key, binding.c.pending == token))
            self._result(connection, token, "applied")

    def abandon(self, key: str, token: str, *, expected_version: int, bound: bool) -> None:
        """Step 3 of a write that did not happen: the claim is undone."""
        with self._begin(key) as connection:
            claimed = (binding.c.key == key) & (binding.c.pending == token)
            if bound:
                connection.execute(update(binding).where(claimed).values(version=expected_version, pending=None))
            else:
                connection.execute(delete(binding).where(claimed))
            self._result(connection, token, "failed")

    def bind_created(
        self,
        key: str,
        *,
        live_id: str,
        digest: str,
        applied: Applied,
        context: AuditContext,
        changes: Sequence[ledger.Change],
    ) -> None:
        """A customer the provider just created on the platform, at version 1."""
        now = self._clock()
        with self._begin(key) as connection:
            self._bind(connection, key, live_id, 1, digest, now, applied.default_name, last_applied=applied.document)
            ledger.record_audit(connection, audit, now, context, key, "create", changes, result="applied")

    def bind_imported(self, found: Sequence[tuple[str, str, str]], context: AuditContext) -> set[str]:
        """Bind the live records FOUND ((key, live id, digest)) as they are, at version 1: those
        whose key and id are both free. Returns the keys bound."""
        now = self._clock()
        bound: set[str] = set()
        with self._begin() as connection:
            taken = {(row.key, row.live_id) for row in connection.execute(select(binding.c.key, binding.c.live_id))}
            keys, ids = {key for key, _ in taken}, {live_id for _, live_id in taken}
            for key, live_id, digest in found:
                if key in keys or live_id in ids:
                    continue
                self._bind(connection, key, live_id, 1, digest, now, None)
                ledger.record_audit(connection, audit, now, context, key, "import", [(None, None, None)], result="applied")
                keys.add(key)
                ids.add(live_id)
                bound.add(key)
        return bound

    def rename(
        self,
        old_key: str,
        new_key: str,
        *,
        live_id: str,
        expected_version: int,
        bound: bool,
        digest: str | None,
        context: AuditContext,
    ) -> int:
        """Bind the record of OLD_KEY to NEW_KEY instead, a write of its own (the platform's
        record does not change); its new version. DIGEST: of the record, for one not bound
        before."""
        now = self._clock()
        with self._begin(old_key) as connection:
            if connection.execute(select(binding.c.key).where(binding.c.key == new_key)).first() is not None:
                raise conflicts.rename_taken(old_key, new_key)
            if bound:
                result = connection.execute(
                    update(binding)
                    .where(binding.c.key == old_key, binding.c.version == expected_version)
                    .values(key=new_key, version=expected_version + 1, updated_at=now)
                )
                if result.rowcount != 1:
                    raise conflicts.moved(old_key, expected_version)
            else:
                self._bind(connection, new_key, live_id, expected_version + 1, digest, now, None)
            ledger.record_audit(connection, audit, now, context, new_key, "rename", [(None, old_key, new_key)],
                                result="applied")
        return expected_version + 1

    def forget(self, key: str, live_id: str) -> None:
        """Drop the binding of a record the platform no longer has (removed outside)."""
        with self._begin(key) as connection:
            connection.execute(delete(binding).where(binding.c.key == key, binding.c.live_id == live_id))

    def _bind(
        self, connection: Connection, key: str, live_id: str, version: int, digest: str | None, now: datetime,
        default_name: str | None, *, pending: str | None = None, last_applied: Mapping[str, Any] | None = None,
    ) -> None:
        found = connection.execute(
            select(binding.c.key, binding.c.version).where((binding.c.key == key) | (binding.c.live_id == live_id))
        ).first()
        if found is not None:
            raise conflicts.exists(key, found.version if found.key == key else None)
        try:
            connection.execute(
                insert(binding).values(
                    key=key, live_id=live_id, version=version, digest=digest, deactivated=False,
                    last_applied=dict(last_applied) if last_applied is not None else None,
                    default_name=default_name, pending=pending, updated_at=now,
                )
            )
        except IntegrityError as exc:  # bound by another writer since the look above
            raise conflicts.exists(key) from exc

    @staticmethod
    def _result(connection: Connection, token: str, result: Result) -> None:
        connection.execute(update(audit).where(audit.c.write_id == token).values(result=result))

    # --- audit ------------------------------------------------------------------------------

    def read_audit(
        self,
        key: str | None = None,
        limit: int | None = None,
        field: str | None = None,
        results: Collection[Result] = APPLIED,
    ) -> list[AuditRecord]:
        """Audit records newest first, of the writes whose result is in RESULTS."""
        with self._begin(key, write=False) as connection:
            return ledger.read_audit(connection, audit, key, limit, field, audit.c.result.in_(list(results)))

    # --- the lease lock (TARGET: the provider's, for messages) --------------------------------

    def acquire_lock(self, target: str, holder: str, ttl: timedelta) -> Lease:
        with self._begin() as connection:
            return ledger.acquire_lease(connection, lease, target, holder, ttl)

    def renew_lock(self, target: str, held: Lease, ttl: timedelta) -> Lease:
        with self._begin() as connection:
            return ledger.renew_lease(connection, lease, target, held, ttl)

    def release_lock(self, held: Lease) -> None:
        with self._begin() as connection:
            ledger.release_lease(connection, lease, held)

    def lock_status(self) -> Lease | None:
        with self._begin(write=False) as connection:
            return ledger.current_lease(connection, lease)

    # --- apply runs ---------------------------------------------------------------------------

    def record_run(self, run: Run) -> None:
        with self._begin() as connection:
            ledger.record_run(connection, runs, run)

    def read_runs(self, since: datetime) -> list[Run]:
        with self._begin(write=False) as connection:
            return ledger.read_runs(connection, runs, since)


def _binding(row: Mapping[Any, Any]) -> Binding:
    """The binding of ROW; a form last applied that is no document (written by hand: not
    JSON, nested deeper than Python reads, not a map) as none applied."""
    applied = json_value(row["last_applied"])
    return Binding(
        key=row["key"], live_id=row["live_id"], version=row["version"], digest=row["digest"],
        deactivated=bool(row["deactivated"]), last_applied=applied if isinstance(applied, dict) else None,
        default_name=row["default_name"], pending=row["pending"],
    )
