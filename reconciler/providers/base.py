"""The provider contract: the one thing that talks to a live system.

The core owns loading, planning and applying; a provider only moves customers between
the live system and `Customer` values. Every provider passes the shared contract suite
in tests/providers/test_contract.py.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar

from reconciler.errors import ProviderError, ProviderUnavailable
from reconciler.frozen import Frozen
from reconciler.model.customer import Customer
from reconciler.model.fields import canonical_document, customer_of, digest, unpacked_document

# "import": `import` bound a live customer to its new file, writing nothing to it (`Provider.bind`).
AuditAction = Literal["create", "update", "deactivate", "rename", "delete", "import"]


@dataclass(frozen=True)
class LiveCustomer:
    """A customer as the live system holds it."""

    key: str
    customer: Customer
    version: int  # bumped by the store on every write
    managed: bool  # created or adopted (updated) by the reconciler
    active: bool  # False once the reconciler deactivated it (its status is then inactive)


@dataclass(frozen=True)
class LiveProblem:
    """One value of a live record that the customer model refuses."""

    field: str  # the field path (`config.stir_shaken_attestation`)
    value: str  # the value as a message shows it (quoted, control characters escaped, cut)
    reason: str  # why the model refuses it

    def __str__(self) -> str:
        return f"{self.field}: {self.value} ({self.reason})"


@dataclass(frozen=True)
class UnreadableCustomer:
    """A live record the model refuses: a value we never modelled, a row edited by hand.

    Reading never fails for the fleet because of one customer: the record comes back as
    this, naming each refused field, and the plan blocks it alone (`apply --repair KEY`
    overwrites it from its file).
    """

    key: str
    version: int
    managed: bool
    active: bool
    problems: tuple[LiveProblem, ...]
    values: Mapping[str, Any]  # the record as read, for its fingerprint

    def describe(self) -> str:
        return "live record unreadable: " + "; ".join(str(problem) for problem in self.problems)


LiveRecord = LiveCustomer | UnreadableCustomer


@dataclass(frozen=True)
class LiveSummary:
    """What `Provider.read_summaries` tells of a live record without reading it whole."""

    key: str
    version: int
    active: bool
    digest: str | None  # of its customer (`model.fields.digest`); None: not known without reading it


@dataclass(frozen=True)
class LiveRead:
    """What `Provider.read_differing` found: the records it read, and the keys it did not
    read because their content is what the caller has."""

    records: dict[str, LiveRecord]
    in_sync: frozenset[str] = frozenset()  # managed, active, and of the digest given for them


class PendingRead:
    """What `Provider.start_read_differing` began: called once with the digests, it gives what
    `read_differing` gives. Before that, `read_ahead` may read in full, given some of the
    digests, the records that call will read for them (those not known to hold them), while
    the caller waits on something else (worker processes parsing the files); those records
    are then the answer for their keys, as if read at the end. A provider that cannot tell
    reads nothing ahead. `holds` says which keys the store holds a record of, where its
    first step tells (a plan keeps only the parsed customers it may create)."""

    def __init__(
        self,
        finish: Callable[[Mapping[str, str], Mapping[str, LiveRecord]], LiveRead],
        read: Callable[[Mapping[str, str]], dict[str, LiveRecord]] | None = None,
        holds: Callable[[], Callable[[str], bool] | None] | None = None,
    ) -> None:
        self._finish = finish  # (digests, the records read ahead) -> the answer
        self._read = read  # (some of the digests) -> the records read for them
        self._holds = holds  # () -> whether the store holds a record of a key, when it can tell
        self._ahead: dict[str, LiveRecord] = {}

    def read_ahead(self, digests: Mapping[str, str]) -> None:
        if self._read is not None and digests:
            self._ahead.update(self._read(digests))

    def holds(self, key: str) -> bool:
        """Whether the store holds a record of KEY, as its first step found; True where it
        cannot tell."""
        found = self._holds() if self._holds is not None else None
        return found is None or found(key)

    def __call__(self, digests: Mapping[str, str]) -> LiveRead:
        ahead, self._ahead = self._ahead, {}
        return self._finish(digests, ahead)


@dataclass(frozen=True)
class ProviderInfo:
    """Who the provider is, for plans and messages."""

    name: str  # "sqlite"
    target: str  # "sqlite .reconciler/live.sqlite": never a password or other credential
    capabilities: frozenset[str]  # of "transactions", "audit", "lock", "concurrent_writes"
    mapping: tuple[tuple[str, str], ...] = ()  # field path -> the live system's name, where it has its own


@dataclass(frozen=True)
class ProviderConfig:
    """What reconciler.toml tells a provider besides `[live.options]`, as plain values (a
    provider never reads reconciler.toml itself). A provider that has no use for a part
    refuses it with a ConfigError rather than ignore it."""

    mapping: Mapping[str, str] = field(default_factory=dict)  # [live.mapping]: field path -> live name
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # [live.values."PATH"]: ours -> theirs
    account_manager_ids: Mapping[str, int] = field(default_factory=dict)  # [live.account_manager_ids]
    state: Mapping[str, Any] | None = None  # [state]: where an API provider keeps its state; None: not given


@dataclass(frozen=True)
class MappingCheck:
    """How a provider's field mapping fits the live system, for an operator to check before
    the first apply: where each live name comes from, and which a live record lacks."""

    sources: tuple[tuple[str, str, str], ...]  # (field path, live name, where the name comes from)
    sample: str | None  # the live record checked ("customer 17"); None: the live system holds none
    missing: tuple[tuple[str, str], ...]  # (field path, live name) the sample does not carry


@dataclass(frozen=True)
class AuditContext:
    """Why a write happens: recorded with it."""

    actor: str
    commit: str | None  # the source git commit
    plan_id: str | None
    note: str | None = None  # an override the operator asked for (--lift-penalty, --repair)


class Write(Frozen):
    """One write of a batch (`Provider.write_many`): a create when `expected_version` is
    None, else an update at the version the plan expects. A value: frozen, and equal to
    another of the same content (`Frozen`).

    The customer to write is given as a `Customer`, or as its canonical document and digest
    (`of_document`), or as that document packed (`of_packed`: a create the plan holds so). A
    store that writes the canonical form takes that as it is (`canonical`); `customer` is
    made from it only when asked for. The SQL stores write 100,000 creates without making
    each customer again (~7 s). A write pickles as it was given (a SQL store makes a bulk
    apply's rows in a process apart: `sql.SqlProvider.preparing`)."""

    __slots__ = ("_customer", "_document", "_packed", "audit", "expected_version", "key")
    key: str
    expected_version: int | None
    audit: AuditContext
    _customer: Customer | None
    _document: tuple[dict[str, Any], str] | None
    _packed: tuple[bytes, str] | None

    def __init__(self, key: str, customer: Customer, expected_version: int | None, audit: AuditContext) -> None:
        self._set(key=key, _customer=customer, _document=None, _packed=None, expected_version=expected_version, audit=audit)

    @classmethod
    def of_document(
        cls, key: str, document: dict[str, Any], known: str, expected_version: int | None, audit: AuditContext
    ) -> Write:
        """The write of the customer whose canonical document is DOCUMENT (which the write
        then holds as it is: nothing else may change it) and whose digest is KNOWN."""
        write = cls.__new__(cls)
        write._set(key=key, _customer=None, _document=(document, known), _packed=None, expected_version=expected_version, audit=audit)
        return write

    @classmethod
    def of_packed(cls, key: str, packed: bytes, known: str, expected_version: int | None, audit: AuditContext) -> Write:
        """The write of the customer whose canonical document PACKED holds
        (`model.fields.packed_document`), unpacked when first asked for, and whose digest
        is KNOWN."""
        write = cls.__new__(cls)
        write._set(key=key, _customer=None, _document=None, _packed=(packed, known), expected_version=expected_version, audit=audit)
        return write

    @property
    def customer(self) -> Customer:
        if self._customer is None:
            self._set(_customer=customer_of(*self.canonical()))
        assert self._customer is not None
        return self._customer

    def canonical(self) -> tuple[dict[str, Any], str]:
        """The canonical document of the customer to write (read it, never change it), and
        its digest."""
        if self._document is None and self._packed is not None:
            packed, known = self._packed
            self._set(_document=(unpacked_document(packed), known))
        if self._document is not None:
            return self._document
        assert self._customer is not None  # one of the three is given
        return canonical_document(self._customer), digest(self._customer)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._packed is not None:
            return (Write.of_packed, (self.key, *self._packed, self.expected_version, self.audit))
        if self._document is not None:
            return (Write.of_document, (self.key, *self._document, self.expected_version, self.audit))
        return (Write, (self.key, self._customer, self.expected_version, self.audit))

    def __repr__(self) -> str:
        return f"Write(key={self.key!r}, expected_version={self.expected_version!r}, audit={self.audit!r})"

    def _values(self) -> tuple[Any, ...]:
        return (self.key, self.customer, self.expected_version, self.audit)


# What a provider made of a batch of writes before their transaction, given when asked
# (`Provider.prepare_writes`): it may be made meanwhile, in a process apart.
Prepared = Callable[[], object]


def _nothing_prepared() -> None:
    return None


@dataclass(frozen=True)
class AuditRecord:
    """One changed field of one write (or the write itself, where no field applies).

    `field` is a field path (`model.fields.flatten`); `before` and `after` are values in
    the canonical form (`model.fields.canonical`: money as exact strings). A create records
    the fields that differ from a new customer's defaults (always `currency`), with
    `before` None. Deactivate records the status it set (before: the status it had);
    rename records the keys as before/after; delete records the whole document as `before`.
    """

    at: datetime
    actor: str
    commit: str | None
    plan_id: str | None
    key: str
    action: AuditAction
    field: str | None
    before: Any
    after: Any
    note: str | None = None


@dataclass(frozen=True)
class Run:
    """One apply that ran to its end: the instant it evaluated desired state at, and how it
    ended. Whether scheduled changes happened on time is judged from these (plan/punctuality)."""

    at: datetime
    finished_at: datetime
    outcome: str  # no_changes, applied, partial, blocked, failed
    actor: str
    commit: str | None
    plan_id: str | None

    @property
    def covered(self) -> bool:
        """Whether desired state at `at` was in place when it ended."""
        return self.outcome in ("no_changes", "applied")


@dataclass(frozen=True)
class Lease:
    """The provider's exclusive lock, held by `holder` until `expires_at` unless renewed."""

    holder: str
    expires_at: datetime
    token: str


@dataclass(frozen=True)
class StoreState:
    """What `open()` found or did to the store behind a provider."""

    created: bool  # the store was created just now
    schema_version: int | None  # None: the live system has no schema of ours
    migrated_from: int | None  # the version it had before this open migrated it
    notes: tuple[str, ...] = ()  # what a migration has to tell the operator (rows that break a new rule)


T = TypeVar("T")


def begun(work: Callable[[], T], pending: set[Future[Any]], name: str) -> Callable[[], T]:
    """WORK started now on a thread of its own (named NAME), as `Provider.start_read_differing`
    starts what needs no digests; the function returned (call it once) waits for its answer
    or raises its error. Kept in PENDING until then, for the provider's `close` to wait for
    work started and never asked for (`finish_begun`)."""
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = background.submit(work)
    background.shutdown(wait=False)
    pending.add(future)

    def answer() -> T:
        try:
            return future.result()
        finally:
            pending.discard(future)  # its answer let go: a provider may plan many times

    return answer


def finish_begun(pending: set[Future[Any]]) -> None:
    """Wait for the work of PENDING that `begun` started and nobody asked for (the fleet
    failed to load, say), and forget it: a provider's `close` calls this before it lets go
    of what that work uses."""
    wait(pending)
    pending.clear()


class Provider(ABC):
    """A live system the reconciler reads customers from and writes them to.

    A provider MUST:
      - do I/O and translation only: turn live records into `Customer` values and
        `Customer` values into writes, exactly, money included (Decimal, never float);
      - refuse a write whose `expected_version` is not the live version, with
        `ConflictError` naming the customer, both versions, and saying to re-plan;
      - write the whole customer it is given on `update` (not a patch), and bump the
        version on every write;
      - record audit records for a write in the same transaction as the write, when it
        lists the "audit" capability; where the live system shares no transaction with the
        audit (a remote API beside a state store), record a write as applied only once the
        live system has confirmed it, so the audit never holds a write that did not happen;
      - turn every failure of the live system into a `ProviderError` (or subclass) that
        names the customer and, for a refusal, the rule; chain the cause (`from exc`);
      - keep credentials out of `describe()`, `repr()`, messages and audit records.

    A provider MAY:
      - support transactions ("transactions" capability): `transaction()` makes the
        writes inside it share one commit; each write still succeeds or fails on its own,
        so a caller may catch a `ConflictError` and carry on. Without the capability
        `transaction()` does nothing and each write commits by itself;
      - hold a store it creates or migrates on first use (`open()`);
      - lack an audit trail or a lock (then `read_audit` returns [] and the lock methods
        raise `ProviderError`), saying so in `describe().capabilities`;
      - let the core run writes at once ("concurrent_writes" capability): up to
        `write_concurrency` of them, from as many threads, so every write method is then
        thread-safe, and each write still succeeds or fails on its own;
      - keep state the live system cannot (the lease, the audit, a key -> live id map) in a
        state store of its own, named in `describe().target`;
      - bind live customers to their keys without writing them (`bind`), when which live
        record a key means is its own bookkeeping;
      - write a batch of creates and updates faster together than one by one
        (`write_many`), as long as each still succeeds or fails as it would alone.

    A provider MUST NOT:
      - plan, diff for decisions, apply safety rules, or choose what to write: the core
        decides, the provider carries it out (and the live system's own refusals are
        reported, not pre-empted);
      - print, exit, or read the environment (options and `environ` are handed in);
      - read the clock for business decisions (only to stamp audit records and leases);
      - log or show credentials.
    """

    name: str
    # The `[live.options]` it takes, name -> type (`options.check_options`): `validate` checks
    # reconciler.toml against it without building the provider.
    known_options: ClassVar[Mapping[str, Any]] = {}
    # How many writes the core may run at once ("concurrent_writes" capability only).
    write_concurrency: int = 1

    @classmethod
    @abstractmethod
    def from_options(
        cls, options: Mapping[str, Any], *, environ: Mapping[str, str], root: Path, config: ProviderConfig | None = None
    ) -> Self:
        """Build from reconciler.toml's `[live.options]` and the rest of CONFIG; `ConfigError`
        for bad options."""

    @abstractmethod
    def describe(self) -> ProviderInfo: ...

    def open(self) -> StoreState:
        """Connect, and create or migrate the store if the provider keeps one; idempotent.

        Every other operation opens the provider itself; call this to do it explicitly.
        """
        return StoreState(created=False, schema_version=None, migrated_from=None)

    @abstractmethod
    def read(self, keys: Collection[str] | None = None) -> dict[str, LiveRecord]:
        """Every live customer, or those of `keys` that exist (missing keys are absent).

        A record the model refuses is an `UnreadableCustomer` naming each refused field
        (`providers.records.live_record` makes one): never an exception for the fleet.
        """

    def read_differing(self, digests: Mapping[str, str]) -> LiveRead:
        """Every live customer, as `read()`, except those that are managed, active and hold
        exactly the content whose digest (`model.fields.digest`) DIGESTS gives for their key:
        those it MAY leave unread and only name, in `in_sync`. A provider does so only where
        it knows the digest of a record's current content without reading it (a store that
        keeps the digest of every write, and notices writes made outside the reconciler);
        by default every record is read."""
        return LiveRead(self.read())

    def start_read_differing(self) -> PendingRead:
        """`read_differing` begun before the digests are known: a provider whose first step
        needs none starts it now, beside the caller's loading of the desired state (see
        `PendingRead`). `close` waits for a step started and never finished. By default
        nothing starts early, and nothing is read ahead."""
        return PendingRead(lambda digests, _: self.read_differing(digests))

    def read_summaries(self, keys: Collection[str]) -> dict[str, LiveSummary]:
        """Of KEYS, the live records the provider can summarise without reading them whole,
        each as a `LiveSummary` (its digest where the provider knows the digest of the
        record's current content, as `read_differing` does; else None). A caller reads the
        others. By default none: where a summary costs a read, the caller reads once."""
        return {}

    @abstractmethod
    def create(self, key: str, customer: Customer, audit: AuditContext) -> LiveCustomer:
        """Create a managed, active customer at version 1; `ConflictError` if the key exists."""

    @abstractmethod
    def update(self, key: str, customer: Customer, expected_version: int, audit: AuditContext) -> LiveCustomer:
        """Write the whole of `customer` over the live record, which becomes managed and active.

        An update is how the core adopts a live customer, reactivates a deactivated one (with
        the status its file says) and repairs an unreadable one.
        """

    def prepare_writes(self, writes: Sequence[Write]) -> Prepared:
        """Begin making what `write_many` can make of WRITES before their transaction, and
        without the platform: what is returned gives it (waiting for it, where it is made
        apart), for `write_many` to take as `prepared`. The apply begins a batch's while
        the batches before it are written. By default nothing is made."""
        return _nothing_prepared

    @contextlib.contextmanager
    def preparing(self, writes: int) -> Iterator[None]:
        """An apply of WRITES creates and updates is under way: a provider may start what
        makes its batches' writes apart meanwhile (`prepare_writes`; the SQL stores: a
        process), and stops it after. Nothing by default."""
        yield

    def write_many(self, writes: Sequence[Write], prepared: object = None) -> list[ProviderError | None]:
        """Carry out WRITES (creates and updates of distinct keys), each as `create` or `update`
        would: what became of each, in order (None: written). Each succeeds or fails on its
        own, with the error it would raise alone, and its audit records as it would have.
        Once one finds the platform unavailable (`ProviderUnavailable`) the rest are not
        attempted, and the list ends with that one. By default, one by one; a provider that
        can do better (one statement for the batch) overrides it. PREPARED: what
        `prepare_writes` made of WRITES."""
        outcomes: list[ProviderError | None] = []
        for write in writes:
            try:
                if write.expected_version is None:
                    self.create(write.key, write.customer, write.audit)
                else:
                    self.update(write.key, write.customer, write.expected_version, write.audit)
            except ProviderUnavailable as exc:
                outcomes.append(exc)
                break
            except ProviderError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    @abstractmethod
    def deactivate(self, key: str, expected_version: int, audit: AuditContext) -> LiveRecord:
        """Set the customer's platform status to inactive, so it stops dialling, and mark it
        deactivated; the record stays. The audit records the status it had."""

    @abstractmethod
    def delete(self, key: str, expected_version: int, audit: AuditContext) -> None:
        """Remove the customer's record."""

    @abstractmethod
    def rename(self, old_key: str, new_key: str, expected_version: int, audit: AuditContext) -> LiveRecord:
        """Move the record to a new key; `ConflictError` if `new_key` exists."""

    @abstractmethod
    def read_audit(self, key: str | None = None, limit: int | None = None, field: str | None = None) -> list[AuditRecord]:
        """Audit records, newest first: all, or those of one customer key; of one field path
        (`status`), when FIELD says which."""

    def latest_audit(self, keys: Collection[str], field: str) -> dict[str, AuditRecord]:
        """The newest audit record of FIELD (a field path) for each of KEYS that has one. By
        default one `read_audit` a key; a store that can ask for them together does."""
        found: dict[str, AuditRecord] = {}
        for key in keys:
            records = self.read_audit(key, limit=1, field=field)
            if records:
                found[key] = records[0]
        return found

    def record_run(self, run: Run) -> None:  # noqa: B027 - optional: the default keeps nothing
        """Remember that an apply ran ("audit" capability); by default nothing is kept, and
        missed or late scheduled changes go unreported."""

    def read_runs(self, since: datetime) -> list[Run]:
        """The runs recorded with `at` >= SINCE, oldest first."""
        return []

    def bind(self, keys: Collection[str], audit: AuditContext) -> set[str]:
        """Manage the live customers of KEYS (keys `read()` gave them) from now on, as they are,
        writing nothing to them: what `import` does once their files are written. Returns the
        keys it bound. By default none: where a key is the live record's own identity (a SQL
        store), the first apply adopts the customer instead."""
        return set()

    def check_mapping(self) -> MappingCheck | None:
        """How the field mapping fits the live system (`MappingCheck`); None: no mapping."""
        return None

    @abstractmethod
    def acquire_lock(self, holder: str, ttl: timedelta) -> Lease:
        """Take the lock for `ttl`; `LockHeld` (naming holder and expiry) if another holds it.

        An expired lease is taken over.
        """

    @abstractmethod
    def renew_lock(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend a lease held by us to now + `ttl`; `LockHeld` if it was taken over."""

    @abstractmethod
    def release_lock(self, lease: Lease) -> None:
        """Give the lock up; does nothing if the lease is no longer ours."""

    @abstractmethod
    def lock_status(self) -> Lease | None:
        """The unexpired lease, or None when the lock is free."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside share one commit when the provider supports it (see above)."""
        yield

    def close(self) -> None:  # noqa: B027 - optional: a provider without connections has none to close
        """Release connections; the provider may be opened again by using it."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe().target}>"
