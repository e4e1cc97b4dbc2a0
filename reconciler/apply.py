"""Carry a plan out on a provider, customer by customer, under the provider's lease lock.

Safe to re-run after any crash: each write carries the version it expects and its audit
records commit with it, so a second run of the same plan finds the customers it already
wrote in their planned state and skips them, and a fresh plan finds nothing to do.

A provider with the "concurrent_writes" capability (a remote API, where each write waits on
the network) has each batch's writes run from a pool of `write_concurrency` threads; the
results stay in plan order, progress is reported as writes finish. Once a write finds the
platform unavailable (`ProviderUnavailable`: its retry budget spent), the writes not yet
started are not attempted: each would only spend the budget again.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

from reconciler.errors import LockHeld, ProviderError, ProviderUnavailable, StalePlan, UnsafePlan
from reconciler.gc_pause import gc_paused
from reconciler.model.diff import diff_customers
from reconciler.plan.plan import Action, CustomerChange, Override, Plan, fingerprint, fingerprint_of
from reconciler.providers.base import (
    AuditContext,
    Lease,
    LiveCustomer,
    LiveRecord,
    LiveSummary,
    Prepared,
    Provider,
    Run,
    Write,
)

Status = Literal["applied", "skipped", "failed", "stale", "blocked", "not_attempted"]
STATUSES: tuple[Status, ...] = ("applied", "skipped", "failed", "stale", "blocked", "not_attempted")
NOT_ATTEMPTED = "the platform was unavailable (see the failed write); run apply again later"
STOPPED = "the apply was asked to stop; the next run applies it"


@dataclass(frozen=True)
class CustomerResult:
    """What became of one customer of the plan."""

    key: str
    action: Action | None  # None: a blocked customer, which the plan holds no action for
    status: Status
    message: str = ""


@dataclass(frozen=True)
class ApplyReport:
    plan_id: str
    results: tuple[CustomerResult, ...]

    def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts


@dataclass(frozen=True)
class LockPolicy:
    """How apply takes the provider's lock; the clock and sleep come from the caller."""

    holder: str
    ttl: dt.timedelta
    wait: dt.timedelta
    clock: Callable[[], dt.datetime]
    sleep: Callable[[float], None]


Progress = Callable[[int, int, CustomerResult], None]

# How a run ended, as its `Run` record says: only "no_changes" and "applied" mean desired
# state was in place when it ended (blocked customers aside, which stay as they are by design).
RunOutcome = Literal["no_changes", "applied", "partial", "failed", "bulk_blocked"]


def run_outcome(plan: Plan, report: ApplyReport | None) -> RunOutcome:
    """How a run of PLAN ended: REPORT is None when nothing was applied."""
    if plan.bulk_blocked:
        return "bulk_blocked"
    if report is None:
        return "no_changes"
    counts = report.counts()
    if counts["failed"] or counts["stale"] or counts["not_attempted"]:
        return "partial" if counts["applied"] else "failed"
    return "applied"


def record_run(provider: Provider, plan: Plan, report: ApplyReport | None, actor: str, finished_at: dt.datetime) -> None:
    """Remember that this run of PLAN ended, and how: missed and late scheduled changes are
    judged from these records."""
    provider.record_run(Run(plan.at, finished_at, run_outcome(plan, report), actor, plan.commit, plan.plan_id))


@contextmanager
def held_lock(provider: Provider, policy: LockPolicy) -> Iterator[Callable[[], None]]:
    """Hold the lease for the block; yields a `keep_alive()` to call between writes."""
    deadline = policy.clock() + policy.wait
    while True:
        try:
            lease = provider.acquire_lock(policy.holder, policy.ttl)
            break
        except LockHeld:
            if policy.clock() >= deadline:
                raise
            policy.sleep(min(1.0, max(0.05, policy.wait.total_seconds() / 20)))
    current: list[Lease] = [lease]

    def keep_alive() -> None:
        # Renew once half the lease has gone: a long apply never loses its lock midway.
        if current[0].expires_at - policy.clock() < policy.ttl / 2:
            current[0] = provider.renew_lock(current[0], policy.ttl)

    try:
        yield keep_alive
    finally:
        provider.release_lock(current[0])


def apply_plan(
    plan: Plan,
    provider: Provider,
    audit: AuditContext,
    lock: LockPolicy,
    *,
    only: Collection[str] | None = None,
    partial: bool = False,
    progress: Progress | None = None,
    batch_size: int = 100,
    stopping: Callable[[], bool] = lambda: False,
    saved: bool = True,
) -> ApplyReport:
    """Apply `plan`; raise StalePlan (nothing written) when live records moved on, unless `partial`.
    Once `stopping()` says so (a SIGTERM), the batch in flight finishes and no other starts.
    `saved`: the plan was read from a file, so each change is checked to say all it writes
    (False: made by this process just now, from the records it read)."""
    if plan.bulk_blocked:
        raise UnsafePlan(
            "the plan goes over the safety thresholds; review it and re-run with --allow-bulk:\n  "
            + "\n  ".join(plan.bulk_blocked)
        )
    changes = [change for change in plan.changes if only is None or change.key in only]
    results: list[CustomerResult] = [
        CustomerResult(blocked.key, None, "blocked", blocked.reason)
        for blocked in plan.blocked
        if only is None or blocked.key in only
    ]
    # The plan and live records are many objects that stay alive to the end: a garbage
    # collection over them between writes costs time and frees nothing.
    with held_lock(provider, lock) as keep_alive, gc_paused():
        keys = _keys_read(changes)
        unmoved = _unmoved(changes, provider.read_summaries(keys)) if not saved else {}
        live = provider.read(keys - unmoved.keys())
        checked = [
            (change, Verdict("go", record=unmoved[change.key]) if change.key in unmoved else _check(change, live, saved=saved))
            for change in changes
        ]
        stale = [(change, verdict) for change, verdict in checked if verdict.kind == "stale"]
        if stale and not partial:
            raise StalePlan(
                "the live platform changed since the plan was made; nothing was applied. "
                "Make a new plan (or apply the rest with --partial):\n  "
                + "\n  ".join(f"{change.key}: {verdict.reason}" for change, verdict in stale)
            )
        total = len(checked)
        finished: list[CustomerResult] = []

        def report(result: CustomerResult) -> None:
            finished.append(result)
            if progress is not None:
                progress(len(finished), total, result)

        batches = [checked[start:start + batch_size] for start in range(0, total, batch_size)]
        applying = _Applying(provider, audit, report, stopping, keep_alive)
        at_once = "concurrent_writes" in provider.describe().capabilities and provider.write_concurrency > 1
        results.extend(applying.at_once(batches) if at_once else applying.in_transactions(batches))
    return ApplyReport(plan.plan_id, tuple(results))


_Batch = Sequence[tuple[CustomerChange, "Verdict"]]


class _Applying:
    """The batches of one apply, carried out in plan order. Once `stopping()` says so, the
    batch in flight finishes and no other starts; the lease is renewed between batches
    (`keep_alive`), outside them."""

    def __init__(
        self,
        provider: Provider,
        audit: AuditContext,
        report: Callable[[CustomerResult], None],
        stopping: Callable[[], bool],
        keep_alive: Callable[[], None],
    ) -> None:
        self.provider, self.audit, self.report = provider, audit, report
        self.stopping, self.keep_alive = stopping, keep_alive
        # Once a write finds the platform unavailable, the writes not yet started are not attempted.
        self.unavailable = threading.Event()

    def at_once(self, batches: Sequence[_Batch]) -> list[CustomerResult]:
        """Each batch's writes from the provider's threads (`_carry_out_at_once`)."""
        results: list[CustomerResult] = []
        for index, batch in enumerate(batches):
            if self.stopping():
                return results + _stopped(batches[index:])
            results += _carry_out_at_once(batch, self.provider, self.audit, self.unavailable, self.report)
            self.keep_alive()
        return results

    def in_transactions(self, batches: Sequence[_Batch]) -> list[CustomerResult]:
        """Each batch in one transaction: a crash loses at most the batch in flight, which the
        next run redoes. The writes of the next two batches are begun
        (`Provider.prepare_writes`: a SQL store makes a bulk apply's in worker processes,
        `Provider.preparing`) while one is written, and made while it commits, on a thread
        of its own: a commit is the store's work alone (its driver lets go of the
        interpreter), 1.6-4 s of 100,000 creates' apply. A batch's results are reported
        once it has committed."""
        with self.provider.preparing(sum(map(len, batches))):
            return self._in_transactions(batches)

    def _in_transactions(self, batches: Sequence[_Batch]) -> list[CustomerResult]:
        results: list[CustomerResult] = []
        ahead: deque[list[_Written | tuple[CustomerChange, Verdict]]] = deque(
            self._steps(batch) for batch in batches[:_AHEAD]
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler-commit") as committer:
            committing: Future[None] | None = None
            written: list[CustomerResult] = []  # the results of the batch committing

            def committed() -> None:
                nonlocal committing
                if committing is not None:
                    committing.result()  # the commit's failure is raised here
                    committing = None
                    for result in written:
                        results.append(result)
                        self.report(result)
                    self.keep_alive()

            for index in range(len(batches)):
                if self.stopping():
                    committed()
                    return results + _stopped(batches[index:])
                steps = ahead.popleft()
                if index + _AHEAD < len(batches):
                    ahead.append(self._steps(batches[index + _AHEAD]))
                committed()
                transaction = ExitStack()
                transaction.enter_context(self.provider.transaction())
                try:
                    written = self._carried_out(steps)
                except BaseException as exc:
                    transaction.__exit__(type(exc), exc, exc.__traceback__)
                    raise
                committing = committer.submit(transaction.close)
            committed()
        return results

    def _steps(self, batch: _Batch) -> list[_Written | tuple[CustomerChange, Verdict]]:
        """The batch's changes in order, each run of creates and updates made into writes that
        go to the provider together (`Provider.write_many`: a SQL store writes them in a few
        statements), with what the provider makes of them before their transaction."""
        steps: list[_Written | tuple[CustomerChange, Verdict]] = []
        run: list[tuple[CustomerChange, Write]] = []
        for change, verdict in batch:
            write = _plain_write(change, verdict, self.audit)
            if write is not None:
                run.append((change, write))
                continue
            if run:
                steps.append(self._written(run))
                run = []
            steps.append((change, verdict))
        if run:
            steps.append(self._written(run))
        return steps

    def _written(self, run: list[tuple[CustomerChange, Write]]) -> _Written:
        return _Written(run, self.provider.prepare_writes([write for _, write in run]))

    def _carried_out(self, steps: list[_Written | tuple[CustomerChange, Verdict]]) -> list[CustomerResult]:
        results: list[CustomerResult] = []
        for step in steps:
            if isinstance(step, _Written):
                results += _written_together(step, self.provider, self.unavailable)
            else:
                results.append(_carry_out(*step, self.provider, self.audit, self.unavailable))
        return results


# Batches whose writes are begun before the one being written is (`_Applying.in_transactions`).
_AHEAD = 2


class _Written(NamedTuple):
    """A run of creates and updates that go to the provider together, and what it makes of
    them before their transaction (`Provider.prepare_writes`)."""

    writes: list[tuple[CustomerChange, Write]]
    prepared: Prepared


def _stopped(batches: Sequence[_Batch]) -> list[CustomerResult]:
    return [CustomerResult(change.key, change.action, "not_attempted", STOPPED) for batch in batches for change, _ in batch]


def _plain_write(change: CustomerChange, verdict: Verdict, audit: AuditContext) -> Write | None:
    """The change as a create or an update of its own key, when that is all it is. A create
    the plan holds as a canonical document is written as one: no customer is made for it
    unless the provider asks (`Write.of_packed`)."""
    if verdict.kind != "go":
        return None
    if verdict.record is None:
        packed = change.packed()
        if packed is not None:
            return Write.of_packed(change.key, packed.document, packed.digest, None, _audit_of(change, audit))
    elif not (change.action.writes_fields and verdict.record.key == change.key):
        return None
    desired = change.desired
    if desired is None:
        return None
    return Write(change.key, desired, verdict.record.version if verdict.record else None, _audit_of(change, audit))


def _written_together(written: _Written, provider: Provider, unavailable: threading.Event) -> list[CustomerResult]:
    run = written.writes
    if unavailable.is_set():
        return [CustomerResult(change.key, change.action, "not_attempted", NOT_ATTEMPTED) for change, _ in run]
    outcomes = provider.write_many([write for _, write in run], written.prepared())
    results = []
    for (change, _), failure in zip(run, outcomes, strict=False):  # outcomes may end early
        if failure is None:
            results.append(CustomerResult(change.key, change.action, "applied"))
        else:
            if isinstance(failure, ProviderUnavailable):
                unavailable.set()
            results.append(CustomerResult(change.key, change.action, "failed", str(failure)))
    # Fewer outcomes than writes: the platform became unavailable, the rest were not attempted.
    results += [CustomerResult(change.key, change.action, "not_attempted", NOT_ATTEMPTED) for change, _ in run[len(outcomes):]]
    return results


def _carry_out_at_once(
    batch: Sequence[tuple[CustomerChange, Verdict]],
    provider: Provider,
    audit: AuditContext,
    unavailable: threading.Event,
    report: Callable[[CustomerResult], None],
) -> list[CustomerResult]:
    """The batch's writes from `provider.write_concurrency` threads; results in plan order."""
    with ThreadPoolExecutor(max_workers=provider.write_concurrency, thread_name_prefix="apply") as pool:
        futures: list[Future[CustomerResult]] = [
            pool.submit(_carry_out, change, verdict, provider, audit, unavailable) for change, verdict in batch
        ]
        try:
            for future in as_completed(futures):
                report(future.result())
        except BaseException:
            # Interrupted, or a bug: start no more writes; those under way finish first.
            unavailable.set()
            pool.shutdown(cancel_futures=True)
            raise
    return [future.result() for future in futures]


def _keys_read(changes: list[CustomerChange]) -> set[str]:
    keys = {change.key for change in changes}
    keys.update(change.renamed_from for change in changes if change.renamed_from)
    return keys


def _unmoved(changes: list[CustomerChange], summaries: Mapping[str, LiveSummary]) -> dict[str, LiveSummary]:
    """The live records of CHANGES (made by this process) that hold, by their digests, what
    the plan found in them: what `_check` would find (the same fingerprint) without reading
    them whole. Renames and creates are left to it."""
    unmoved = {}
    for change in changes:
        summary = summaries.get(change.key)
        if (
            summary is not None and summary.digest is not None and change.renamed_from is None
            and change.action is not Action.CREATE
            and fingerprint_of(summary.digest, active=summary.active) == change.fingerprint
        ):
            unmoved[change.key] = summary
    return unmoved


@dataclass(frozen=True)
class Verdict:
    """What to do with one planned change, given the live record now."""

    kind: Literal["go", "done", "stale"]
    reason: str = ""
    record: LiveRecord | LiveSummary | None = None  # where the write goes: key and version


def _check(change: CustomerChange, live: Mapping[str, LiveRecord], *, saved: bool) -> Verdict:
    current = live.get(change.renamed_from or change.key)
    if change.action is Action.RENAME and current is None:
        # A crash between the rename and the update leaves the record at its new key.
        current = live.get(change.key)
    if change.action is Action.CREATE:
        if current is None:
            return Verdict("go")
        if _matches(current, change):
            return Verdict("done", "already created")
        return Verdict("stale", "it was created live since the plan")
    if current is None:
        if change.action.is_removal:
            return Verdict("done", "already gone")
        return Verdict("stale", "it no longer exists live")
    if change.action is Action.DEACTIVATE and not current.active:
        return Verdict("done", "already inactive")
    if fingerprint(current) == change.fingerprint:
        if saved and not _says_what_it_writes(change, current):
            return Verdict("stale", "the plan's changes do not say all that it would write (was it edited?); make a new plan")
        return Verdict("go", record=current)
    if _matches(current, change) and current.key == change.key:
        return Verdict("done", "already in the planned state")
    return Verdict("stale", _what_moved(change, current))


def _says_what_it_writes(change: CustomerChange, current: LiveRecord) -> bool:
    """Whether the planned field changes are exactly what writing `desired` over the live record
    it was planned against changes: a saved plan whose `desired` was edited is not applied."""
    if change.desired is None or not isinstance(current, LiveCustomer):
        return True  # removals write no fields; a repair overwrites what cannot be read
    fresh = diff_customers(current.customer, change.desired)
    return [(field.path, field.after) for field in fresh] == [(field.path, field.after) for field in change.changes]


def _matches(current: LiveRecord, change: CustomerChange) -> bool:
    if not isinstance(current, LiveCustomer) or not current.active:
        return False
    desired = change.desired  # asked for once: a create the plan made makes it from its document
    return desired is not None and current.customer == desired


def _what_moved(change: CustomerChange, current: LiveRecord) -> str:
    if change.desired is None or not isinstance(current, LiveCustomer):
        return "its live record changed since the plan"
    # `before` of the planned changes is the live value then; of a fresh diff, the value now.
    planned = {field_change.path: field_change.before for field_change in change.changes}
    now = {
        field_change.path: field_change.before
        for field_change in diff_customers(current.customer, change.desired)
    }
    moved = []
    for path in sorted(planned.keys() | now.keys()):
        if path not in now:
            moved.append(f"{path} already has the planned value")
        elif path not in planned:
            moved.append(f"{path} changed live to {now[path]}")
        elif planned[path] != now[path]:
            moved.append(f"{path} is now {now[path]}, the plan expected {planned[path]}")
    return "; ".join(moved) or "its live record changed since the plan"


# What the audit records of an override the operator asked for.
OVERRIDE_NOTES = {
    Override.LIFT_PENALTY: "penalty lifted by --lift-penalty",
    Override.REPAIR: "unreadable live record overwritten by --repair",
}


def _audit_of(change: CustomerChange, audit: AuditContext) -> AuditContext:
    """AUDIT, with a note of each override the operator asked for on this change."""
    if not change.overrides:
        return audit
    notes = [*(OVERRIDE_NOTES[override] for override in change.overrides), *([audit.note] if audit.note else [])]
    return replace(audit, note="; ".join(notes))


def _carry_out(
    change: CustomerChange, verdict: Verdict, provider: Provider, audit: AuditContext, unavailable: threading.Event
) -> CustomerResult:
    audit = _audit_of(change, audit)
    if verdict.kind != "go":
        status: Status = "skipped" if verdict.kind == "done" else "stale"
        return CustomerResult(change.key, change.action, status, verdict.reason)
    if unavailable.is_set():
        return CustomerResult(change.key, change.action, "not_attempted", NOT_ATTEMPTED)
    record, desired = verdict.record, change.desired
    try:
        if record is None:
            assert desired is not None  # a create carries its customer
            provider.create(change.key, desired, audit)
        elif change.action.writes_fields:
            assert desired is not None
            if record.key != change.key:
                record = provider.rename(record.key, change.key, record.version, audit)
            provider.update(change.key, desired, record.version, audit)
        elif change.action is Action.DEACTIVATE:
            provider.deactivate(change.key, record.version, audit)
        else:
            provider.delete(change.key, record.version, audit)
    except ProviderError as exc:
        if isinstance(exc, ProviderUnavailable):
            unavailable.set()
        return CustomerResult(change.key, change.action, "failed", str(exc))
    return CustomerResult(change.key, change.action, "applied")
