"""`reconciler drift` and `reconciler live history` on both SQL stores: exact messages and exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from sqlalchemy import text, update

from reconciler.model.customer import Customer
from reconciler.plan.drift import find_drift, same
from reconciler.plan.plan import Action, CustomerChange, Plan
from reconciler.providers.schema import customer


def _project(spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    options = "".join(f'{name} = "{value}"\n' for name, value in spec.options.items())
    (spec.root / "reconciler.toml").write_text(f'[live]\nprovider = "{spec.name}"\n[live.options]\n{options}')
    for name, value in spec.environ.items():
        monkeypatch.setenv(name, value)
    (spec.root / "customers.d").mkdir()
    (spec.root / "customers.d/acme.yaml").write_text("currency: USD\nchannels: 100\ndebit_limit: 1000.00\n")
    (spec.root / "customers.d/kiwi.yaml").write_text("currency: NZD\nchannels: 8\n")
    root: Path = spec.root
    return root


def _stamp(record: Any) -> str:
    return record.at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_no_drift_right_after_apply(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(spec, monkeypatch)
    run(root, "apply", "--yes").assert_success()
    outcome = run(root, "drift", "--at", "2026-11-27T10:00:00Z")
    target = spec.make().describe().target
    assert (outcome.code, outcome.err) == (0, "")
    assert outcome.out == (
        f"Drift at 2026-11-27T10:00:00Z · not from a git commit · {target}\n"
        "No drift: the live platform matches git.\n"
    )


def test_drift_tells_outside_changes_from_unapplied_ones(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(spec, monkeypatch)
    run(root, "apply", "--yes").assert_success()
    (root / "customers.d/acme.yaml").write_text("currency: USD\nchannels: 150\ndebit_limit: 1000.00\n")
    (root / "customers.d/northwind.yaml").write_text("currency: EUR\n")
    (root / "customers.d/kiwi.yaml").unlink()
    with spec.engine().begin() as connection:  # someone edits the platform behind the reconciler's back
        # Typed through the store's table: SQLite keeps money as scaled integers.
        connection.execute(
            update(customer).where(customer.c.key == "acme").values(debit_limit=Decimal(1500), flow_speed=Decimal(3))
        )
    with spec.make() as provider:
        created = provider.read_audit("acme")[0]
        target = provider.describe().target
    outcome = run(root, "drift", "--at", "2026-11-27T10:00:00Z")
    wrote = f"on {_stamp(created)} by tester"
    assert (outcome.code, outcome.err) == (2, "")
    assert outcome.out == (
        f"Drift at 2026-11-27T10:00:00Z · not from a git commit · {target}\n"
        "  ~ acme\n"
        "      channels              live 100, git 150: in git, not yet applied\n"
        "      flow_speed            live 3, git 0: changed outside the reconciler (the reconciler wrote 0 "
        f"{wrote})\n"
        "      debit_limit           live 1500.00, git 1000.00: changed outside the reconciler (the reconciler "
        f"wrote 1000.00 {wrote})\n"
        "  - kiwi                    removed from git, still active live\n"
        "  + northwind               new in git, not yet created\n"
        "3 customers drifted: 2 changed outside the reconciler, 3 in git, not yet applied.\n"
    )
    document = json.loads(run(root, "drift", "--format", "json").out)
    assert document["counts"] == {"outside": 2, "unapplied": 3, "unknown": 0}
    assert document["customers"][0]["fields"][2]["last_written"]["value"] == "1000.00"
    assert document["customers"][0]["origin"] == "outside"  # as its fields say
    markdown = run(root, "drift", "--format", "markdown", "--at", "2026-11-27T10:00:00Z")
    assert markdown.code == 2
    assert markdown.out == (
        f"### Drift at 2026-11-27T10:00:00Z · not from a git commit · {target}\n\n"
        "**`acme`** update (changed outside the reconciler)\n\n"
        "| field | live | git | why |\n|---|---|---|---|\n"
        "| `channels` | 100 | 150 | in git, not yet applied |\n"
        "| `flow_speed` | 3 | 0 | changed outside the reconciler |\n"
        "| `debit_limit` | 1500.00 | 1000.00 | changed outside the reconciler |\n\n"
        "**`kiwi`** removed from git, still active live (in git, not yet applied)\n\n"
        "**`northwind`** new in git, not yet created (in git, not yet applied)\n\n"
        "3 customers drifted: 2 changed outside the reconciler, 3 in git, not yet applied.\n"
    )


def test_drift_of_a_customer_deleted_or_deactivated_outside(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(spec, monkeypatch)
    run(root, "apply", "--yes").assert_success()
    with spec.engine().begin() as connection:
        connection.execute(text("DELETE FROM customer WHERE key = 'acme'"))
        connection.execute(text("UPDATE customer SET active = false WHERE key = 'kiwi'"))
    outcome = run(root, "drift")
    assert outcome.code == 2
    assert outcome.out.splitlines()[1:] == [
        "  + acme                    missing live: removed outside the reconciler",
        "  ~ kiwi                    inactive live: deactivated outside the reconciler",
        "2 customers drifted: 2 changed outside the reconciler.",
    ]


def test_drift_without_an_audit_is_of_unknown_origin() -> None:
    import datetime as dt

    from reconciler.model.diff import FieldChange

    change = CustomerChange("acme", Action.UPDATE, (FieldChange("channels", 1, 2),), Customer(currency="USD"), "f", 1)
    plan = Plan(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), None, False, "x", "x", (change,))
    drift = find_drift(plan, None)
    assert [(field.change.path, field.origin) for field in drift.customers[0].fields] == [("channels", "unknown")]
    assert same("debit_limit", "25000.00", "25000.0000") and same("config.tags", ["a", "b"], ["b", "a"])
    assert not same("channels", 1, 2)


def test_live_history_lists_writes_newest_first(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(spec, monkeypatch)
    monkeypatch.setenv("GITHUB_ACTOR", "ci-bot")
    run(root, "apply", "--yes").assert_success()
    (root / "customers.d/acme-telecom.yaml").write_text(
        "renamed_from: [acme]\ncurrency: USD\nchannels: 150\ndebit_limit: 1000.00\n"
    )
    (root / "customers.d/acme.yaml").unlink()
    run(root, "apply", "--yes").assert_success()
    with spec.make() as provider:
        records = provider.read_audit("acme-telecom")
        first = provider.read_audit("acme")[0]
        target = provider.describe().target
    rename, update = records[-1], records[0]
    outcome = run(root, "live", "history", "acme-telecom").assert_success()
    assert outcome.out == (
        f"{_stamp(update)}  update     acme-telecom · no commit · plan {update.plan_id} · by ci-bot\n"
        "    name                    acme -> acme-telecom\n"
        "    renamed_from            [] -> [acme]\n"
        "    channels                100 -> 150\n"
        f"{_stamp(rename)}  rename     acme-telecom · no commit · plan {rename.plan_id} · by ci-bot\n"
        "    key                     acme -> acme-telecom\n"
        f"{_stamp(first)}  create     acme · no commit · plan {first.plan_id} · by ci-bot\n"
        "    name                    (unset) -> acme\n"
        "    channels                (unset) -> 100\n"
        "    debit_limit             (unset) -> 1000.00\n"
        "    currency                (unset) -> USD\n"
    )
    assert run(root, "live", "history", "nobody").out == f"nobody: nothing applied to this customer in {target}\n"
    limited = run(root, "live", "history", "acme-telecom", "--limit", "1").out
    assert limited.count(" · by ci-bot") == 1
