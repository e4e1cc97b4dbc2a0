"""The reconcile agent's loop: fetch what merged, apply what is due, sleep until the next
instant desired state changes or the next fetch, whichever comes first.

Each cycle plans against the live platform and, when there are changes, applies them under
the provider's lease (`apply_plan` takes it, waiting not at all): of several agents on one
store, one applies and the others find the lease held and stand by until it expires or
their next cycle, whichever is first. A SIGTERM (the `stop` event) ends the apply after the
batch in flight and the loop after the cycle; the lease is released on the way out. A crash
is recovered by the next start, because apply is crash-safe.

The clock and the wait come from the caller, so a test runs days of schedule in a moment.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.agent.events import EventLog
from reconciler.agent.metrics import AgentMetrics, Health
from reconciler.agent.repository import Tracked
from reconciler.apply import ApplyReport, LockPolicy, apply_plan, record_run, run_outcome
from reconciler.commands.session import Session, inputs
from reconciler.desired.overlays import change_instants
from reconciler.desired.state import load_plans
from reconciler.errors import GitError, LockHeld, ReconcilerError
from reconciler.history.git import current_revision
from reconciler.model.types import instant_text
from reconciler.plan.drift import find_drift
from reconciler.plan.plan import Plan, Punctuality
from reconciler.providers.base import AuditContext, Provider
from reconciler.reconcile import make_plan, open_provider
from reconciler.render.values import schedule_text

# After an error (the store unreachable, a bad merge), try again this soon: not at once,
# which would spin, and not at the next fetch, which may be minutes away.
RETRY_AFTER = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class AgentOptions:
    tracked: Tracked | None  # None: use the checkout as it is, never fetch
    fetch_interval: dt.timedelta


class Agent:
    def __init__(
        self,
        session: Session,
        options: AgentOptions,
        *,
        log: EventLog,
        metrics: AgentMetrics,
        health: Health,
        stop: threading.Event,
        wait: Callable[[float], bool],
    ) -> None:
        self.session = session
        self.options = options
        self.log = log
        self.metrics = metrics
        self.health = health
        self.stop = stop
        self._wait = wait  # sleep up to N seconds; True when woken by `stop`
        self._fetched_at: dt.datetime | None = None
        self._retry_at: dt.datetime | None = None
        self._standing_by = False

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.session.world.clock

    def run(self) -> None:
        self.log("started", f"reconciling {self.session.root}" + self._following())
        while not self.stop.is_set():
            wake = self.cycle()
            seconds = max(0.0, (wake - self.clock()).total_seconds())
            self.log("sleeping", f"until {instant_text(wake)}", seconds=round(seconds, 3))
            if self._wait(seconds):
                break
        self.log("stopped", "stopped on request; the lease is released")

    def cycle(self) -> dt.datetime:
        """One round of fetch, plan and apply; the instant to wake for the next one."""
        now = self.clock()
        self._retry_at = None
        if self.options.tracked is not None and (
            self._fetched_at is None or now - self._fetched_at >= self.options.fetch_interval
        ):
            self._fetch(self.options.tracked)
        next_change: dt.datetime | None = None
        try:
            settings = self.session.settings()
            overlays = load_plans(self.session.root, settings)
            later = [instant for instant in change_instants(overlays) if instant > now]
            next_change = later[0] if later else None
            self.metrics.pending.set(len(later))
            self.metrics.next_change.set((next_change - now).total_seconds() if next_change else math.nan)
            with open_provider(settings, environ=self.session.environ, root=self.session.root) as provider:
                self._reconcile(provider, now)
        except ReconcilerError as error:
            self.metrics.outcome.state("error")
            self.log("error", str(error))
            self._retry_at = now + RETRY_AFTER
        self.health.beat(role="standby" if self._standing_by else "active", next_change=_text(next_change))
        return self._next_wake(now, next_change)

    def _following(self) -> str:
        tracked = self.options.tracked
        return f", following {tracked.remote}/{tracked.branch}" if tracked else " as it is (no fetching)"

    def _fetch(self, tracked: Tracked) -> None:
        self._fetched_at = self.clock()
        try:
            before, after = tracked.sync(self.session.root)
        except GitError as error:
            self.metrics.fetch_failures.inc()
            self.log("fetch_failed", f"{error}; reconciling the commit already checked out")
            return
        if before != after:
            self.log("fetched", f"{tracked.remote}/{tracked.branch} is at {after[:12]} (was {before[:12]})", commit=after)

    def _reconcile(self, provider: Provider, now: dt.datetime) -> None:
        session = self.session
        settings = session.settings()
        revision = current_revision(session.root, inputs(settings))
        self.metrics.revision.info({"commit": revision.commit or ""})
        with session.loading() as load:
            plan = make_plan(session.root, settings, provider, at=now, revision=revision, load=load, judge_schedule=True)
        audited = "audit" in provider.describe().capabilities
        drift = find_drift(plan, provider.read_audit if audited else None)
        self.metrics.drift.set(sum(1 for customer in drift.customers if customer.origin == "outside"))
        for warning in plan.warnings:
            self.log("warning", warning)
        for note in plan.schedule:
            (self.metrics.missed if note.kind is Punctuality.MISSED else self.metrics.late).inc()
            self.log(note.kind.value, schedule_text(note), overlay=note.overlay)
        for blocked in plan.blocked:
            self.log("blocked", f"{blocked.key}: {blocked.reason}")
        if plan.bulk_blocked:
            self.log(
                "bulk_blocked", "the plan goes over the safety thresholds; nothing applied, a person must review it "
                "and apply with --allow-bulk: " + "; ".join(plan.bulk_blocked), plan=plan.plan_id,
            )
            self._finished(provider, plan, None)
        elif not plan.changes:
            self._standing_by = False
            self._finished(provider, plan, None)
        else:
            self._apply(plan, provider)

    def _apply(self, plan: Plan, provider: Provider) -> None:
        session, safety = self.session, self.session.settings().safety
        ttl = dt.timedelta(seconds=safety.lock_ttl_seconds)
        try:
            self.metrics.lease.set(1)
            report = apply_plan(
                plan, provider,
                AuditContext(actor=session.actor(), commit=plan.commit, plan_id=plan.plan_id, note="applied by the agent"),
                LockPolicy(
                    holder=f"agent {session.lock_holder()}", ttl=ttl, wait=dt.timedelta(0),
                    clock=self.clock, sleep=lambda seconds: None,
                ),
                batch_size=safety.apply_batch_size,
                stopping=self.stop.is_set,
                saved=False,  # made by this cycle
            )
        except LockHeld as held:
            self._stand_by(provider, str(held))
            return
        finally:
            self.metrics.lease.set(0)
        self._standing_by = False
        self._report(plan, report, provider)

    def _stand_by(self, provider: Provider, why: str) -> None:
        lease = provider.lock_status()
        if lease is not None:
            self._retry_at = lease.expires_at
        if not self._standing_by:
            self.log("standby", f"{why}; trying again when its lease expires")
        self._standing_by = True

    def _report(self, plan: Plan, report: ApplyReport, provider: Provider) -> None:
        counts = report.counts()
        self.metrics.applied.inc(counts["applied"])
        self.metrics.failed.inc(counts["failed"])
        self._finished(provider, plan, report)
        self.log(
            "applied",
            f"{counts['applied']} applied, {counts['skipped']} skipped, {counts['failed']} failed, "
            f"{counts['stale']} stale, {counts['blocked']} blocked, {counts['not_attempted']} not attempted "
            f"(plan {plan.plan_id}, commit {(plan.commit or 'none')[:12]})",
            plan=plan.plan_id, commit=plan.commit, **counts,
        )
        for result in report.results:
            if result.status in ("failed", "stale", "not_attempted"):
                self.log(result.status, f"{result.key}: {result.message}")

    def _finished(self, provider: Provider, plan: Plan, report: ApplyReport | None) -> None:
        """Record the run in the store (punctuality is judged from it) and in the metrics."""
        record_run(provider, plan, report, self.session.actor(), self.clock())
        self.metrics.outcome.state(run_outcome(plan, report))
        self.metrics.last_apply.set(self.clock().timestamp())

    def _next_wake(self, now: dt.datetime, next_change: dt.datetime | None) -> dt.datetime:
        # At least once an interval, fetching or not: drift is found and put right, and the
        # health check sees the loop beat.
        candidates = [(self._fetched_at or now) + self.options.fetch_interval]
        candidates += [instant for instant in (next_change, self._retry_at) if instant is not None]
        return min(candidates)


def _text(instant: dt.datetime | None) -> str | None:
    return instant_text(instant) if instant is not None else None
