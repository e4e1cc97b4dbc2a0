"""customers.d/ as a whole: the examples, and the rules that span files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from reconciler.config import Catalogs, load_settings
from reconciler.desired.customers import customer_paths, load_customers
from reconciler.errors import InvalidInput
from reconciler.model.customer import Customer
from reconciler.model.fields import flatten


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(paths: list[Path], catalogs: Catalogs | None = None) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load_customers(paths, catalogs)
    return [str(problem) for problem in caught.value.problems]


def test_the_examples_are_valid_and_use_every_field() -> None:
    settings = load_settings(REPO)
    customers = load_customers(customer_paths(REPO / "customers.d").paths, settings.catalogs)
    assert len(customers) >= 6
    assert {path.suffix for path in customer_paths(REPO / "customers.d").paths} == {".yaml", ".toml"}
    statuses = {customer_file.customer.status for customer_file in customers.values()}
    assert statuses == {"active", "inactive", "penalty", "pending_approval"}
    # Every leaf field of the model is set away from its default by at least one example.
    defaults = flatten(Customer.model_validate({"currency": "USD"}).model_dump(by_alias=True))
    set_somewhere = set()
    for customer_file in customers.values():
        for path, value in flatten(customer_file.customer.model_dump(by_alias=True)).items():
            if value != defaults.get(path):
                set_somewhere.add(path)
    unset = {
        path for path in defaults
        if not any(seen == path or seen.startswith(path + ".") for seen in set_somewhere)
    }
    assert unset == set()


def test_country_no_stays_norway() -> None:
    customers = load_customers([REPO / "customers.d" / "fjord-connect.yaml"])
    assert customers["fjord-connect"].customer.address.country == "NO"


def test_name_defaults_to_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "tiny-co.yaml", "currency: USD\n")
    assert load_customers([path])["tiny-co"].customer.name == "tiny-co"


def test_a_customer_in_both_yaml_and_toml_is_refused(tmp_path: Path) -> None:
    first = _write(tmp_path, "acme.toml", 'currency = "USD"\n')
    second = _write(tmp_path, "acme.yaml", "currency: USD\n")
    assert _problems([first, second]) == [
        f"{second}: customer 'acme' is also defined in {first}; keep one file per customer"
    ]


def test_names_are_unique_ignoring_case(tmp_path: Path) -> None:
    first = _write(tmp_path, "acme.yaml", "name: Acme Telecom\ncurrency: USD\n")
    second = _write(tmp_path, "acme2.yaml", "currency: USD\nname: ACME telecom\n")
    assert _problems([first, second]) == [
        f"{second}:2:7: name: name 'ACME telecom' is already used by customer 'acme' ({first}); "
        "names must be unique, ignoring case"
    ]


def test_renamed_from_may_not_name_a_current_customer(tmp_path: Path) -> None:
    old = _write(tmp_path, "old-co.yaml", "currency: USD\n")
    new = _write(tmp_path, "new-co.yaml", "currency: USD\nrenamed_from: [old-co]\n")
    assert _problems([new, old]) == [
        f"{new}:2:16: renamed_from[0]: 'old-co' is still a customer file; a renamed customer has one key"
    ]


def test_two_customers_may_not_claim_one_old_key(tmp_path: Path) -> None:
    first = _write(tmp_path, "a-co.yaml", "currency: USD\nrenamed_from: [old-co]\n")
    second = _write(tmp_path, "b-co.yaml", "currency: USD\nrenamed_from: [old-co]\n")
    assert _problems([first, second]) == [
        f"{second}:2:16: renamed_from[0]: 'old-co' is also claimed by customer 'a-co'"
    ]


def test_catalog_values_must_come_from_the_catalog(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "acme.yaml",
        "currency: USD\nconfig:\n  reseller: nobody\n  tags: [ok, odd]\n  invoice:\n    template: fancy\n",
    )
    catalogs = Catalogs(resellers=["direct"], tags=["ok"], invoice_templates=[])
    assert _problems([path], catalogs) == [
        f"{path}:3:13: config.reseller: 'nobody' is not in catalogs.resellers of reconciler.toml (one of: direct)",
        f"{path}:4:14: config.tags[1]: 'odd' is not in catalogs.tags of reconciler.toml (one of: ok)",
        f"{path}:6:15: config.invoice.template: 'fancy' is not in catalogs.invoice_templates of "
        "reconciler.toml (the catalog is empty)",
    ]


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    first = _write(tmp_path, "a-co.yaml", "currency: usd\nchannels: -1\n")
    second = _write(tmp_path, "b-co.toml", 'currency = "USD"\nstatus = "gone"\n')
    assert _problems([first, second]) == [
        f"{first}:1:11: currency: 'usd' is not an ISO 4217 currency code (upper case, e.g. USD, EUR, GBP)",
        f"{first}:2:11: channels: must be at least 0, not -1",
        f"{second}:2:10: status: 'gone' is not one of: active, inactive, penalty, pending_approval",
    ]


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_bytes(b"currency: USD\nnotes: caf\xe9\n")
    problems = _problems([path])
    assert len(problems) == 1 and problems[0].startswith(f"{path}")
    assert "UTF-8" in problems[0]


def test_an_oversize_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("currency: USD\nnotes: " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    problems = _problems([path])
    assert len(problems) == 1 and "1 MiB" in problems[0]
