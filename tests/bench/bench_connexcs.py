"""Benchmark: the connexcs provider against the stand-in of its API with 20 ms added to every
request: read 10,000 customers, then apply 1,000 updates, one write at a time and at the
default write concurrency.

Run by `make bench` (or `pytest tests/bench/bench_connexcs.py -o addopts="" -o
python_files="bench_*.py" -s`); never by `make test`. The seed goes straight into the
stand-in (no latency); the reads and the applies go through the provider and the core's
`apply_plan` exactly as `reconciler apply` uses them, the state store in SQLite.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from pathlib import Path

from bench.bench_providers import bench_customer
from connexcs_standin import ConnexcsStandIn
from live_stores import ACCOUNT_MANAGER_IDS, CONNEXCS_ENVIRON, CONNEXCS_PASSWORD, CONNEXCS_USER

from reconciler.apply import ApplyReport, LockPolicy, apply_plan
from reconciler.model.customer import Customer
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.providers.base import AuditContext, LiveCustomer, ProviderConfig
from reconciler.providers.connexcs import DEFAULT_WRITE_CONCURRENCY, ConnexcsProvider

CUSTOMERS = 10_000
UPDATES = 1_000
LATENCY = 0.020  # seconds added to every request
AUDIT = AuditContext(actor="bench", commit=None, plan_id="bench")


def _provider(cx: ConnexcsStandIn, root: Path, write_concurrency: int) -> ConnexcsProvider:
    return ConnexcsProvider.from_options(
        {"url": cx.url, "write_concurrency": write_concurrency}, environ=CONNEXCS_ENVIRON, root=root,
        config=ProviderConfig(account_manager_ids=ACCOUNT_MANAGER_IDS),
    )


def _apply(provider: ConnexcsProvider, desired: dict[str, Customer]) -> tuple[float, ApplyReport]:
    now = dt.datetime.now(dt.UTC)
    context = PlanContext(at=now, commit=None, dirty=False, provider=provider.describe(), allow_bulk=True)
    plan = compute_plan(desired, provider.read(), context)
    lock = LockPolicy("bench", dt.timedelta(minutes=30), dt.timedelta(seconds=1),
                      lambda: dt.datetime.now(dt.UTC), time.sleep)
    started = time.perf_counter()
    report = apply_plan(plan, provider, AUDIT, lock)
    return time.perf_counter() - started, report


def test_read_10k_then_apply_1k_updates(tmp_path: Path) -> None:
    with ConnexcsStandIn(user=CONNEXCS_USER, password=CONNEXCS_PASSWORD) as cx:
        with _provider(cx, tmp_path, 1) as seeder:
            for number in range(CUSTOMERS):
                cx.seed(seeder.mapping.to_api(f"c{number}", bench_customer(number)))
        cx.latency = LATENCY
        figures: list[str] = []
        for write_concurrency in (1, DEFAULT_WRITE_CONCURRENCY):
            with _provider(cx, tmp_path / f"at-{write_concurrency}", write_concurrency) as provider:
                started = time.perf_counter()
                live = provider.read()
                read = time.perf_counter() - started
                assert len(live) == CUSTOMERS
                provider.bind(list(live), AUDIT)  # as `reconciler import` leaves them
                desired = {key: record.customer for key, record in live.items() if isinstance(record, LiveCustomer)}
                for key in sorted(desired)[:UPDATES]:
                    desired[key] = desired[key].model_copy(update={"channels": desired[key].channels + 1})
                applied, report = _apply(provider, desired)
                assert report.counts()["applied"] == UPDATES
                figures.append(
                    f"write_concurrency {write_concurrency}: read() {CUSTOMERS:,} customers {read:.1f} s; "
                    f"apply {UPDATES:,} updates {applied:.1f} s ({applied / UPDATES * 1000:.0f} ms each)"
                )
        requests = len(cx.requests)
    print(
        f"\nconnexcs on the stand-in, {LATENCY * 1000:.0f} ms added per request, page size 100 "
        f"({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}):"
    )
    for line in figures:
        print(f"  {line}")
    print(f"  ({requests:,} requests in all)")
