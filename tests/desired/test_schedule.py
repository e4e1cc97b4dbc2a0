"""Desired state over time (`desired.schedule`): which overlays are in effect at an instant, the
documents and customers they make, the record of which overlay set each field, overlays that
clash, and the property that the state at any instant is the merge patches in order."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invoke import write_files
from overlay_cases import INSTANTS, overlay_sets

from reconciler.desired.customers import CustomerFile, customer_paths, load_customers
from reconciler.desired.overlays import Overlay, load_overlays, overlay_paths
from reconciler.desired.schedule import (
    FieldSource,
    check_schedule,
    clashes,
    customers_at,
    documents_at,
    evaluate,
    in_effect,
    state_at,
)
from reconciler.errors import InvalidInput

UTC = dt.UTC

ACME = "currency: USD\nchannels: 300\ndebit_limit: 25000.00\nconfig:\n  tags: [wholesale]\n  invoice:\n    due_days: 30\n"
GLOBEX = "name: Globex\ncurrency: EUR\nchannels: 10\n"

RAISE = "reason: Credit review\ncustomers:\n  acme:\n    debit_limit: 30000.00\n    config:\n      invoice:\n        due_days: 45\n"
XMAS = (
    "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\ncustomers:\n  acme:\n    channels: 400\n"
    "    config:\n      invoice: null\n      tags: [wholesale, peak]\n"
)
XMAS_GLOBEX = "reason: Globex too\nuntil: 2026-12-26T00:00:00Z\ncustomers:\n  globex:\n    channels: 20\n"
POPUP = "reason: Pop-up\nuntil: 2027-01-02T00:00:00Z\ncreate:\n  popup:\n    currency: GBP\n    channels: 5\n"
POPUP_MORE = "reason: More pop-up\ncustomers:\n  popup:\n    channels: 8\n"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def load(root: Path, files: dict[str, str]) -> tuple[dict[str, CustomerFile], list[Overlay]]:
    write_files(root, files)
    base = load_customers(customer_paths(root / "customers.d").paths)
    return base, load_overlays(overlay_paths(root / "plans").paths)


@pytest.fixture
def schedule(tmp_path: Path) -> tuple[dict[str, CustomerFile], dict[str, Overlay]]:
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "customers.d/globex.yaml": GLOBEX,
        "plans/2026-12-01_raise.yaml": RAISE,
        "plans/2026-12-24T1800Z_xmas.yaml": XMAS,
        "plans/2026-12-24T1800Z_globex.yaml": XMAS_GLOBEX,
        "plans/2026-12-20_popup.yaml": POPUP,
        "plans/2026-12-21_popup-more.yaml": POPUP_MORE,
    })
    return base, {overlay.path.stem.split("_", 1)[1]: overlay for overlay in overlays}


def names(overlays: list[Overlay]) -> list[str]:
    return [overlay.path.name for overlay in overlays]


# --- in_effect -----------------------------------------------------------------------------


def test_in_effect_from_the_instant_until_the_until_in_order_of_instant_then_name(schedule: Any) -> None:
    _, by_name = schedule
    overlays = list(by_name.values())
    assert in_effect(overlays, at("2026-11-30T23:59:59Z")) == []
    assert names(in_effect(overlays, at("2026-12-01T00:00:00Z"))) == ["2026-12-01_raise.yaml"]
    assert names(in_effect(reversed(overlays), at("2026-12-24T18:00:00Z"))) == [
        "2026-12-01_raise.yaml",
        "2026-12-20_popup.yaml",
        "2026-12-21_popup-more.yaml",
        "2026-12-24T1800Z_globex.yaml",
        "2026-12-24T1800Z_xmas.yaml",
    ]
    # `until` is exclusive: the overlay has ended at that very instant.
    assert names(in_effect(overlays, at("2026-12-27T06:00:00Z"))) == [
        "2026-12-01_raise.yaml", "2026-12-20_popup.yaml", "2026-12-21_popup-more.yaml",
    ]
    assert names(in_effect(overlays, at("2027-01-02T00:00:00Z"))) == [
        "2026-12-01_raise.yaml", "2026-12-21_popup-more.yaml",
    ]


# --- documents_at --------------------------------------------------------------------------


def test_documents_at_applies_the_patches_and_leaves_the_base_alone(schedule: Any) -> None:
    base, by_name = schedule
    documents = {key: customer_file.document.data for key, customer_file in base.items()}
    frozen = copy.deepcopy(documents)
    state = documents_at(documents, by_name.values(), at("2026-12-25T00:00:00Z"))
    assert state == {
        "acme": {
            "currency": "USD", "channels": 400, "debit_limit": Decimal("30000.00"),
            "config": {"tags": ["wholesale", "peak"]},  # null removed the invoice block
        },
        "globex": {"name": "Globex", "currency": "EUR", "channels": 20},
        "popup": {"currency": "GBP", "channels": 8},
    }
    assert documents == frozen


def test_documents_at_skips_a_patch_for_a_customer_not_there(schedule: Any) -> None:
    base, by_name = schedule
    documents = {key: customer_file.document.data for key, customer_file in base.items()}
    # popup's creation has ended; the later patch for it has nothing to patch.
    state = documents_at(documents, by_name.values(), at("2027-01-02T00:00:00Z"))
    assert sorted(state) == ["acme", "globex"]


# --- evaluate and its sources -------------------------------------------------------------


def test_evaluate_records_the_overlay_behind_each_field(schedule: Any) -> None:
    base, by_name = schedule
    instant = at("2026-12-25T00:00:00Z")
    evaluation = evaluate(base, in_effect(by_name.values(), instant), instant)
    assert evaluation.problems == []
    raise_, xmas, globex = by_name["raise"], by_name["xmas"], by_name["globex"]
    popup, popup_more = by_name["popup"], by_name["popup-more"]
    assert evaluation.sources == {
        "acme": {
            ("debit_limit",): FieldSource(raise_, "customers"),
            # xmas's `invoice: null` replaces raise's source for config.invoice.due_days.
            ("config", "invoice"): FieldSource(xmas, "customers"),
            ("channels",): FieldSource(xmas, "customers"),
            ("config", "tags"): FieldSource(xmas, "customers"),
        },
        "globex": {("channels",): FieldSource(globex, "customers")},
        "popup": {(): FieldSource(popup, "create"), ("channels",): FieldSource(popup_more, "customers")},
    }
    source = evaluation.sources["acme"][("channels",)]
    assert source.locate("acme", ("channels",)) == (xmas.document, ("customers", "acme", "channels"))


def test_evaluate_validates_what_the_overlays_touched(schedule: Any) -> None:
    base, by_name = schedule
    instant = at("2026-12-25T00:00:00Z")
    customers = evaluate(base, in_effect(by_name.values(), instant), instant).customers
    acme, globex, popup = customers["acme"], customers["globex"], customers["popup"]
    assert (acme.channels, acme.debit_limit, acme.config.tags) == (400, Decimal("30000.00"), ["peak", "wholesale"])
    assert acme.config.invoice.due_days is None  # reset by null: unset, the platform's default
    assert (acme.name, popup.name, globex.name) == ("acme", "popup", "Globex")  # the key, unless named
    assert (popup.currency, popup.channels) == ("GBP", 8)


def test_an_untouched_customer_is_the_base_files_own(schedule: Any) -> None:
    base, by_name = schedule
    instant = at("2026-12-02T00:00:00Z")
    evaluation = evaluate(base, in_effect(by_name.values(), instant), instant)
    assert evaluation.customers["globex"] is base["globex"].customer
    assert "globex" not in evaluation.sources
    assert sorted(evaluation.customers) == ["acme", "globex"]


def test_an_invalid_result_is_placed_at_the_overlays_line(tmp_path: Path) -> None:
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-01_bad.yaml": "reason: r\ncustomers:\n  acme:\n    channels: -1\n    notes: fine\n",
    })
    instant = at("2026-12-01T00:00:00Z")
    evaluation = evaluate(base, overlays, instant)
    assert "acme" not in evaluation.customers
    assert [str(problem) for problem in evaluation.problems] == [
        f"{tmp_path}/plans/2026-12-01_bad.yaml:4:15: customers.acme.channels: must be at least 0, not -1 "
        "(at 2026-12-01T00:00:00Z)"
    ]


def test_an_invalid_base_value_no_overlay_touched_is_the_base_files(tmp_path: Path) -> None:
    # A base file valid alone, and an overlay whose result fails elsewhere than it patched.
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": "currency: USD\nday_time_restriction:\n  timezone: UTC\n  windows: [{from: '08:00', to: '18:00'}]\n",
        "plans/2026-12-01_hours.yaml": "reason: r\ncustomers:\n  acme:\n    day_time_restriction:\n      windows: []\n",
    })
    evaluation = evaluate(base, overlays, at("2026-12-01T00:00:00Z"))
    assert [str(problem) for problem in evaluation.problems] == [
        f"{tmp_path}/plans/2026-12-01_hours.yaml:5:16: customers.acme.day_time_restriction.windows: "
        "needs at least 1 item (at 2026-12-01T00:00:00Z)"
    ]


# --- state_at ------------------------------------------------------------------------------


def test_state_at_is_the_customers_with_their_sources(schedule: Any) -> None:
    base, by_name = schedule
    state = state_at(base, by_name.values(), at("2026-12-02T00:00:00Z"))
    assert (state.customers["acme"].debit_limit, state.customers["acme"].config.invoice.due_days) == (Decimal("30000.00"), 45)
    assert set(state.sources) == {"acme"}
    assert customers_at(base, by_name.values(), at("2026-12-02T00:00:00Z")) == state.customers


def test_state_at_raises_invalid_input_naming_the_overlay(tmp_path: Path) -> None:
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-02_euro.yaml": "reason: euros\ncustomers:\n  acme:\n    currency: EUR\n",
        "plans/2026-12-03_typo.yaml": "reason: typo\ncustomers:\n  acmee:\n    channels: 1\n",
    })
    assert state_at(base, overlays, at("2026-12-01T00:00:00Z")).customers["acme"].currency == "USD"
    with pytest.raises(InvalidInput) as caught:
        state_at(base, overlays, at("2026-12-03T00:00:00Z"))
    assert str(caught.value).splitlines() == [
        f"{tmp_path}/plans/2026-12-02_euro.yaml:4:15: customers.acme.currency: changes the currency of 'acme' "
        "from 'USD' to 'EUR'; the platform fixes currency at creation: create a new customer instead",
        f"{tmp_path}/plans/2026-12-03_typo.yaml:3:3: customers.acmee: unknown customer 'acmee' at "
        "2026-12-03T00:00:00Z: no customer file has this key and no overlay in effect creates it; "
        "did you mean 'acme'?",
    ]


def test_state_at_refuses_a_clash_at_any_instant(tmp_path: Path) -> None:
    # The clash is in the future; the state now is refused all the same.
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-05_a.yaml": "reason: a\ncustomers:\n  acme:\n    channels: 400\n",
        "plans/2026-12-05_b.yaml": "reason: b\ncustomers:\n  acme:\n    channels: 500\n",
    })
    with pytest.raises(InvalidInput) as caught:
        state_at(base, overlays, at("2026-11-01T00:00:00Z"))
    assert str(caught.value) == (
        f"{tmp_path}/plans/2026-12-05_b.yaml:4:15: customers.acme.channels: clashes with "
        f"{tmp_path}/plans/2026-12-05_a.yaml:4, which sets channels to 400 at the same instant "
        "(2026-12-05T00:00:00Z): agree on one value, or merge the two files"
    )


# --- clashes -------------------------------------------------------------------------------


def test_clashes_at_one_instant_only(tmp_path: Path) -> None:
    _, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        # Same field, same value: agreement, not a clash.
        "plans/2026-12-05_a.yaml": "reason: a\ncustomers:\n  acme:\n    channels: 400\n",
        "plans/2026-12-05_b.yaml": "reason: b\ncustomers:\n  acme:\n    channels: 400\n    flow_speed: 4\n",
        # Another instant: applies in order, not a clash.
        "plans/2026-12-06_c.yaml": "reason: c\ncustomers:\n  acme:\n    channels: 500\n",
    })
    assert clashes(overlays) == []


def test_a_field_clashes_with_the_block_around_it(tmp_path: Path) -> None:
    _, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-05_a.yaml": "reason: a\ncustomers:\n  acme:\n    config:\n      invoice: null\n",
        "plans/2026-12-05_b.yaml": "reason: b\ncustomers:\n  acme:\n    config:\n      invoice:\n        due_days: 60\n      tags: [x]\n",
        "plans/2026-12-05_c.yaml": "reason: c\ncustomers:\n  globex:\n    channels: 1\n",
    })
    assert [str(problem).replace(f"{tmp_path}/", "") for problem in clashes(overlays)] == [
        "plans/2026-12-05_b.yaml:6:19: customers.acme.config.invoice.due_days: clashes with "
        "plans/2026-12-05_a.yaml:5, which sets config.invoice to null at the same instant "
        "(2026-12-05T00:00:00Z): agree on one value, or merge the two files"
    ]


def test_check_schedule_checks_every_instant_an_overlay_starts_or_ends(tmp_path: Path) -> None:
    base, overlays = load(tmp_path, {
        "customers.d/acme.yaml": ACME,
        "plans/2026-12-01_temp.yaml": "reason: r\nuntil: 2026-12-10T00:00:00Z\ncreate:\n  temp:\n    currency: USD\n",
        "plans/2026-12-05_temp-more.yaml": "reason: r\nuntil: 2026-12-12T00:00:00Z\ncustomers:\n  temp:\n    channels: 2\n",
    })
    # Fine until the creation ends on the 10th, while the patch lasts until the 12th.
    assert [str(problem).replace(f"{tmp_path}/", "") for problem in check_schedule(base, overlays)] == [
        "plans/2026-12-05_temp-more.yaml:4:3: customers.temp: unknown customer 'temp' at 2026-12-10T00:00:00Z: "
        "no customer file has this key and no overlay in effect creates it; to add a customer, put it under create:"
    ]
    assert check_schedule(base, overlays, [at("2026-12-05T00:00:00Z")]) == []


# --- property: the state at any T is the merge patches in order ----------------------------


def reference_merge_patch(target: Any, patch: Any) -> Any:
    # RFC 7386, section 2, as written there.
    if isinstance(patch, dict):
        if not isinstance(target, dict):
            target = {}
        target = dict(target)
        for name, value in patch.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = reference_merge_patch(target.get(name), value)
        return target
    return patch


def reference_state(base: dict[str, Any], overlays: list[Overlay], instant: dt.datetime) -> dict[str, Any]:
    state = copy.deepcopy(base)
    for overlay in sorted(overlays, key=lambda o: (o.effective_at, o.path.name)):
        if overlay.effective_at <= instant and (overlay.until is None or instant < overlay.until):
            state.update(copy.deepcopy(dict(overlay.create)))
            for key, patch in overlay.customers.items():
                state[key] = reference_merge_patch(state[key], patch)
    return state


@settings(max_examples=300, deadline=None)
@given(overlay_sets(), st.sampled_from(INSTANTS), st.sampled_from([dt.timedelta(0), dt.timedelta(seconds=-1), dt.timedelta(hours=1)]))
def test_the_state_at_any_instant_is_the_patches_in_order(
    case: tuple[dict[str, dict[str, Any]], list[Overlay]], instant: dt.datetime, shift: dt.timedelta
) -> None:
    base, overlays = case
    frozen = copy.deepcopy(base)
    assert documents_at(base, overlays, instant + shift) == reference_state(base, overlays, instant + shift)
    assert base == frozen  # nothing is patched in place
