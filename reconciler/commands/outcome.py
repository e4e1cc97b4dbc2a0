"""What a command's run came to, in the words of the exit codes (the CLI maps them to numbers).

The decisions "a blocked plan", "an apply that got half-way" are made here, once, for
every command that makes or carries out a plan.
"""

from __future__ import annotations

import enum

from reconciler.apply import ApplyReport
from reconciler.plan.plan import Plan


class Outcome(enum.Enum):
    DONE = "done"  # done, or nothing to do
    FAILED = "failed"  # the command ran and found the input wanting (validate), or nothing applied
    CHANGES = "changes"  # changes or drift present
    BLOCKED = "blocked"  # a safety rule or the platform's rules stop part of the work
    PARTIAL = "partial"  # an apply that got part of the way


def plan_outcome(plan: Plan, *, detailed: bool) -> Outcome:
    """A plan that is blocked is BLOCKED; with `detailed`, one with changes is CHANGES."""
    if plan.blocked or plan.bulk_blocked:
        return Outcome.BLOCKED
    if detailed and plan.changes:
        return Outcome.CHANGES
    return Outcome.DONE


def apply_outcome(report: ApplyReport) -> Outcome:
    counts = report.counts()
    if counts["failed"] or counts["stale"]:
        return Outcome.PARTIAL if counts["applied"] else Outcome.FAILED
    if counts["blocked"]:
        return Outcome.BLOCKED
    return Outcome.DONE
