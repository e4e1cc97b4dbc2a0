"""What an apply did: a progress bar on a terminal, then a line per customer not applied and
the counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from reconciler.apply import ApplyReport, CustomerResult

PROGRESS_MIN = 20  # customers; fewer finish before a bar is worth drawing


def progress_bar(stream: TextIO) -> Callable[[int, int, CustomerResult], None]:
    def progress(done: int, total: int, result: CustomerResult) -> None:
        if total < PROGRESS_MIN:
            return
        width = 30
        filled = width * done // total
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {result.key[:30]:<30}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return progress


def render_apply_report(report: ApplyReport, out: TextIO) -> None:
    for result in report.results:
        if result.status != "applied":
            print(f"  {result.status.replace('_', ' '):<8} {result.key}: {result.message}", file=out)
    counts = report.counts()
    print(
        f"Applied {counts['applied']}, skipped {counts['skipped']}, failed {counts['failed']}, "
        f"stale {counts['stale']}, blocked {counts['blocked']}"
        + (f", not attempted {counts['not_attempted']}" if counts["not_attempted"] else "")
        + f" (plan {report.plan_id}).",
        file=out,
    )
