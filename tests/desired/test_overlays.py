"""Scheduled changes (plans/ overlay files): a customer's life through them, and the validation of
the future with every error at its file and line. The state at T itself is test_schedule.py's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import REPO
from git_repos import GitRepo
from invoke import run_cli, write_files

from reconciler.config import Settings
from reconciler.desired.state import load_base, load_desired, load_plans
from reconciler.errors import InvalidInput
from reconciler.model.diff import diff_customers

UTC = dt.UTC

ACME = """\
# Acme: the base file.
channels: 300
flow_speed: 30
debit_limit: 25000.00
currency: USD
config:
  tags: [wholesale, us-east]  # keep in sync with billing
  invoice:
    due_days: 30
"""

RAISE_LIMIT = """\
reason: Credit review passed
customers:
  acme:
    debit_limit: 30000.00
"""

XMAS = """\
reason: Christmas peak
until: 2026-12-27T06:00:00Z
customers:
  acme:
    channels: 400
    flow_speed: 40
"""


def write_project(root: Path, files: dict[str, str]) -> Path:
    write_files(root, files)
    (root / "customers.d").mkdir(exist_ok=True)
    return root


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- a customer's life ---------------------------------------------------------------------


@pytest.fixture
def acme_project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-01_raise-limit.yaml": RAISE_LIMIT,
        "plans/2026-12-24T1800Z_xmas.yaml": XMAS,
    })


@pytest.mark.parametrize(
    ("instant", "channels", "flow_speed", "debit_limit"),
    [
        ("2026-11-30T23:59:59Z", 300, Decimal(30), Decimal("25000.00")),  # before everything
        ("2026-12-01T00:00:00Z", 300, Decimal(30), Decimal("30000.00")),  # the limit, at its instant
        ("2026-12-24T17:59:59Z", 300, Decimal(30), Decimal("30000.00")),  # just before Christmas
        ("2026-12-24T18:00:00Z", 400, Decimal(40), Decimal("30000.00")),  # Christmas starts
        ("2026-12-27T05:59:59Z", 400, Decimal(40), Decimal("30000.00")),  # still Christmas
        ("2026-12-27T06:00:00Z", 300, Decimal(30), Decimal("30000.00")),  # until: reverted
        ("2027-06-01T00:00:00Z", 300, Decimal(30), Decimal("30000.00")),  # for good
    ],
)
def test_a_customers_life(
    acme_project: Path, instant: str, channels: int, flow_speed: Decimal, debit_limit: Decimal
) -> None:
    acme = load_desired(acme_project, Settings(), at(instant))["acme"]
    assert (acme.channels, acme.flow_speed, acme.debit_limit) == (channels, flow_speed, debit_limit)
    assert acme.name == "acme"  # the key, as for a customer file without a name
    assert acme.config.tags == ["us-east", "wholesale"]  # what no overlay touches stays (a set: sorted)


def test_the_change_at_an_instant_is_exactly_the_overlays_fields(acme_project: Path) -> None:
    before = load_desired(acme_project, Settings(), at("2026-12-24T17:59:59Z"))["acme"]
    during = load_desired(acme_project, Settings(), at("2026-12-24T18:00:00Z"))["acme"]
    after = load_desired(acme_project, Settings(), at("2026-12-27T06:00:00Z"))["acme"]
    assert [(c.path, c.before, c.after) for c in diff_customers(before, during)] == [
        ("channels", 300, 400), ("flow_speed", "30", "40"),
    ]
    assert [(c.path, c.before, c.after) for c in diff_customers(during, after)] == [
        ("channels", 400, 300), ("flow_speed", "40", "30"),
    ]


def test_null_resets_a_field_to_its_default_and_maps_merge(tmp_path: Path) -> None:
    root = write_project(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-01_reset.yaml": (
            "reason: reset\ncustomers:\n  acme:\n    flow_speed: null\n"
            "    config:\n      invoice:\n        schedule: weekly\n"
        ),
    })
    acme = load_desired(root, Settings(), at("2026-12-01T00:00:00Z"))["acme"]
    assert acme.flow_speed == Decimal(0)
    assert (acme.config.invoice.schedule, acme.config.invoice.due_days) == ("weekly", 30)


def test_a_created_customer_exists_from_its_instant_until_its_until(tmp_path: Path) -> None:
    root = write_project(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-20_pop-up.toml": (
            'reason = "Pop-up call centre for the holidays"\nuntil = 2027-01-02T00:00:00Z\n\n'
            '[create.popup]\ncurrency = "EUR"\nchannels = 20\n\n'
            '[customers.acme]\nchannels = 310\n'
        ),
        "plans/2026-12-21_popup-more.yaml": "reason: more\ncustomers:\n  popup:\n    channels: 25\n",
    })
    assert set(load_desired(root, Settings(), at("2026-12-19T00:00:00Z"))) == {"acme"}
    on_day_one = load_desired(root, Settings(), at("2026-12-20T00:00:00Z"))
    assert (on_day_one["popup"].name, on_day_one["popup"].channels, on_day_one["acme"].channels) == ("popup", 20, 310)
    assert load_desired(root, Settings(), at("2026-12-21T00:00:00Z"))["popup"].channels == 25


def test_the_examples_validate_clean() -> None:
    code, out = run_cli(REPO, "validate")
    assert (code, out) == (0, "7 customers valid.\n4 scheduled changes valid (every customer checked at 5 instants).\n")


def test_the_examples_at_christmas() -> None:
    desired = load_desired(REPO, Settings(), at("2026-12-25T00:00:00Z"))
    acme = desired["acme-telecom"]
    assert (acme.channels, acme.flow_speed, acme.debit_limit) == (400, Decimal(40), Decimal("30000.00"))
    assert desired["sunrise-mobile"].channels == 650


# --- validation of the future: every error with its message, file and line -----------------


def validate_output(tmp_path: Path, plans: dict[str, str], customers: dict[str, str] | None = None) -> str:
    files = {f"customers.d/{name}": text for name, text in (customers or {"acme.yaml": ACME}).items()}
    files.update({f"plans/{name}": text for name, text in plans.items()})
    code, out = run_cli(write_project(tmp_path, files), "validate")
    assert code == 1
    return out.replace(f"{tmp_path}/", "")  # paths as the user wrote -C


@pytest.mark.parametrize(
    ("plans", "expected"),
    [
        pytest.param(
            {"2026-12-01_typo.yaml": "reason: typo\ncustomers:\n  acme-telcom:\n    channels: 10\n"},
            "plans/2026-12-01_typo.yaml:3:3: customers.acme-telcom: unknown customer 'acme-telcom' at "
            "2026-12-01T00:00:00Z: no customer file has this key and no overlay in effect creates it; "
            "did you mean 'acme-telecom'?",
            id="unknown customer",
        ),
        pytest.param(
            {"2026-12-01_x.yaml": 'reason: "Peak\\e[2J capacity"\n'},
            "plans/2026-12-01_x.yaml:1:9: reason: contains the control character U+001B; remove it",
            id="a reason that would move a terminal",
        ),
        pytest.param(
            {"2026-12-24T1800_xmas.yaml": "reason: x\n"},
            "plans/2026-12-24T1800_xmas.yaml: the instant in file name '2026-12-24T1800_xmas.yaml' has no "
            "zone; times are UTC, marked with Z: 2026-12-24T1800Z_xmas.yaml",
            id="instant without a zone",
        ),
        pytest.param(
            {"xmas.yaml": "reason: x\n"},
            "plans/xmas.yaml: file name 'xmas.yaml' does not start with the instant it takes effect; "
            "write it as 2026-12-01_slug.yaml (midnight UTC) or 2026-12-24T1800Z_slug.yaml",
            id="bad file name",
        ),
        pytest.param(
            {"2026-02-30_x.yaml": "reason: x\n"},
            "plans/2026-02-30_x.yaml: file name '2026-02-30_x.yaml' does not start with a real date and time; "
            "write it as 2026-12-01_slug.yaml (midnight UTC) or 2026-12-24T1800Z_slug.yaml",
            id="no such date",
        ),
        pytest.param(
            {"2026-12-01_x.yaml": "# comment\nreason: x\nuntil: 2026-12-27T06:00\n"},
            "plans/2026-12-01_x.yaml:3:8: until: '2026-12-27T06:00' has no time zone; add Z for UTC or an "
            "offset such as +01:00",
            id="until without a zone",
        ),
        pytest.param(
            {"2026-12-24T1800Z_x.yaml": "reason: x\nuntil: 2026-12-24T18:00:00+00:00\n"},
            "plans/2026-12-24T1800Z_x.yaml:2:8: until: 2026-12-24T18:00:00Z is not after the change takes "
            "effect (2026-12-24T18:00:00Z, from the file name); set a later instant or remove until",
            id="until not after the start",
        ),
        pytest.param(
            {
                "2026-12-05_a.yaml": "reason: a\ncustomers:\n  acme:\n    channels: 400\n",
                "2026-12-05_b.yaml": "reason: b\ncustomers:\n  acme:\n    flow_speed: 40\n    channels: 500\n",
            },
            "plans/2026-12-05_b.yaml:5:15: customers.acme.channels: clashes with plans/2026-12-05_a.yaml:4, "
            "which sets channels to 400 at the same instant (2026-12-05T00:00:00Z): agree on one value, "
            "or merge the two files",
            id="two overlays at one instant",
        ),
        pytest.param(
            {"2026-12-02_euro.yaml": "reason: euros\ncustomers:\n  acme:\n    currency: EUR\n"},
            "plans/2026-12-02_euro.yaml:4:15: customers.acme.currency: changes the currency of 'acme' from "
            "'USD' to 'EUR'; the platform fixes currency at creation: create a new customer instead",
            id="currency change",
        ),
        pytest.param(
            {"2026-12-06_bad.yaml": "reason: r\ncustomers:\n  acme:\n    config:\n      invoice:\n        due_days: 400\n"},
            "plans/2026-12-06_bad.yaml:6:19: customers.acme.config.invoice.due_days: must be at most 365, "
            "not 400 (at 2026-12-06T00:00:00Z)",
            id="invalid result",
        ),
        pytest.param(
            {"2026-12-06_typo.yaml": "reason: r\ncustomers:\n  acme:\n    chanels: 400\n"},
            "plans/2026-12-06_typo.yaml:4:5: customers.acme.chanels: unknown field 'chanels'; did you mean "
            "'channels'? (at 2026-12-06T00:00:00Z)",
            id="unknown field",
        ),
        pytest.param(
            {"2026-12-07_create.yaml": "reason: r\ncreate:\n  acme:\n    currency: USD\n"},
            "plans/2026-12-07_create.yaml:3:3: create.acme: customer 'acme' already exists at "
            "2026-12-07T00:00:00Z; change it under customers: instead, or create it under a new key",
            id="create an existing customer",
        ),
        pytest.param(
            {"2026-12-07_create.yaml": "reason: r\ncreate:\n  newco:\n    channels: 5\n"},
            "plans/2026-12-07_create.yaml:4:5: create.newco.currency: is required (at 2026-12-07T00:00:00Z)",
            id="created customer invalid",
        ),
        pytest.param(
            {"2026-12-01_x.yaml": "customers: {}\n"},
            "plans/2026-12-01_x.yaml:1:1: reason: is required",
            id="no reason",
        ),
    ],
)
def test_validation_of_the_future(tmp_path: Path, plans: dict[str, str], expected: str) -> None:
    customers = {"acme.yaml": ACME, "acme-telecom.yaml": "currency: USD\n"}
    assert validate_output(tmp_path, plans, customers) == f"{expected}\n1 problem in 1 file.\n"


def test_an_overlay_breaks_only_together_with_a_later_one(tmp_path: Path) -> None:
    # Valid alone; at Christmas a second overlay empties the restriction's windows.
    out = validate_output(tmp_path, {
        "2026-12-01_hours.yaml": (
            "reason: office hours\ncustomers:\n  acme:\n    day_time_restriction:\n"
            "      timezone: Europe/London\n      windows: [{from: '08:00', to: '18:00'}]\n"
        ),
        "2026-12-24_closed.yaml": (
            "reason: closed\nuntil: 2026-12-27T00:00:00Z\ncustomers:\n  acme:\n"
            "    day_time_restriction:\n      windows: []\n"
        ),
    })
    assert out == (
        "plans/2026-12-24_closed.yaml:6:16: customers.acme.day_time_restriction.windows: needs at least "
        "1 item (at 2026-12-24T00:00:00Z)\n"
        "1 problem in 1 file.\n"
    )


def test_a_patch_for_a_customer_whose_creation_has_ended(tmp_path: Path) -> None:
    out = validate_output(tmp_path, {
        "2026-12-20_popup.yaml": "reason: r\nuntil: 2026-12-27T00:00:00Z\ncreate:\n  popup:\n    currency: USD\n",
        "2026-12-30_popup-more.yaml": "reason: r\ncustomers:\n  popup:\n    channels: 5\n",
    })
    assert out == (
        "plans/2026-12-30_popup-more.yaml:3:3: customers.popup: unknown customer 'popup' at "
        "2026-12-30T00:00:00Z: no customer file has this key and no overlay in effect creates it; "
        "to add a customer, put it under create:\n"
        "1 problem in 1 file.\n"
    )


def test_load_desired_reports_the_overlay_at_fault(acme_project: Path) -> None:
    (acme_project / "plans/2026-12-24T1800Z_xmas.yaml").write_text(XMAS.replace("400", "-4"))
    assert load_desired(acme_project, Settings(), at("2026-12-01T00:00:00Z"))["acme"].channels == 300
    with pytest.raises(InvalidInput) as caught:
        load_desired(acme_project, Settings(), at("2026-12-25T00:00:00Z"))
    assert str(caught.value) == (
        f"{acme_project}/plans/2026-12-24T1800Z_xmas.yaml:5:15: customers.acme.channels: "
        "must be at least 0, not -4 (at 2026-12-25T00:00:00Z)"
    )


def test_plans_load_in_order_of_instant_then_file_name(acme_project: Path) -> None:
    write_project(acme_project, {"plans/2026-12-01_a-first.yaml": "reason: a\n", "plans/.hidden.yaml": "x"})
    names = [overlay.path.name for overlay in load_plans(acme_project, Settings())]
    assert names == ["2026-12-01_a-first.yaml", "2026-12-01_raise-limit.yaml", "2026-12-24T1800Z_xmas.yaml"]
    assert set(load_base(acme_project, Settings())) == {"acme"}


def test_the_committed_overlay_schema_is_generated() -> None:
    from reconciler.schemas import overlay_schema, render

    assert (REPO / "schemas/overlay.schema.json").read_text(encoding="utf-8") == render(overlay_schema())


def test_the_example_plans_are_real_files() -> None:
    # The examples the README walks through: one past, one due soon, one temporary.
    names = sorted(path.name for path in (REPO / "plans").iterdir())
    assert names[:3] == [
        "2026-11-01_northwind-more-channels.yaml",
        "2026-12-01_raise-acme-limit.yaml",
        "2026-12-24T1800Z_xmas-capacity.yaml",
    ]


def test_every_problem_of_an_overlay_at_once(tmp_path: Path) -> None:
    out = validate_output(tmp_path, {"2026-12-01_x.yaml": "customers:\n  acme:\n    channels: -5\n"})
    assert out == (
        "plans/2026-12-01_x.yaml:1:1: reason: is required\n"
        "plans/2026-12-01_x.yaml:3:15: customers.acme.channels: must be at least 0, not -5 (at 2026-12-01T00:00:00Z)\n"
        "2 problems in 1 file.\n"
    )


def test_an_overlay_of_a_customer_whose_file_was_removed_says_to_remove_or_compact_it(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("customers.d/acme.yaml", ACME)
    repo.write("customers.d/gone.yaml", "currency: USD\nchannels: 1\nflow_speed: 1\n")
    repo.write("plans/2027-01-01_gone-more.yaml", "reason: more\ncustomers:\n  gone:\n    channels: 2\n")
    repo.commit("Customers")
    (repo.root / "customers.d/gone.yaml").unlink()
    removed = repo.commit("Gone leaves")
    code, out = run_cli(repo.root, "validate")
    assert (code, out) == (1, (
        f"{repo.root}/plans/2027-01-01_gone-more.yaml:3:3: customers.gone: customer 'gone' was removed (its file "
        f"left the repository in {removed[:7]}), but this overlay still changes it at 2027-01-01T00:00:00Z; "
        "remove the overlay, or fold it away with reconciler compact\n"
        "1 problem in 1 file.\n"
    ))


def test_catalogs_and_unique_names_hold_for_what_overlays_set(tmp_path: Path) -> None:
    files = {
        "customers.d/acme.yaml": ACME,
        "customers.d/globex.yaml": "currency: EUR\nname: Globex\nchannels: 1\nflow_speed: 1\n",
        "reconciler.toml": '[catalogs]\nresellers = ["direct"]\n',
        "plans/2026-12-01_x.yaml": (
            "reason: x\ncustomers:\n  acme:\n    name: GLOBEX\n    config:\n      reseller: shady-reseller\n"
        ),
    }
    code, out = run_cli(write_project(tmp_path, files), "validate")
    assert (code, out.replace(f"{tmp_path}/", "")) == (1, (
        "plans/2026-12-01_x.yaml:4:11: customers.acme.name: name 'GLOBEX' is already used by customer 'globex' at "
        "2026-12-01T00:00:00Z; names must be unique, ignoring case\n"
        "plans/2026-12-01_x.yaml:6:17: customers.acme.config.reseller: 'shady-reseller' is not in catalogs.resellers "
        "of reconciler.toml (one of: direct) (at 2026-12-01T00:00:00Z)\n"
        "2 problems in 1 file.\n"
    ))
