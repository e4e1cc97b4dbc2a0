"""The field diff (`model.diff`): the one comparison behind plans, audit records, history and
drift. Values compare and report canonically; set fields report what was added and removed;
changes come in the form's order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from customer_cases import customers
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model.customer import Customer
from reconciler.model.diff import (
    FieldChange,
    diff_customers,
    diff_documents,
    diff_to_customer,
    is_owned,
)
from reconciler.model.fields import NOT_LIVE_FIELDS, canonical_fields, field_positions


def customer(**fields: object) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


# --- diff_customers ------------------------------------------------------------------------


def test_equal_customers_have_no_changes() -> None:
    assert diff_customers(customer(channels=5), customer(channels=5)) == []
    # Equal though spelt differently: money with more places, tags in another order.
    assert diff_customers(
        customer(debit_limit=Decimal("500"), config={"tags": ["b", "a"]}),
        customer(debit_limit=Decimal("500.0000"), config={"tags": ["a", "b"]}),
    ) == []


@settings(max_examples=300, deadline=None)
@given(customers, customers, st.sets(st.sampled_from(sorted(Customer.model_fields))), st.booleans())
def test_a_pair_of_customers_diffs_as_their_whole_canonical_documents_do(
    first: dict[str, Any], second: dict[str, Any], replaced: set[str], kept: bool
) -> None:
    """Only the top-level fields whose values differ are put in the canonical form: the
    changes are those of the whole documents, field for field and in the same order. The
    second customer is the first with REPLACED fields taken from another; KEPT: the first
    holds its whole canonical fields already (as a customer read from a row does)."""
    live = Customer.model_validate(first)
    desired = Customer.model_validate({
        **{name: value for name, value in first.items() if name not in replaced},
        **{name: second[name] for name in replaced if name in second},
    })
    if kept:
        canonical_fields(live)
    whole = diff_documents(live.model_dump(by_alias=True), desired.model_dump(by_alias=True))
    assert diff_customers(live, desired) == [change for change in whole if change.path not in NOT_LIVE_FIELDS]
    assert diff_to_customer(live, desired) == whole


def test_changes_are_canonical_and_in_the_forms_order() -> None:
    live = customer(notes="old", channels=10, debit_limit=Decimal("100"), config={"invoice": {"due_days": 14}})
    desired = customer(notes="new", channels=20, debit_limit=Decimal("250.5"), config={"invoice": {"due_days": 30}})
    assert diff_customers(live, desired) == [
        FieldChange("channels", 10, 20),
        FieldChange("debit_limit", "100.00", "250.50"),
        FieldChange("config.invoice.due_days", 14, 30),
        FieldChange("notes", "old", "new"),
    ]


def test_set_fields_report_what_was_added_and_removed() -> None:
    live = customer(topup_currencies=["EUR", "USD"], config={"tags": ["a", "b"]})
    desired = customer(topup_currencies=["GBP", "USD"], config={"tags": ["b", "c", "d"]})
    assert diff_customers(live, desired) == [
        FieldChange("topup_currencies", ["EUR", "USD"], ["GBP", "USD"], added=("GBP",), removed=("EUR",)),
        FieldChange("config.tags", ["a", "b"], ["b", "c", "d"], added=("c", "d"), removed=("a",)),
    ]


def test_lists_that_are_not_sets_compare_whole() -> None:
    changes = diff_customers(customer(address={"lines": ["1 Main St", "Floor 2"]}), customer(address={"lines": ["Floor 2", "1 Main St"]}))
    assert changes == [FieldChange("address.lines", ["1 Main St", "Floor 2"], ["Floor 2", "1 Main St"])]


def test_a_free_form_map_is_one_leaf() -> None:
    changes = diff_customers(
        customer(config={"portal_access": {"cdr": "show"}}),
        customer(config={"portal_access": {"cdr": "hide", "did": "show"}}),
    )
    assert changes == [FieldChange("config.portal_access", {"cdr": "show"}, {"cdr": "hide", "did": "show"})]


def test_renamed_from_is_bookkeeping_not_a_change() -> None:
    assert diff_customers(customer(), customer(renamed_from=["old-key"])) == []
    assert "renamed_from" not in [change.path for change in diff_customers(None, customer(renamed_from=["x"]))]


def test_owned_fields_and_everything_inside_them_are_skipped() -> None:
    live = customer(status="penalty", channels=1, config={"tags": ["a"], "reseller": "r1"})
    desired = customer(status="active", channels=2, config={"tags": ["b"], "reseller": "r2"})
    assert diff_customers(live, desired, owned=["status", "config"]) == [FieldChange("channels", 1, 2)]
    assert diff_customers(live, desired, owned=["config.tags"]) == [
        FieldChange("channels", 1, 2),
        FieldChange("status", "penalty", "active"),
        FieldChange("config.reseller", "r1", "r2"),
    ]


def test_is_owned_matches_whole_path_segments() -> None:
    assert is_owned("config.tags", ["config"])
    assert is_owned("config", ["config"])
    assert not is_owned("config_extra", ["config"])
    assert not is_owned("config", ["config.tags"])
    assert not is_owned("channels", [])


def test_against_nothing_every_field_is_a_change_from_or_to_null() -> None:
    created = diff_customers(None, customer(channels=3))
    assert [change.path for change in created][:4] == ["name", "channels", "flow_speed", "status"]
    assert created[0] == FieldChange("name", None, None)  # present on one side only: a change, even null
    assert created[1] == FieldChange("channels", None, 3)
    removed = diff_customers(customer(channels=3), None)
    assert removed[1] == FieldChange("channels", 3, None)
    assert len(created) == len(removed) == 41
    assert diff_customers(None, None) == []
    owned = diff_customers(None, customer(channels=3), owned=("config",))
    assert owned == [change for change in created if not change.path.startswith("config.")]
    assert len(owned) < len(created)


# --- diff_documents ------------------------------------------------------------------------


def test_a_leaf_present_on_one_side_only_is_a_change_even_to_null() -> None:
    assert diff_documents({"channels": 1}, {"channels": 1, "notes": None}) == [FieldChange("notes", None, None)]
    assert diff_documents({"notes": None}, {}) == [FieldChange("notes", None, None)]
    assert diff_documents({"notes": None}, {"notes": None}) == []


def test_raw_values_are_compared_canonically() -> None:
    assert diff_documents({"debit_limit": Decimal("5")}, {"debit_limit": Decimal("5.0000")}) == []
    assert diff_documents({"flow_speed": Decimal("5")}, {"flow_speed": Decimal("5.50")}) == [
        FieldChange("flow_speed", "5", "5.5")
    ]
    assert diff_documents({"minimum_payment": Decimal("0.1")}, {"minimum_payment": Decimal("0.1234")}) == [
        FieldChange("minimum_payment", "0.10", "0.1234")
    ]


def test_a_set_field_in_another_order_is_no_change() -> None:
    assert diff_documents({"config": {"tags": ["a", "b"]}}, {"config": {"tags": ["b", "a"]}}) == []
    # Added and removed keep the order of the side they come from.
    assert diff_documents({"config": {"tags": ["a"]}}, {"config": {"tags": ["c", "b", "a"]}}) == [
        FieldChange("config.tags", ["a"], ["c", "b", "a"], added=("c", "b"))
    ]


def test_a_set_field_from_nothing_is_a_whole_change() -> None:
    assert diff_documents({"config": {"tags": None}}, {"config": {"tags": ["a"]}}) == [
        FieldChange("config.tags", None, ["a"])
    ]


def test_the_forms_order_with_unknown_paths_last() -> None:
    changes = diff_documents({"zzz": 1, "notes": "a", "channels": 1}, {"zzz": 2, "notes": "b", "channels": 2, "name": "x"})
    assert [change.path for change in changes] == ["name", "channels", "notes", "zzz"]
    positions = field_positions()
    assert positions["name"] == 0
    assert positions["renamed_from"] == 1
    assert len(positions) == 42
    assert "zzz" not in positions and "unknown.path" not in positions


def test_a_branch_replaced_by_a_leaf() -> None:
    assert diff_documents({"config": {"invoice": {"due_days": 3}}}, {"config": 5}) == [
        FieldChange("config.invoice.due_days", 3, None),
        FieldChange("config", None, 5),
    ]


def test_skip_leaves_a_field_out() -> None:
    before, after = {"channels": 1, "notes": "a"}, {"channels": 2, "notes": "b"}
    assert diff_documents(before, after, skip=lambda path: path == "channels") == [FieldChange("notes", "a", "b")]


def test_a_field_change_round_trips_through_json() -> None:
    plain = FieldChange("channels", 1, 2)
    assert plain.to_json() == {"field": "channels", "before": 1, "after": 2}
    tags = FieldChange("config.tags", ["a"], ["b"], added=("b",), removed=("a",))
    assert tags.to_json() == {"field": "config.tags", "before": ["a"], "after": ["b"], "added": ["b"], "removed": ["a"]}
    assert [FieldChange.from_json(change.to_json()) for change in (plain, tags)] == [plain, tags]
