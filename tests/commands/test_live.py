"""`reconciler live init|status` (reconciler/commands/live.py), on each provider."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from invoke import invoke

from reconciler.model.customer import Customer
from reconciler.providers.base import AuditContext
from reconciler.providers.schema import SCHEMA_VERSION

AUDIT = AuditContext(actor="test", commit=None, plan_id=None)


def _configure(spec: Any) -> None:
    options = "".join(f'{name} = "{value}"\n' for name, value in spec.options.items())
    (spec.root / "reconciler.toml").write_text(f'[live]\nprovider = "{spec.name}"\n[live.options]\n{options}')


def _run(spec: Any, *argv: str) -> tuple[int, str]:
    outcome = invoke(spec.root, "live", *argv, environ=spec.environ)
    return outcome.code, outcome.out + outcome.err


def test_init_creates_the_store_then_finds_it(spec: Any) -> None:
    _configure(spec)
    target = spec.make().describe().target
    assert _run(spec, "init") == (0, f"{target}: schema version {spec.schema_version} created\n")
    assert _run(spec, "init") == (0, f"{target}: schema version {spec.schema_version} ready\n")


def test_init_on_the_default_sqlite_store(tmp_path: Path) -> None:
    spec = argparse.Namespace(root=tmp_path, environ={})
    assert _run(spec, "init") == (0, f"sqlite .reconciler/live.sqlite: schema version {SCHEMA_VERSION} created\n")
    assert (tmp_path / ".reconciler/live.sqlite").is_file()


def test_status_of_an_empty_store(spec: Any) -> None:
    _configure(spec)
    target = spec.make().describe().target
    assert _run(spec, "status") == (
        0,
        f"{target}\nschema version: {spec.schema_version}\ncustomers: 0 (0 managed, 0 unmanaged; 0 deactivated by the reconciler)\nlock: free\n",
    )


def test_status_counts_customers_and_shows_the_lock(spec: Any) -> None:
    _configure(spec)
    with spec.make() as provider:
        for key, status in [("a", "active"), ("b", "penalty"), ("c", "active"), ("d", "pending_approval")]:
            provider.create(key, Customer(currency="USD", status=status), AUDIT)
        provider.deactivate("d", 1, AUDIT)
        lease = provider.acquire_lock("alice@ci", timedelta(minutes=5))
        target = provider.describe().target
    until = lease.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    code, output = _run(spec, "status")
    assert (code, output) == (
        0,
        f"{target}\n"
        f"schema version: {spec.schema_version}\n"
        "customers: 4 (4 managed, 0 unmanaged; 1 deactivated by the reconciler)\n"
        "platform status: active 2, inactive 1, penalty 1\n"
        f"lock: held by alice@ci until {until}\n",
    )
    assert "s3cret" not in output
