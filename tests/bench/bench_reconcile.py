"""Benchmarks of the whole job on the embedded SQLite store.

- validate 10,000 generated customer files (cold: nothing cached);
- plan 100,000 customers with 1% changed (files loaded, live store read, diffed);
- apply 10,000 updates.

Run by `make bench`. Figures are printed; nothing here asserts a time.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from pathlib import Path

import pytest
from bench_providers import bench_customer, seed_store

from reconciler.apply import LockPolicy, apply_plan
from reconciler.cli import main
from reconciler.config import load_settings
from reconciler.desired.customers import customer_paths, load_customers
from reconciler.desired.state import load_desired
from reconciler.documents.cache import DocumentCache
from reconciler.history.git import Revision
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext
from reconciler.reconcile import make_plan

AT = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)

# The same customer as bench_providers.bench_customer(n), as a person would write it.
TEMPLATE = """\
# yaml-language-server: $schema=../schemas/customer.schema.json
name: Customer {n}
channels: {channels}
flow_speed: {flow_speed}
status: active
debit_limit: {debit}.25
minimum_payment: 50.00
topup_currencies: [USD]
currency: USD

config:
  p_asserted_id: if_available
  portal_access:
    balance: show
    cdr: show
  tags: [wholesale, region-{region}]
  reseller: direct
  invoice:
    schedule: monthly
    due_days: 30
  domain: sip{n}.example.com
  daily_spend_limit: 4000.00
  stir_shaken_attestation: A

timeouts:
  first_reply: 10
  pdd: 20
  ring: 120

address:
  lines: [{n} Harbor Blvd]
  city: Weehawken
  country: US

verification:
  approved_cli_only: true
  email: true
"""


def _write_customers(root: Path, count: int, *, changed_every: int = 0) -> None:
    directory = root / "customers.d"
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        channels = number % 1000
        if changed_every and number % changed_every == 0:
            channels += 1
        (directory / f"customer-{number:06d}.yaml").write_text(
            TEMPLATE.format(n=number, channels=channels, flow_speed=number % 50, debit=number % 10000, region=number % 7)
        )
    (root / "reconciler.toml").write_text('[live.options]\npath = "live.sqlite"\n[safety]\nmax_updates = 1000000\n')


def test_template_is_the_bench_customer(tmp_path: Path) -> None:
    _write_customers(tmp_path, 3)
    loaded = load_customers(customer_paths(tmp_path / "customers.d").paths)
    assert [loaded[f"customer-{n:06d}"].customer for n in range(3)] == [bench_customer(n) for n in range(3)]


def test_validate_10k(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    count = 10_000
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "")  # the command below runs cold, like the first timing
    _write_customers(tmp_path, count)
    paths = customer_paths(tmp_path / "customers.d").paths
    started = time.perf_counter()
    load_customers(paths)
    loaded = time.perf_counter() - started
    cache_file = tmp_path / "cache" / "documents.pickle"
    started = time.perf_counter()
    cold = DocumentCache(cache_file)
    load_customers(paths, load=cold.load)
    cold.save()
    cached_cold = time.perf_counter() - started
    started = time.perf_counter()
    warm = DocumentCache(cache_file)
    load_customers(paths, load=warm.load)
    cached_warm = time.perf_counter() - started
    assert warm.hits == count
    started = time.perf_counter()
    code = main(["-C", str(tmp_path), "validate"])
    command = time.perf_counter() - started
    assert code == 0
    with capsys.disabled():
        print(
            f"\nvalidate {count:,} files: load+validate {loaded:.2f} s ({loaded / count * 1e6:.0f} µs/file); "
            f"with the document cache: cold (parse + save) {cached_cold:.2f} s, "
            f"warm {cached_warm:.2f} s ({cached_warm / count * 1e6:.0f} µs/file); "
            f"`reconciler validate` {command:.2f} s"
        )


def test_plan_100k_with_1pct_changed_then_apply_10k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    count = 100_000
    _write_customers(tmp_path, count, changed_every=100)
    settings = load_settings(tmp_path)
    provider = create_provider("sqlite", {"path": "live.sqlite"}, environ={}, root=tmp_path)
    seed_store(provider, f"sqlite:///{tmp_path / 'live.sqlite'}")

    started = time.perf_counter()
    desired = load_desired(tmp_path, settings, AT)
    t_desired = time.perf_counter() - started
    started = time.perf_counter()
    live = provider.read()
    t_live = time.perf_counter() - started
    context = PlanContext(at=AT, commit=None, dirty=False, provider=provider.describe(), safety=settings.safety)
    started = time.perf_counter()
    plan = compute_plan(desired, live, context)
    t_diff = time.perf_counter() - started
    assert plan.counts()["update"] == count // 100

    started = time.perf_counter()
    plan_again = make_plan(tmp_path, settings, provider, at=AT, revision=Revision(None, False))
    t_make = time.perf_counter() - started
    assert plan_again.counts()["update"] == count // 100

    # 10,000 updates: every tenth customer's channels change.
    _write_customers(tmp_path, count, changed_every=10)
    big = make_plan(tmp_path, settings, provider, at=AT, revision=Revision(None, False))
    assert big.counts()["update"] == count // 10
    policy = LockPolicy("bench", dt.timedelta(minutes=10), dt.timedelta(0), lambda: dt.datetime.now(dt.UTC), time.sleep)
    started = time.perf_counter()
    report = apply_plan(big, provider, AuditContext("bench", None, big.plan_id), policy)
    t_apply = time.perf_counter() - started
    assert report.counts()["applied"] == count // 10
    provider.close()

    with capsys.disabled():
        print(
            f"\nplan {count:,} customers, 1% changed: load desired {t_desired:.2f} s "
            f"({t_desired / count * 1e6:.0f} µs/file), read live {t_live:.2f} s, diff {t_diff:.2f} s; "
            f"make_plan end to end {t_make:.2f} s"
            f"\napply {count // 10:,} updates: {t_apply:.2f} s ({t_apply / (count // 10) * 1e3:.2f} ms each)"
            f"\npeak memory of the process (desired and live state of {count:,} customers, twice over): "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
