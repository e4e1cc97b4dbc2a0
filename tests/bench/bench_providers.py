"""Benchmark: read 100,000 live customers, then update 10,000 of them in one apply.

Run by `make bench` (or `pytest tests/bench/bench_providers.py -o addopts="" -s`), on the
sqlite store and on a PostgreSQL server started for the run (see tests/live_stores.py).
The seed goes straight into the table (bulk INSERT); read and update go through the
provider exactly as plan and apply use it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from live_stores import postgres_database, postgres_server
from sqlalchemy import insert

from reconciler.model.customer import Customer
from reconciler.model.fields import canonical_document
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext, Provider
from reconciler.providers.rows import row_from_canonical
from reconciler.providers.schema import customer

__all__ = ["postgres_database", "postgres_server"]

CUSTOMERS = 100_000
UPDATES = 10_000
AUDIT = AuditContext(actor="bench", commit=None, plan_id="bench")


def bench_customer(number: int) -> Customer:
    return Customer.model_validate({
        "name": f"Customer {number}",
        "channels": number % 1000,
        "flow_speed": Decimal(number % 50),
        "debit_limit": Decimal(f"{number % 10000}.25"),
        "minimum_payment": Decimal("50.00"),
        "topup_currencies": ["USD"],
        "currency": "USD",
        "config": {
            "p_asserted_id": "if_available",
            "portal_access": {"balance": "show", "cdr": "show"},
            "tags": ["wholesale", f"region-{number % 7}"],
            "reseller": "direct",
            "invoice": {"schedule": "monthly", "due_days": 30},
            "domain": f"sip{number}.example.com",
            "daily_spend_limit": Decimal("4000.00"),
            "stir_shaken_attestation": "A",
        },
        "timeouts": {"first_reply": 10, "pdd": 20, "ring": 120},
        "address": {"lines": [f"{number} Harbor Blvd"], "city": "Weehawken", "country": "US"},
        "verification": {"approved_cli_only": True, "require_email": True},
    })


def seed_store(provider: Provider, engine_url: str) -> None:
    from sqlalchemy import create_engine

    provider.open()
    now = datetime.now(UTC)
    engine = create_engine(engine_url)
    with engine.begin() as connection:
        batch = []
        for number in range(CUSTOMERS):
            batch.append({
                "key": f"customer-{number:06d}", "version": 1, "managed": True, "active": True,
                "created_at": now, "updated_at": now, **row_from_canonical(canonical_document(bench_customer(number))),
            })
            if len(batch) == 5_000:
                connection.execute(insert(customer), batch)
                batch = []
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Provider, str]]:
    if request.param == "sqlite":
        provider = create_provider("sqlite", {"path": "live.sqlite"}, environ={}, root=tmp_path)
        url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_database")
        provider = create_provider("postgresql", {}, environ={"RECONCILER_DATABASE_URL": url}, root=tmp_path)
    with provider:
        yield provider, url


def test_read_100k_then_update_10k(store: tuple[Provider, str]) -> None:
    provider, url = store
    started = time.perf_counter()
    seed_store(provider, url)
    seeded = time.perf_counter() - started

    started = time.perf_counter()
    live = provider.read()
    read = time.perf_counter() - started
    assert len(live) == CUSTOMERS

    keys = sorted(live)[:UPDATES]
    started = time.perf_counter()
    with provider.transaction():
        for key in keys:
            record = live[key]
            changed = record.customer.model_copy(update={"channels": record.customer.channels + 1})
            provider.update(key, changed, record.version, AUDIT)
    updated = time.perf_counter() - started
    assert len(provider.read_audit(limit=UPDATES + 1)) == UPDATES

    started = time.perf_counter()
    some = provider.read(keys)
    read_keys = time.perf_counter() - started
    assert all(record.version == 2 for record in some.values())

    name = provider.describe().name
    print(
        f"\n{name}: seed {CUSTOMERS:,} (bulk INSERT) {seeded:.2f} s; "
        f"read() {CUSTOMERS:,} {read:.2f} s ({read / CUSTOMERS * 1e6:.1f} µs each); "
        f"update {UPDATES:,} in one transaction {updated:.2f} s ({updated / UPDATES * 1e6:.0f} µs each); "
        f"read({UPDATES:,} keys) {read_keys:.2f} s"
    )
