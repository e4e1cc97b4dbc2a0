"""The SQL live store: one implementation over SQLAlchemy Core for SQLite and PostgreSQL.

`sqlite.py` and `postgresql.py` only turn options into an engine. One module over the
usual size: it is the whole provider contract on one store (customers, audit, lease), each
method a transaction whose locking and failure handling the others share. Concurrency is
optimistic: every write reads the row under a write lock (`SELECT ... FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), compares its version with the one the caller
planned against, and writes with `version = version + 1`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Integer,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from reconciler.errors import ProviderError, ReconcilerError
from reconciler.gc_pause import gc_paused
from reconciler.model.customer import Customer
from reconciler.model.fields import (
    DIGEST_LENGTH,
    Digests,
    canonical,
    canonical_document,
    digest,
    is_digest,
    kept_digest,
)
from reconciler.model.types import KEY_RE
from reconciler.providers import conflicts, ledger, migrations, rows
from reconciler.providers.base import (
    AuditAction,
    AuditContext,
    AuditRecord,
    Lease,
    LiveCustomer,
    LiveRead,
    LiveRecord,
    LiveSummary,
    PendingRead,
    Prepared,
    Provider,
    ProviderInfo,
    Run,
    StoreState,
    Write,
    begun,
    finish_begun,
)
from reconciler.providers.engines import (
    Many,
    database_error,
    dialect_of,
    execute_many,
    many,
    run_many,
)
from reconciler.providers.schema import RULES, STORE, audit, customer, lease, runs

Clock = Callable[[], datetime]
# What `read_differing` reads before it compares (`SqlProvider._scan`): IN_STEP's row, and the
# keys of the rows not described.
_Scan = tuple[Sequence[Any] | None, list[str]]
_KEYS_PER_QUERY = 500  # under every engine's bound-parameter limit
# Writes in one apply from which a batch's creates are made in worker processes (`preparing`):
# under it, starting them (~0.4 s of a core each) costs more than they save (~50 µs a create).
PREPARE_APART_FROM = 5_000
_AHEAD_APART = 2  # worker processes: as many as the batches the apply begins ahead

# Built once: the columns to set come with the parameters, so SQLAlchemy compiles it once
# per set of columns instead of building a cache key over every value of every write.
# Typed like their columns: with untyped ones one bench run on PostgreSQL was ~10x slower.
_WHERE_KEY = bindparam("where_key", type_=customer.c.key.type)
_BUMP = (
    update(customer)
    .where(customer.c.key == _WHERE_KEY, customer.c.version == bindparam("where_version", type_=Integer()))
    .values(version=customer.c.version + 1)
)
_CURRENT = rows.RAW_CUSTOMER.where(customer.c.key == _WHERE_KEY).with_for_update()
# What a plan reads of every row, in two parts (an index holds it: `schema.CUSTOMER_SUMMARY`):
# the digest of each row whose digest describes its content (managed, active, and written at
# its version), and the key of every other row. A hostile value (NULL, text in a flag) makes
# a row one of the others, read and judged in full.
_DESCRIBED = f"COALESCE(managed AND active AND length(digest) = {DIGEST_LENGTH} AND digest_version = version, FALSE)"
SUMMARY = f"SELECT key, digest FROM customer WHERE {_DESCRIBED}"
# The same rows as one line each part: how many rows the table holds; how many of them are
# described; their keys, one a line; their digests, end to end (each is DIGEST_LENGTH long);
# and how many of them hold text in both (SQLite keeps any type in any column: a blob's
# bytes would read as text when joined). The keys in the order Python sorts them: SQLite
# scans the summary index in it, PostgreSQL is told (its collation may sort otherwise).
# Where that order is not the one asked, the lines differ, and the rows are read one by one.
_ROWS = "(SELECT count(*) FROM customer)"
IN_STEP = {
    "sqlite": (
        f"SELECT {_ROWS}, count(*), group_concat(key, char(10)), group_concat(digest, ''), "
        f"total(typeof(key) = 'text' AND typeof(digest) = 'text') FROM customer WHERE {_DESCRIBED}"
    ),
    "postgresql": (
        f"""SELECT {_ROWS}, count(*), string_agg(key, E'\\n' ORDER BY key COLLATE "C"), """
        f"""string_agg(digest, '' ORDER BY key COLLATE "C"), count(*) FROM customer WHERE {_DESCRIBED}"""
    ),
}
# The same columns by key, as the database holds them (a hostile value is judged, not decoded):
# for `read_summaries`, and what an update reads of its rows under the write lock first.
_SUMMARIES = rows.raw(
    customer.c.key, customer.c.version, customer.c.active, customer.c.digest, customer.c.digest_version
).where(customer.c.key.in_(bindparam("keys", expanding=True)))
NOT_DESCRIBED = f"SELECT key FROM customer WHERE NOT {_DESCRIBED}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlProvider(Provider):
    """A live store in a SQL database (see schema.py for the tables and rules).

    Capabilities: transactions (`transaction()` shares one commit; each write inside runs
    in a savepoint, so a refused write leaves the others in place), audit, lock. The
    clock stamps audit records and leases only; pass one in to pin it in tests.
    """

    def __init__(self, *, target: str, clock: Clock = utc_now, secrets_to_hide: Sequence[str] = ()) -> None:
        self._target = target
        self._clock = clock
        self._secrets = tuple(secret for secret in secrets_to_hide if secret)
        self._engine: Engine | None = None
        self._state: StoreState | None = None
        self._batch: Connection | None = None
        self._scans: set[Future[Any]] = set()  # started on threads of their own, not yet finished with (`begun`)
        # The live customers read from rows their digest describes, by key, until written
        # (`_as_read`): an update of one takes the audit's before values from it.
        self._read: dict[str, LiveCustomer] = {}
        self._apart: ProcessPoolExecutor | None = None  # the worker processes of `preparing`

    @abstractmethod
    def _create_engine(self) -> Engine:
        """A new engine for the store (called once per open)."""

    def describe(self) -> ProviderInfo:
        return ProviderInfo(self.name, self._target, frozenset({"transactions", "audit", "lock"}))

    # --- connections and errors -------------------------------------------------------

    def open(self) -> StoreState:
        if self._state is None:
            with self._failures(None):
                engine = self._create_engine()
                try:
                    self._state = migrations.open_store(engine, STORE)
                except BaseException:
                    engine.dispose()
                    raise
            self._engine = engine
        assert self._state is not None
        return self._state

    def close(self) -> None:
        finish_begun(self._scans)  # a scan never finished ends before the engine
        self._read.clear()
        if self._engine is not None:
            self._engine.dispose()
        self._engine, self._state, self._batch = None, None, None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._batch is not None:  # already inside one: join it
            yield
            return
        self.open()
        assert self._engine is not None
        with self._failures(None), self._engine.connect() as connection, connection.begin():
            self._batch = connection
            try:
                yield
            finally:
                self._batch = None

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        if self._batch is not None:
            if write:
                with self._batch.begin_nested():
                    yield self._batch
            else:
                yield self._batch
            return
        self.open()
        assert self._engine is not None
        with self._engine.connect() as connection:
            connection.execution_options(reconciler_read_only=not write)
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def _failures(self, key: str | None, values: Mapping[str, str] | None = None) -> Iterator[None]:
        """Turn a database failure into a ProviderError naming the customer and the rule."""
        try:
            yield
        except DBAPIError as exc:
            reason = str(exc.orig)
            for rule, says in RULES.items():
                if rule in reason:
                    value = (values or {}).get(rule)
                    detail = f" ({value})" if value is not None else ""
                    raise ProviderError(f"{key}: the platform refused the write: {says}{detail}") from exc
            raise database_error(self._target, exc, self._secrets, key) from exc
        except SQLAlchemyError as exc:
            raise database_error(self._target, exc, self._secrets) from exc

    # --- customers ----------------------------------------------------------------------

    def read(self, keys: Collection[str] | None = None) -> dict[str, LiveRecord]:
        live = self._rows(keys)
        self._remember(live)
        return live

    def _rows(self, keys: Collection[str] | None) -> dict[str, LiveRecord]:
        """The records of KEYS (of every row: None), decoded."""
        live: dict[str, LiveRecord] = {}
        with self._failures(None), self._connection(write=False) as connection, gc_paused():
            if keys is None:
                chunks: list[Sequence[str] | None] = [None]
            else:
                chunks = list(_chunks(sorted(set(keys)), _KEYS_PER_QUERY))
            for chunk in chunks:
                query = rows.RAW_CUSTOMER
                if chunk is not None:
                    query = query.where(customer.c.key.in_(chunk))
                for row in connection.execute(query).mappings():
                    record = rows.record_from_row(row, connection.dialect)
                    live[record.key] = record
        return live

    def read_differing(self, digests: Mapping[str, str]) -> LiveRead:
        """Reads the digest columns of every row first (a few bytes a row), and in full only the
        rows whose content is not the one DIGESTS names (or that are not managed and active)."""
        return self._differing(self._scan(), digests, {})

    def start_read_differing(self) -> PendingRead:
        """The scan of every row's digest on a thread of its own: the database does it without
        Python (SQLite and the PostgreSQL driver let go of the interpreter while they work),
        on the other core, while the caller loads the fleet. The scan and the reading of the
        rows that differ are then two transactions, not one: a row written between them is
        read as written, and one found in step was in step when scanned (the plan's versions
        guard the apply, as against any write made after a plan)."""
        if self._batch is not None:  # one connection, in use by this thread: nothing beside it
            return super().start_read_differing()
        try:
            self.open()  # here: the thread only asks
        except ReconcilerError as exc:
            failure = exc  # reported when the plan comes to the store, after the fleet's own problems

            def failed(digests: Mapping[str, str], ahead: Mapping[str, LiveRecord]) -> LiveRead:
                raise failure

            return PendingRead(failed)
        scanned = begun(self._scan, self._scans, "reconciler-scan")

        # After the scan, as the rows that differ: a row written since it is read as written.
        held = functools.cache(lambda: _held(scanned()))

        def read_ahead(digests: Mapping[str, str]) -> dict[str, LiveRecord]:
            try:
                found = held()
                if found is None:
                    return {}  # the scan cannot tell: every row is read at the end
                described, others = found
                # The rows of DIGESTS' keys that the plan will read: those of another digest, or of none.
                keys = [
                    key for key, known in digests.items()
                    if key in others or (key in described and described[key] != known)
                ]
                return self._rows(keys) if keys else {}  # remembered for the writes (`_as_read`) once the plan takes them
            except ReconcilerError:
                return {}  # the same failure comes again when the plan asks, after the fleet's own problems

        def holds() -> Callable[[str], bool] | None:
            try:
                found = held()
            except ReconcilerError:
                return None
            if found is None:
                return None
            described, others = found
            return lambda key: key in others or key in described

        return PendingRead(lambda digests, ahead: self._differing(scanned(), digests, ahead), read_ahead, holds)

    def _scan(self) -> _Scan:
        """What `read_differing` reads before it needs the digests: `IN_STEP`'s one row (None
        where the dialect has none), and the keys of the rows not described when there are
        any (the table's rows and the described ones are counted apart)."""
        with self._failures(None), self._connection(write=False) as connection, _driver_cursor(connection) as cursor:
            statement = IN_STEP.get(connection.dialect.name)
            answer = cursor.execute(statement).fetchone() if statement is not None else None
            others: list[str] = []
            if answer is None or answer[0] != answer[1]:  # rows not described, to read in full
                cursor.execute(NOT_DESCRIBED)
                others = [key for key, in cursor.fetchall()]
        return answer, others

    def _differing(self, scan: _Scan, digests: Mapping[str, str], ahead: Mapping[str, LiveRecord]) -> LiveRead:
        """`read_differing` from its SCAN on: the rows compared, those that differ read (but
        those read AHEAD, after the scan: `PendingRead`)."""
        answer, others = scan
        with self._failures(None), self._connection(write=False) as connection, gc_paused():
            step = _in_step(answer[1:], digests, set(others)) if answer is not None else None
            if step is not None:
                in_sync, differing = step
                others = others + differing
            else:
                # (key, digest) pairs both sides hold, compared in C: a fleet has a hundred thousand.
                with _driver_cursor(connection) as cursor:
                    described = cursor.execute(SUMMARY).fetchall()
                in_sync = {key for key, _ in digests.items() & described}
                others = others + [key for key, _ in described if key not in in_sync]
            live: dict[str, LiveRecord] = {key: ahead[key] for key in others if key in ahead}
            unread = [key for key in others if key not in live]
            # Most rows differing, one scan beats many lookups. A key no customer could have is
            # not sent back to the store either: it may not be what the store holds (SQLite
            # keeps any bytes, or a blob; a byte that is not UTF-8 reads as U+FFFD).
            if len(unread) > len(in_sync) or not all(type(key) is str and KEY_RE.fullmatch(key) for key in unread):
                for row in connection.execute(rows.RAW_CUSTOMER).mappings():
                    if row["key"] not in in_sync and row["key"] not in live:
                        record = rows.record_from_row(row, connection.dialect)
                        live[record.key] = record
            else:
                for chunk in _chunks(unread, _KEYS_PER_QUERY):
                    for row in connection.execute(rows.RAW_CUSTOMER.where(customer.c.key.in_(chunk))).mappings():
                        record = rows.record_from_row(row, connection.dialect)
                        live[record.key] = record
        self._remember(live)
        return LiveRead(live, frozenset(in_sync))

    def _remember(self, live: Mapping[str, LiveRecord]) -> None:
        """Keep the records of LIVE read from rows their digest describes (`_as_read`)."""
        self._read.update(
            (key, record) for key, record in live.items()
            if isinstance(record, LiveCustomer) and kept_digest(record.customer) is not None
        )

    def _as_read(self, key: str, row: Mapping[str, Any], expected_version: int) -> LiveCustomer | None:
        """The live customer this provider read from ROW (raw, under a write lock), if ROW is
        still that row: at EXPECTED_VERSION, the version it was read at, and described by the
        digest of its content. Its canonical fields are then the row's, kept on it: an update
        need not decode the row again to record what it changes. Forgotten once asked for."""
        read = self._read.pop(key, None)
        if read is None or not (read.version == expected_version == row["version"] == row["digest_version"]):
            return None
        return read if row["digest"] == digest(read.customer) else None

    def read_summaries(self, keys: Collection[str]) -> dict[str, LiveSummary]:
        """From the index a plan scans: no row is decoded."""
        found: dict[str, LiveSummary] = {}
        with self._failures(None), self._connection(write=False) as connection:
            for chunk in _chunks(sorted(set(keys)), _KEYS_PER_QUERY):
                held: list[Any] = list(connection.execute(_SUMMARIES, {"keys": list(chunk)}))
                for key, version, active, known, version_known in held:
                    if type(version) is not int or active not in (0, 1):
                        continue  # not a record the model reads: left to a full read
                    described = version_known == version and is_digest(known)
                    found[str(key)] = LiveSummary(str(key), version, bool(active), known if described else None)
        return found

    def create(self, key: str, customer_: Customer, audit_: AuditContext) -> LiveCustomer:
        now = self._clock()
        document = canonical_document(customer_)
        values = rows.row_from_canonical(document)
        with self._failures(key, _rule_values(values)), self._connection(write=True) as connection:
            found = connection.execute(select(customer.c.version).where(customer.c.key == key)).scalar()
            if found is not None:
                raise conflicts.exists(key, found)
            try:
                connection.execute(insert(customer), _new_row(key, digest(customer_), values, now))
            except IntegrityError as exc:
                if not any(rule in str(exc.orig) for rule in RULES):  # created by someone else meanwhile
                    raise conflicts.exists(key) from exc
                raise
            self._record(connection, now, audit_, key, "create", ledger.creation_changes(document))
        return LiveCustomer(key, customer_, 1, managed=True, active=True)

    def update(self, key: str, customer_: Customer, expected_version: int, audit_: AuditContext) -> LiveCustomer:
        now = self._clock()
        values = rows.row_from_canonical(canonical_document(customer_))
        refused = _rule_values(values)
        with self._failures(key, refused), self._connection(write=True) as connection:
            current = self._current(connection, key, expected_version)
            refused["customer_currency_fixed"] = f"{current['currency']} -> {values['currency']}"
            self._bump(connection, key, expected_version, now, **_overwrite(digest(customer_), values, expected_version))
            self._record(connection, now, audit_, key, "update", _update_changes(current, customer_))
        return LiveCustomer(key, customer_, expected_version + 1, managed=True, active=True)

    @contextlib.contextmanager
    def preparing(self, writes: int) -> Iterator[None]:
        """For an apply of many writes (`PREPARE_APART_FROM`) on a machine of more than one
        core, worker processes that make each batch of creates' statements (`_statements`:
        their rows, audit rows and driver parameters) while this one writes the batches
        before: over half of a create's work here; the store's own is the rest (100,000
        creates: 10.3-10.8 s -> 8.1-8.5 s). New interpreters, not forks, as the parse's
        (`desired.fleet._Workers`)."""
        if writes < PREPARE_APART_FROM or (os.cpu_count() or 1) < 2 or self._apart is not None:
            yield
            return
        import multiprocessing

        apart = ProcessPoolExecutor(max_workers=_AHEAD_APART, mp_context=multiprocessing.get_context("spawn"))
        apart.submit(_ready)  # started now, while the apply reads what it checks
        self._apart = apart
        try:
            yield
        finally:
            self._apart = None
            apart.shutdown(cancel_futures=True)

    def prepare_writes(self, writes: Sequence[Write]) -> Prepared:
        """The statements of WRITES when each is a create (a bulk apply's batches), begun
        before their transaction: in a worker process while an apply has them
        (`preparing`), else here. Nothing for any other: an update's audit is of the row it
        finds under its lock."""
        if len(writes) < 2 or any(write.expected_version is not None for write in writes):
            return super().prepare_writes(writes)
        now = self._clock()
        self.open()
        assert self._engine is not None
        dialect = self._engine.dialect
        if self._apart is not None:
            with contextlib.suppress(BrokenProcessPool, RuntimeError):
                # Named by its driver alone: the URL's credentials stay in this process.
                made = self._apart.submit(_statements_apart, self._engine.url.drivername, writes, now)
                return lambda: _made_apart(made, dialect, writes, now)
        statements = _statements(dialect, writes, now)
        return lambda: statements

    def write_many(self, writes: Sequence[Write], prepared: object = None) -> list[ProviderError | None]:
        """The batch in three statements (a read of its rows under a write lock, the inserts
        and updates, the audit rows), in a savepoint of its own; when any one write would
        fail (its key taken or moved on, a rule of the store refusing it), the savepoint is
        rolled back and each write is carried out alone, to fail alone with its own message.
        PREPARED: what `prepare_writes` made of WRITES (made here when not given)."""
        if prepared is None:
            prepared = self.prepare_writes(writes)()
        if len(writes) > 1:
            try:
                with self._failures(None), self._connection(write=True) as connection:
                    if not self._write_together(connection, writes, prepared):
                        raise _OneByOne
                return [None] * len(writes)
            except (_OneByOne, ProviderError):
                pass  # rolled back: nothing of the batch was written
        return super().write_many(writes)

    def _write_together(self, connection: Connection, writes: Sequence[Write], prepared: object) -> bool:
        """Write every one of WRITES; False when one would fail on a key or a version (found
        before anything is written; the caller rolls back what a store that ignored the row
        locks let through), and a refusal by a rule of the store raises."""
        # Under the write lock, each row's version and digest: enough to know a row as the one
        # read for the plan (`_as_read`). Any other is read whole, to record what it held.
        found: dict[str, Any] = {}  # key -> its raw row: those columns, or all of them
        for chunk in _chunks([write.key for write in writes], _KEYS_PER_QUERY):
            locked = connection.execute(_SUMMARIES.with_for_update(), {"keys": list(chunk)})
            found.update((str(raw["key"]), raw) for raw in locked.mappings())
        if isinstance(prepared, _Creates):
            if found:
                return False  # a key taken since the plan
            run_many(connection, prepared.inserted)
            for made in prepared.audited:
                run_many(connection, made)
            return True
        now = self._clock()
        read = {
            write.key: self._as_read(write.key, found[write.key], write.expected_version)
            for write in writes if write.expected_version is not None and write.key in found
        }
        unread = [key for key, record in read.items() if record is None]
        for chunk in _chunks(unread, _KEYS_PER_QUERY):
            whole = rows.RAW_CUSTOMER.where(customer.c.key.in_(chunk))
            found.update((str(raw["key"]), raw) for raw in connection.execute(whole).mappings())
        inserted: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        audited: _Audited = []
        for write in writes:
            row = found.get(write.key)
            if write.expected_version is None:
                if row is not None:
                    return False
                new_row, changes = _creation(write, now)
                inserted.append(new_row)
                _audit_into(audited, write, "create", changes)
                continue
            if row is None:
                return False
            before: Mapping[str, Any] | Customer
            as_read = read[write.key]
            if as_read is not None:
                before = as_read.customer
            else:
                before = rows.decode_row(row, connection.dialect)[0]
                if before["version"] != write.expected_version:
                    return False
            document, known = write.canonical()
            updated.append({
                "where_key": write.key, "where_version": write.expected_version, "updated_at": now,
                **_overwrite(known, rows.row_from_canonical(document), write.expected_version),
            })
            _audit_into(audited, write, "update", _update_changes(before, write.customer))
        execute_many(connection, insert(customer).inline(), inserted)
        if execute_many(connection, _BUMP, updated) != len(updated) and connection.dialect.supports_sane_multi_rowcount:
            return False  # only if a store ignored the row locks
        for context, records in audited:
            execute_many(connection, insert(audit).inline(), records, shared=ledger.audit_context(now, context))
        return True

    def deactivate(self, key: str, expected_version: int, audit_: AuditContext) -> LiveRecord:
        now = self._clock()
        with self._failures(key), self._connection(write=True) as connection:
            current = self._current(connection, key, expected_version)
            self._bump(connection, key, expected_version, now, active=False, status="inactive")
            self._record(connection, now, audit_, key, "deactivate", [("status", current["status"], "inactive")])
            return rows.record_from_row(
                {**current, "version": expected_version + 1, "active": False, "status": "inactive"}, connection.dialect
            )

    def delete(self, key: str, expected_version: int, audit_: AuditContext) -> None:
        now = self._clock()
        with self._failures(key), self._connection(write=True) as connection:
            current = self._current(connection, key, expected_version)
            connection.execute(delete(customer).where(customer.c.key == key))
            before = canonical(rows.document_from_row(current))
            self._record(connection, now, audit_, key, "delete", [(None, before, None)])

    def rename(self, old_key: str, new_key: str, expected_version: int, audit_: AuditContext) -> LiveRecord:
        now = self._clock()
        with self._failures(old_key), self._connection(write=True) as connection:
            current = self._current(connection, old_key, expected_version)
            taken = connection.execute(select(customer.c.version).where(customer.c.key == new_key)).scalar()
            if taken is not None:
                raise conflicts.rename_taken(old_key, new_key)
            self._bump(connection, old_key, expected_version, now, key=new_key)
            self._record(connection, now, audit_, new_key, "rename", [(None, old_key, new_key)])
            return rows.record_from_row({**current, "key": new_key, "version": expected_version + 1}, connection.dialect)

    def _current(self, connection: Connection, key: str, expected_version: int) -> dict[str, Any]:
        """The row under a write lock (its values decoded as far as they decode), if it is
        still at the version the caller planned against."""
        row = connection.execute(_CURRENT, {"where_key": key}).mappings().one_or_none()
        current = rows.decode_row(row, connection.dialect)[0] if row is not None else None
        if current is None:
            raise conflicts.missing(key, expected_version)
        if current["version"] != expected_version:
            raise conflicts.stale(key, current["version"], expected_version)
        return current

    def _bump(
        self, connection: Connection, key: str, expected_version: int, now: datetime, /, **values: Any
    ) -> None:
        result = connection.execute(
            _BUMP, {"where_key": key, "where_version": expected_version, "updated_at": now, **values}
        )
        if result.rowcount != 1:  # only if a store ignored the row lock; never silently
            raise conflicts.moved(key, expected_version)

    # --- audit --------------------------------------------------------------------------

    def _record(
        self,
        connection: Connection,
        now: datetime,
        context: AuditContext,
        key: str,
        action: AuditAction,
        changes: Sequence[tuple[str | None, Any, Any]],
    ) -> None:
        ledger.record_audit(connection, audit, now, context, key, action, changes)

    def read_audit(self, key: str | None = None, limit: int | None = None, field: str | None = None) -> list[AuditRecord]:
        with self._failures(key), self._connection(write=False) as connection:
            return ledger.read_audit(connection, audit, key, limit, field)

    def latest_audit(self, keys: Collection[str], field: str) -> dict[str, AuditRecord]:
        found: dict[str, AuditRecord] = {}
        with self._failures(None), self._connection(write=False) as connection:
            for chunk in _chunks(sorted(set(keys)), _KEYS_PER_QUERY):
                found.update((record.key, record) for record in ledger.latest_audit(connection, audit, chunk, field))
        return found

    # --- lease lock ---------------------------------------------------------------------

    def acquire_lock(self, holder: str, ttl: timedelta) -> Lease:
        with self._failures(None), self._connection(write=True) as connection:
            return ledger.acquire_lease(connection, lease, self._target, holder, ttl)

    def renew_lock(self, lease_: Lease, ttl: timedelta) -> Lease:
        with self._failures(None), self._connection(write=True) as connection:
            return ledger.renew_lease(connection, lease, self._target, lease_, ttl)

    def release_lock(self, lease_: Lease) -> None:
        with self._failures(None), self._connection(write=True) as connection:
            ledger.release_lease(connection, lease, lease_)

    def lock_status(self) -> Lease | None:
        with self._failures(None), self._connection(write=False) as connection:
            return ledger.current_lease(connection, lease)

    # --- apply runs -----------------------------------------------------------------------

    def record_run(self, run: Run) -> None:
        with self._failures(None), self._connection(write=True) as connection:
            ledger.record_run(connection, runs, run)

    def read_runs(self, since: datetime) -> list[Run]:
        with self._failures(None), self._connection(write=False) as connection:
            return ledger.read_runs(connection, runs, since)


def _held(scan: _Scan) -> tuple[Digests, frozenset[str]] | None:
    """From a SCAN that names every row in text: the digests of the rows they describe, and
    the keys of the others; None where it does not."""
    answer, others = scan
    if answer is None or answer[4] != answer[1] or answer[0] != answer[1] + len(others):
        return None
    try:  # as many keys as digests end to end: a key holding a line end makes it another number
        return Digests(answer[2].split("\n") if answer[1] else [], answer[3] or ""), frozenset(others)
    except ValueError:
        return None


def _in_step(
    described: Sequence[Any], digests: Mapping[str, str], not_described: Collection[str]
) -> tuple[set[str], list[str]] | None:
    """The keys of DIGESTS whose rows (described: `_DESCRIBED`) hold those digests, and the
    other described keys, from DESCRIBED (`IN_STEP`'s row but its first column); None where
    that row cannot tell (described keys other than those of DIGESTS that are not
    NOT_DESCRIBED, another order, a value that is not text), and the rows are compared one by
    one. No Python object a customer where the keys are the same: a fleet of 100,000 is two
    strings compared."""
    if isinstance(digests, Digests) and not not_described:
        keys, wanted = digests.in_order()  # a fleet's, as it keeps them: no map made
    else:
        keys = sorted(key for key in digests if key not in not_described) if not_described else sorted(digests)
        wanted = "".join([digests[key] for key in keys])
    if len(wanted) != DIGEST_LENGTH * len(keys):
        return None
    count, joined_keys, joined_digests, texts = described
    # Equal counts and equal lines: no key holds a line end (DIGESTS' keys cannot), so the
    # keys are the same keys, in the same order as the digests beside them.
    if count != len(keys) or texts != count or (joined_keys or "") != "\n".join(keys):
        return None
    if joined_digests == wanted:
        return set(keys), []
    in_sync: set[str] = set()
    differing: list[str] = []
    for index, key in enumerate(keys):
        start = index * DIGEST_LENGTH
        if joined_digests[start:start + DIGEST_LENGTH] == wanted[start:start + DIGEST_LENGTH]:
            in_sync.add(key)
        else:
            differing.append(key)
    return in_sync, differing


@contextlib.contextmanager
def _driver_cursor(connection: Connection) -> Iterator[Any]:
    """The DB-API cursor itself, for what a plan reads of every row: a result object's row
    handling costs more than the query. The driver's own errors come out as SQLAlchemy's
    (`_failures` turns them into the store's message), as they do from `execute`."""
    driver_error: type[Exception] = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except driver_error as exc:
        raise DBAPIError.instance(None, None, exc, driver_error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


def _chunks(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    iterator = iter(keys)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


class _OneByOne(Exception):
    """A batch of writes has one that would fail: carry them out one by one."""


class _Creates(NamedTuple):
    """A batch of creates' statements, made before their transaction (`prepare_writes`)."""

    inserted: Many
    audited: list[Many]


# The audit rows of each run of writes with the same context, in the writes' order.
_Audited = list[tuple[AuditContext, list[dict[str, Any]]]]


def _audit_into(audited: _Audited, write: Write, action: AuditAction, changes: Sequence[ledger.Change]) -> None:
    if not audited or audited[-1][0] != write.audit:
        audited.append((write.audit, []))
    audited[-1][1].extend(ledger.audit_rows(write.key, action, changes))


def _statements(dialect: Dialect, writes: Sequence[Write], now: datetime) -> _Creates:
    """The statements that write WRITES, each a create, at NOW, for DIALECT: in a worker
    process while an apply has them (`SqlProvider.preparing`), else here."""
    inserted: list[dict[str, Any]] = []
    audited: _Audited = []
    for write in writes:
        row, changes = _creation(write, now)
        inserted.append(row)
        _audit_into(audited, write, "create", changes)
    return _Creates(
        many(dialect, insert(customer).inline(), inserted),
        [many(dialect, insert(audit).inline(), records, ledger.audit_context(now, context)) for context, records in audited],
    )


def _statements_apart(drivername: str, writes: Sequence[Write], now: datetime) -> _Creates:
    """`_statements`, in a worker process, for the dialect of the driver DRIVERNAME as
    the store's engine configures it (`engines.dialect_of`), without connecting. Its
    objects go when the batch goes (no cycle among them): a collection would free nothing
    (a batch's with the collector on took twice the time)."""
    with gc_paused():
        return _statements(dialect_of(drivername), writes, now)


def _made_apart(made: Future[_Creates], dialect: Dialect, writes: Sequence[Write], now: datetime) -> _Creates:
    """What a worker process made; made here when it could not (it died, or was stopped)."""
    try:
        return made.result()
    except (BrokenProcessPool, CancelledError):
        return _statements(dialect, writes, now)


def _ready() -> None:
    """In a worker process, before its first batch: what it runs, imported."""


def _creation(write: Write, now: datetime) -> tuple[dict[str, Any], list[ledger.Change]]:
    """The row a create inserts, and what the audit records of it. A create the plan holds
    as its canonical document is written as that: no customer is made (`Write.of_packed`)."""
    document, known = write.canonical()
    return _new_row(write.key, known, rows.row_from_canonical(document), now), ledger.creation_changes(document)


def _new_row(key: str, known: str, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The row a create inserts: VALUES are the field columns of the customer of digest KNOWN."""
    return {
        "key": key, "version": 1, "managed": True, "active": True, "created_at": now, "updated_at": now,
        **values, **rows.digest_columns(known, 1),
    }


def _overwrite(known: str, values: Mapping[str, Any], expected_version: int) -> dict[str, Any]:
    """The columns an update sets besides the version and time: VALUES are the field columns
    of the customer of digest KNOWN."""
    return {"managed": True, "active": True, **values, **rows.digest_columns(known, expected_version + 1)}


def _update_changes(before: Mapping[str, Any] | Customer, customer_: Customer) -> list[ledger.Change]:
    """What an update of the row BEFORE (decoded; or the customer read from it, `_as_read`)
    to CUSTOMER_ records in the audit."""
    document = before if isinstance(before, Customer) else rows.document_from_row(before)
    return ledger.field_changes(document, customer_) or [(None, None, None)]


def _rule_values(values: Mapping[str, Any]) -> dict[str, str]:
    """What each rule would be refusing, for the message (update adds the currency change)."""
    return {
        "customer_status_valid": str(values["status"]),
        "customer_channels_not_negative": str(values["channels"]),
        "customer_flow_speed_not_negative": str(values["flow_speed"]),
        "customer_minimum_payment_not_negative": str(values["minimum_payment"]),
    }
