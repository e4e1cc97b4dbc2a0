"""`reconciler import`: customer files from the live store; a plan right after is empty (both SQL stores)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Run
from sqlalchemy import text

from reconciler.desired.customers import customer_paths, load_customers
from reconciler.importer import customer_text
from reconciler.model.customer import Customer
from reconciler.providers.base import AuditContext

AUDIT = AuditContext(actor="test", commit=None, plan_id=None)

ACME = Customer.model_validate({
    "name": "Acme Telecom", "channels": 300, "flow_speed": "30", "debit_limit": "25000.00",
    "minimum_payment": "500", "topup_currencies": ["USD"], "tax_percent": "7.5", "currency": "USD",
    "config": {"tags": ["wholesale", "tier-1"], "portal_access": {"cdr": "show"}, "daily_spend_limit": "4000.5",
               "invoice": {"schedule": "monthly", "due_days": 30}, "vars": "[routing]\nprefer = \"a\"\n"},
    "address": {"lines": ["1200 Harbor Blvd"], "postcode": "07086", "country": "US"},
    "notes": "Net-30 terms.\nEscalate to the NOC.\n",
    "day_time_restriction": {"timezone": "Europe/London", "windows": [{"from": "08:00", "to": "18:00", "days": ["mon"]}]},
})

ACME_YAML = """\
# yaml-language-server: $schema=../schemas/customer.schema.json
name: Acme Telecom
channels: 300
flow_speed: 30
debit_limit: 25000.00
minimum_payment: 500.00
topup_currencies: [USD]
tax_percent: 7.5
currency: USD
config:
  portal_access:
    cdr: show
  tags: [tier-1, wholesale]
  vars: |
    [routing]
    prefer = "a"
  invoice:
    schedule: monthly
    due_days: 30
  daily_spend_limit: 4000.50
address:
  lines: [1200 Harbor Blvd]
  postcode: '07086'
  country: US
notes: |
  Net-30 terms.
  Escalate to the NOC.
day_time_restriction:
  timezone: Europe/London
  windows:
    - from: 08:00
      to: "18:00"
      days: [mon]
"""


def _configure(spec: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    options = "".join(f'{name} = "{value}"\n' for name, value in spec.options.items())
    (spec.root / "reconciler.toml").write_text(f'[live]\nprovider = "{spec.name}"\n[live.options]\n{options}')
    for name, value in spec.environ.items():
        monkeypatch.setenv(name, value)
    root: Path = spec.root
    return root


def _without_stamp(text: str) -> str:
    lines = text.splitlines(keepends=True)
    assert lines[1].startswith("# Imported from ")
    return "".join(lines[:1] + lines[2:])


def test_import_then_plan_is_empty(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _configure(spec, monkeypatch)
    with spec.make() as provider:
        provider.create("acme-telecom", ACME, AUDIT)
        provider.create("kiwi-link", Customer(name="kiwi-link", currency="NZD", channels=8, debit_limit=Decimal("-10.5")), AUDIT)
        provider.create("gone", Customer(currency="EUR"), AUDIT)
        provider.deactivate("gone", 1, AUDIT)
    outcome = run(root, "import").assert_success()
    assert outcome.out == (
        "schemas/customer.schema.json: written\n"
        "schemas/overlay.schema.json: written\n"
        "schemas/plan.schema.json: written\n"
        "customers.d/acme-telecom.yaml: written\n"
        "customers.d/kiwi-link.yaml: written\n"
        f"Imported 2 customers from {spec.make().describe().target}; `reconciler plan` now shows no changes.\n"
    )
    # The files' $schema comments resolve in the repository they were written to.
    comment = (root / "customers.d/acme-telecom.yaml").read_text().splitlines()[0]
    assert comment == "# yaml-language-server: $schema=../schemas/customer.schema.json"
    assert (root / "customers.d" / comment.split("=", 1)[1]).resolve().is_file()
    assert outcome.err == "skipped gone: deactivated on the live platform (a file would reactivate it)\n"
    assert _without_stamp((root / "customers.d/acme-telecom.yaml").read_text()) == ACME_YAML
    assert _without_stamp((root / "customers.d/kiwi-link.yaml").read_text()).splitlines()[1:] == [
        "channels: 8", "debit_limit: -10.50", "currency: NZD",
    ]
    loaded = load_customers(customer_paths(root / "customers.d").paths)
    assert loaded["acme-telecom"].customer == ACME.model_copy()
    plan = run(root, "plan", "--detailed-exitcode")
    assert (plan.code, plan.out.splitlines()[1:]) == (0, ["No changes."])


def test_import_toml_and_overwrite(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _configure(spec, monkeypatch)
    with spec.make() as provider:
        provider.create("acme-telecom", ACME, AUDIT)
    (root / "customers.d").mkdir()
    (root / "customers.d/acme-telecom.yaml").write_text("currency: USD\n")
    refused = run(root, "import", "--format", "toml")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == "error: customers.d/acme-telecom.yaml already exists; pass --overwrite to replace it\n"
    assert (root / "customers.d/acme-telecom.yaml").read_text() == "currency: USD\n"
    outcome = run(root, "import", "--format", "toml", "--overwrite", "acme-telecom").assert_success()
    assert outcome.out.splitlines()[3] == "customers.d/acme-telecom.toml: replaced"
    assert not (root / "customers.d/acme-telecom.yaml").exists()
    written = (root / "customers.d/acme-telecom.toml").read_text()
    assert written.splitlines()[0] == "#:schema ../schemas/customer.schema.json"
    assert "debit_limit = 25000.00\n" in written and "daily_spend_limit = 4000.50\n" in written
    assert run(root, "plan", "--detailed-exitcode").code == 0


def test_import_of_an_unmanaged_record_is_adopted_without_field_changes(
    spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _configure(spec, monkeypatch)
    with spec.make() as provider:
        provider.create("acme-telecom", ACME, AUDIT)
    with spec.engine().begin() as connection:  # as if the platform had created it
        connection.execute(text("UPDATE customer SET managed = false"))
    outcome = run(root, "import").assert_success()
    assert outcome.out.splitlines()[-2:] == [
        "customers.d/acme-telecom.yaml: written; not managed yet: the next apply adopts it, changing no field",
        f"Imported 1 customer from {spec.make().describe().target}; `reconciler plan` now shows no field changes, "
        "and adopts the 1 not managed yet.",
    ]
    plan = run(root, "plan").assert_success()
    assert plan.out.splitlines()[1:] == [
        "  ~ acme-telecom            update",
        "      (adopt: the reconciler starts managing this live customer)",
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.",
    ]


def test_import_without_a_configuration_is_refused(tmp_path: Path, run: Run) -> None:
    outcome = run(tmp_path, "import")
    assert (outcome.code, outcome.err) == (1, (
        f"error: no reconciler.toml in {tmp_path}: import writes customer files into a repository that says "
        "which live platform it reconciles; run `reconciler init` there first (then point its reconciler.toml "
        "at the platform), or give -C the repository\n"
    ))
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"] or list(tmp_path.iterdir()) == []


def test_import_of_a_key_not_live(spec: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _configure(spec, monkeypatch)
    outcome = run(root, "import", "nobody")
    target = spec.make().describe().target
    assert (outcome.code, outcome.err) == (1, f"error: not in the live store ({target}): nobody\n")


def test_strings_a_yaml_1_1_reader_would_misread_are_quoted(tmp_path: Path) -> None:
    customer = Customer.model_validate({
        "currency": "NOK",
        "address": {"country": "NO", "city": "on"},
        "day_time_restriction": {"timezone": "UTC", "windows": [{"from": "08:00", "to": "21:00"}]},
    })
    text = customer_text(tmp_path / "fjord.yaml", "fjord", customer, schema="x.json")
    assert '  country: "NO"\n' in text and '  city: "on"\n' in text
    assert '    - from: 08:00\n      to: "21:00"\n' in text
    assert yaml.safe_load(text)["address"]["country"] == "NO"  # as PyYAML (YAML 1.1) reads it


def test_a_string_libyaml_would_refuse_plain_in_a_flow_list_is_quoted(tmp_path: Path) -> None:
    customer = Customer.model_validate({"currency": "USD", "address": {"lines": [":0", "a, b", "[x]"]}})
    path = tmp_path / "acme.yaml"
    text = customer_text(path, "acme", customer, schema="x.json")
    assert '  lines: [":0", "a, b", "[x]"]\n' in text
    path.write_text(text)
    assert load_customers([path])["acme"].customer.address.lines == [":0", "a, b", "[x]"]
