"""The planner (`plan.compute.compute_plan`) over hand-built desired customers and live records:
which action each customer gets, the field changes, what is blocked, and the safety verdict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

from reconciler.config import SafetySection
from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange
from reconciler.model.fields import Packed
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import (
    Action,
    Blocked,
    BlockRule,
    CustomerChange,
    Held,
    HoldReason,
    Override,
    Plan,
    Removal,
    RemovalCause,
    fingerprint,
)
from reconciler.providers.base import LiveCustomer, LiveProblem, ProviderInfo, UnreadableCustomer

AT = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
PROVIDER = ProviderInfo("sqlite", "sqlite live.sqlite", frozenset({"transactions", "audit", "lock"}))


def context(**options: object) -> PlanContext:
    return PlanContext(at=AT, commit="abc1234", dirty=False, provider=PROVIDER, **options)  # type: ignore[arg-type]


def customer(**fields: object) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


def live(key: str, value: Customer, *, version: int = 3, managed: bool = True, active: bool = True) -> LiveCustomer:
    return LiveCustomer(key, value, version, managed, active)


def plan_of(
    desired: Mapping[str, Customer], records: list[LiveCustomer], plan_context: PlanContext | None = None, **options: object
) -> Plan:
    return compute_plan(desired, {record.key: record for record in records}, plan_context or context(), **options)  # type: ignore[arg-type]


class _Asked(Mapping[str, Customer]):
    """Customers by key, noting each key asked for (a plan's are loaded when asked: `Slices`)."""

    def __init__(self, customers: dict[str, Customer]) -> None:
        self.customers = customers
        self.asked: list[str] = []

    def __getitem__(self, key: str) -> Customer:
        self.asked.append(key)
        return self.customers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.customers)

    def __len__(self) -> int:
        return len(self.customers)


def test_a_plan_asks_for_each_customer_once() -> None:
    """Where no live record lies outside the desired customers, none can be claimed by a
    rename: the plan looks for renames without asking for a customer, and asks for each once."""
    desired = _Asked({"acme": customer(name="Acme"), "globex": customer(name="Globex"), "kiwi": customer(name="Kiwi")})
    plan = plan_of(desired, [live("acme", customer(name="Acme", channels=5))])
    assert [change.action for change in plan.changes] == [Action.UPDATE, Action.CREATE, Action.CREATE]
    assert sorted(desired.asked) == ["acme", "globex", "kiwi"]


class _Documents(_Asked):
    """`_Asked` that gives the canonical documents of the customers of GIVES (as the fleet
    gives those the cache holds: `desired.state.Desired.canonical`), noting the keys asked."""

    def __init__(self, customers: dict[str, Customer], gives: set[str]) -> None:
        super().__init__(customers)
        self.gives = gives
        self.documents_asked: list[str] = []

    def canonical(self, keys: Sequence[str]) -> dict[str, Packed]:
        self.documents_asked += keys
        return {key: Packed.of(self.customers[key]) for key in keys if key in self.gives}


def test_a_create_whose_document_desired_state_gives_is_planned_without_its_customer() -> None:
    """Desired state that holds a customer's canonical document gives it for a create, which
    needs no more: the customer is not asked for (a plan of 100,000 creates neither reads nor
    validates a file again after the workers did). The plan is the one of the customers."""
    customers = {
        "acme": customer(name="Acme"), "globex": customer(name="Globex"), "kiwi": customer(name="Kiwi"),
        "zeta": customer(name="Zeta", channels=4),
    }
    records = [live("acme", customer(name="Acme", channels=5))]
    desired = _Documents(customers, gives={"acme", "globex", "zeta"})
    plan = plan_of(desired, records)
    assert desired.documents_asked == ["globex", "kiwi", "zeta"]  # the creates, in key order
    assert sorted(desired.asked) == ["acme", "kiwi"]  # the update, and the create it gave no document of
    expected = plan_of(customers, records)
    assert plan == expected
    assert plan.plan_id == expected.plan_id
    assert [change.to_json() for change in plan.changes] == [change.to_json() for change in expected.changes]


# --- one customer ----------------------------------------------------------------------------


def test_a_customer_only_in_git_is_created_with_every_field() -> None:
    acme = customer(name="Acme", channels=10)
    plan = plan_of({"acme": acme}, [])
    [change] = plan.changes
    assert (change.key, change.action, change.desired, change.fingerprint, change.version) == (
        "acme", Action.CREATE, acme, None, None,
    )
    # Every field of the form but renamed_from (bookkeeping), each from nothing.
    assert len(change.changes) == 41
    assert change.changes[:5] == (
        FieldChange("name", None, "Acme"),
        FieldChange("channels", None, 10),
        FieldChange("flow_speed", None, "0"),
        FieldChange("status", None, "active"),
        FieldChange("debit_limit", None, "0.00"),
    )
    assert all(field_change.before is None for field_change in change.changes)
    assert "renamed_from" not in [field_change.path for field_change in change.changes]
    assert (plan.at, plan.commit, plan.dirty, plan.provider, plan.target) == (
        AT, "abc1234", False, "sqlite", "sqlite live.sqlite",
    )
    assert (plan.blocked, plan.unmanaged, plan.fleet_size, plan.bulk_blocked, plan.warnings) == ((), (), 0, (), ())


def test_a_managed_active_customer_with_changed_fields_is_updated() -> None:
    record = live("acme", customer(channels=10, debit_limit=Decimal("100")), version=7)
    desired = customer(channels=20, debit_limit=Decimal("500.0"), config={"tags": ["b", "a"]})
    plan = plan_of({"acme": desired}, [record])
    assert plan.changes == (
        CustomerChange(
            "acme", Action.UPDATE,
            (
                FieldChange("channels", 10, 20),
                FieldChange("debit_limit", "100.00", "500.00"),
                FieldChange("config.tags", [], ["a", "b"], added=("a", "b")),
            ),
            desired, fingerprint(record), 7,
        ),
    )
    assert plan.fleet_size == 1


def test_an_unchanged_customer_is_not_in_the_plan() -> None:
    record = live("acme", customer(channels=10, debit_limit=Decimal("500.0000")))
    plan = plan_of({"acme": customer(channels=10, debit_limit=Decimal("500"))}, [record])
    assert (plan.changes, plan.blocked, plan.empty) == ((), (), True)


def test_an_unmanaged_live_customer_in_git_is_adopted_even_without_field_changes() -> None:
    acme = customer(channels=10)
    record = live("acme", acme, managed=False)
    plan = plan_of({"acme": acme}, [record])
    assert plan.changes == (CustomerChange("acme", Action.ADOPT, (), acme, fingerprint(record), 3),)
    assert plan.unmanaged == ()


def test_an_inactive_customer_back_in_git_is_reactivated() -> None:
    acme = customer(channels=10)
    record = live("acme", customer(channels=5), active=False)
    plan = plan_of({"acme": acme}, [record])
    assert plan.changes == (
        CustomerChange("acme", Action.REACTIVATE, (FieldChange("channels", 5, 10),), acme, fingerprint(record), 3),
    )
    assert plan.fleet_size == 0  # an inactive record is not part of the live fleet


def test_an_unmanaged_inactive_customer_is_adopted_not_reactivated() -> None:
    acme = customer()
    plan = plan_of({"acme": acme}, [live("acme", acme, managed=False, active=False)])
    assert [change.action for change in plan.changes] == [Action.ADOPT]


# --- renames -------------------------------------------------------------------------------


def test_a_renamed_file_moves_its_live_record() -> None:
    renamed = customer(channels=10, renamed_from=["acme"])
    record = live("acme", customer(channels=10))
    plan = plan_of({"acme-telecom": renamed}, [record])
    assert plan.changes == (
        CustomerChange(
            "acme-telecom", Action.RENAME, (), renamed, fingerprint(record), 3, renamed_from="acme",
        ),
    )  # renamed_from itself is bookkeeping: no field change; and the old key is not deactivated


def test_a_rename_with_field_changes_carries_them() -> None:
    renamed = customer(channels=12, renamed_from=["acme", "acme-old"])
    plan = plan_of({"acme-telecom": renamed}, [live("acme-old", customer(channels=10))])
    [change] = plan.changes
    assert (change.key, change.action, change.renamed_from, change.changes) == (
        "acme-telecom", Action.RENAME, "acme-old", (FieldChange("channels", 10, 12),),
    )


def test_no_rename_when_the_old_key_is_still_in_git_or_the_new_key_is_live() -> None:
    # The old key still has its own file: the renamed one is a new customer.
    plan = plan_of(
        {"acme": customer(), "acme-telecom": customer(renamed_from=["acme"])}, [live("acme", customer())]
    )
    assert [(change.key, change.action) for change in plan.changes] == [("acme-telecom", Action.CREATE)]
    # The new key is live already: it is updated, and the old record is removed.
    plan = plan_of(
        {"acme-telecom": customer(channels=1, renamed_from=["acme"])},
        [live("acme", customer()), live("acme-telecom", customer())],
    )
    assert [(change.key, change.action, change.renamed_from) for change in plan.changes] == [
        ("acme-telecom", Action.UPDATE, None), ("acme", Action.DEACTIVATE, None),
    ]


# --- removals ------------------------------------------------------------------------------


def test_a_managed_customer_removed_from_git_is_deactivated_by_default() -> None:
    record = live("gone", customer(), version=9)
    plan = plan_of({}, [record], context(removed_in={"gone": "def5678"}))
    assert plan.changes == (
        CustomerChange(
            "gone", Action.DEACTIVATE, (), None, fingerprint(record), 9,
            removal=Removal(RemovalCause.FILE_REMOVED, commit="def5678"),
        ),
    )


def test_on_removal_delete_deletes() -> None:
    record = live("gone", customer())
    plan = plan_of({}, [record], context(safety=SafetySection(on_removal="delete")))
    assert plan.changes == (
        CustomerChange("gone", Action.DELETE, (), None, fingerprint(record), 3, removal=Removal(RemovalCause.FILE_REMOVED)),
    )


def test_an_inactive_record_not_in_git_stays_as_it_is() -> None:
    assert plan_of({}, [live("gone", customer(), active=False)]).changes == ()


def test_unmanaged_records_not_in_git_are_listed_not_touched() -> None:
    plan = plan_of({}, [live("zulu", customer(), managed=False), live("alpha", customer(), managed=False, active=False)])
    assert (plan.changes, plan.unmanaged, plan.fleet_size) == ((), ("alpha", "zulu"), 1)


# --- blocked and owned fields -----------------------------------------------------------------


def test_a_currency_change_is_blocked_with_what_to_do_instead() -> None:
    plan = plan_of({"globex": customer(currency="EUR", channels=5)}, [live("globex", customer(channels=1))])
    assert plan.changes == ()
    assert plan.blocked == (
        Blocked(
            "globex", "currency", BlockRule.CURRENCY_FIXED,
            "currency USD -> EUR; the platform fixes a customer's currency at creation. Create a new "
            "customer in EUR instead (a new file), and deactivate this one by removing its file.",
        ),
    )
    assert (plan.counts()["blocked"], plan.empty) == (1, False)


def test_owned_fields_keep_their_live_values_and_are_not_diffed() -> None:
    record = live("acme", customer(status="penalty", channels=10, config={"tags": ["live-tag"], "reseller": "r1"}))
    desired = customer(status="active", channels=20, config={"tags": ["git-tag"], "reseller": "r2"})
    plan = plan_of({"acme": desired}, [record], context(owned_fields=("status", "config.tags")))
    [change] = plan.changes
    assert change.changes == (FieldChange("channels", 10, 20), FieldChange("config.reseller", "r1", "r2"))
    assert change.desired is not None
    assert (change.desired.status, change.desired.config.tags, change.desired.channels) == ("penalty", ["live-tag"], 20)
    assert change.desired.config.reseller == "r2"


def test_an_owned_block_covers_its_fields_and_a_change_only_there_is_no_change() -> None:
    record = live("acme", customer(config={"tags": ["a"], "invoice": {"due_days": 30}}))
    desired = customer(config={"tags": ["b"], "invoice": {"due_days": 60}})
    assert plan_of({"acme": desired}, [record], context(owned_fields=("config",))).changes == ()


# --- safety, fleet and only= -------------------------------------------------------------------


def fleet(size: int) -> list[LiveCustomer]:
    return [live(f"c{index:02}", customer(channels=1)) for index in range(size)]


def test_bulk_thresholds_are_recorded_in_bulk_blocked() -> None:
    desired = {f"c{index:02}": customer(channels=2) for index in range(3)}
    plan = plan_of(desired, fleet(5), context(safety=SafetySection(max_updates=2, max_deactivations=1)))
    assert [change.action for change in plan.changes] == [Action.UPDATE] * 3 + [Action.DEACTIVATE] * 2
    assert plan.bulk_blocked == (
        "3 customers to update, more than safety.max_updates = 2",
        "2 customers to deactivate, more than safety.max_deactivations = 1",
    )
    assert plan.warnings == ()


def test_allow_bulk_turns_the_thresholds_into_warnings() -> None:
    desired = {f"c{index:02}": customer(channels=2) for index in range(3)}
    safety = SafetySection(max_updates=2, max_deactivations=1)
    plan = plan_of(desired, fleet(5), context(safety=safety, allow_bulk=True))
    assert plan.bulk_blocked == ()
    assert plan.warnings == (
        "allowed by --allow-bulk: 3 customers to update, more than safety.max_updates = 2",
        "allowed by --allow-bulk: 2 customers to deactivate, more than safety.max_deactivations = 1",
    )
    assert len(plan.changes) == 5


def test_creates_do_not_count_towards_the_update_threshold() -> None:
    desired = {f"new{index}": customer() for index in range(3)}
    assert plan_of(desired, [], context(safety=SafetySection(max_updates=0))).bulk_blocked == ()


def test_only_restricts_the_plan_to_those_keys() -> None:
    records = [live("acme", customer(channels=1)), live("gone", customer()), live("other", customer(), managed=False)]
    desired = {"acme": customer(channels=2), "globex": customer(), "kiwi": customer(currency="EUR")}
    plan = plan_of(desired, records, only={"acme", "gone"})
    assert [(change.key, change.action) for change in plan.changes] == [
        ("acme", Action.UPDATE), ("gone", Action.DEACTIVATE),
    ]
    assert (plan.blocked, plan.unmanaged) == ((), ())
    assert plan.fleet_size == 3  # the whole live fleet, whatever `only` selects
    plan = plan_of(desired, records, only={"globex", "other"})
    assert ([(change.key, change.action) for change in plan.changes], plan.unmanaged) == (
        [("globex", Action.CREATE)], ("other",),
    )


def test_changes_are_in_key_order_with_removals_last() -> None:
    records = [live("a-gone", customer()), live("m", customer(channels=1))]
    desired = {"z": customer(), "m": customer(channels=2), "b": customer()}
    plan = plan_of(desired, records)
    assert [(change.key, change.action) for change in plan.changes] == [
        ("b", Action.CREATE), ("m", Action.UPDATE), ("z", Action.CREATE), ("a-gone", Action.DEACTIVATE),
    ]
    assert plan.counts() == {
        Action.CREATE: 2, Action.UPDATE: 1, Action.ADOPT: 0, Action.REACTIVATE: 0, Action.RENAME: 0,
        Action.DEACTIVATE: 1, Action.DELETE: 0, "blocked": 0,
    }


def test_only_the_old_key_of_a_renamed_file_does_not_deactivate_it() -> None:
    # `plan --customer acme` after acme.yaml became acme-telecom.yaml (renamed_from: [acme]).
    renamed = customer(renamed_from=["acme"])
    plan = plan_of({"acme-telecom": renamed}, [live("acme", customer())], only={"acme"})
    assert (plan.changes, plan.unmanaged) == ((), ())


# --- what the platform means: removal, penalty, records we cannot read ---------------------


def test_a_customer_an_overlay_created_is_deactivated_when_it_ends_and_the_plan_says_why() -> None:
    record = live("pop-up", customer())
    ended = {"pop-up": ("plans/2026-12-24_pop-up.yaml", dt.datetime(2026, 12, 27, 6, tzinfo=dt.UTC))}
    [change] = plan_of({}, [record], context(ended=ended)).changes
    assert (change.action, change.removal) == (
        Action.DEACTIVATE,
        Removal(RemovalCause.OVERLAY_ENDED, overlay="plans/2026-12-24_pop-up.yaml", until=ended["pop-up"][1]),
    )


def test_a_penalty_the_platform_set_is_left_alone_and_the_other_fields_written() -> None:
    record = live("acme", customer(status="penalty", channels=10))
    plan = plan_of({"acme": customer(status="active", channels=20)}, [record])
    [change] = plan.changes
    assert change.changes == (FieldChange("channels", 10, 20),)
    assert change.desired is not None and change.desired.status == "penalty"
    assert plan.held == (Held("acme", "status", HoldReason.PENALTY, "penalty", "active"),)


def test_a_penalty_alone_is_held_without_a_change() -> None:
    plan = plan_of({"acme": customer()}, [live("acme", customer(status="penalty"))])
    assert (plan.changes, plan.held) == ((), (Held("acme", "status", HoldReason.PENALTY, "penalty", "active"),))
    assert plan.empty  # nothing to apply: "No changes", with the customer held


def test_lift_penalty_writes_the_files_status_and_says_so() -> None:
    record = live("acme", customer(status="penalty"))
    [change] = plan_of({"acme": customer()}, [record], context(lift_penalty=frozenset({"acme"}))).changes
    assert (change.changes, change.overrides) == ((FieldChange("status", "penalty", "active"),), (Override.LIFT_PENALTY,))


def test_a_penalty_git_set_is_gits_to_lift() -> None:
    record = live("acme", customer(status="penalty"))
    plan = plan_of({"acme": customer()}, [record], context(penalties_from_git=frozenset({"acme"})))
    assert [(change.changes, change.overrides) for change in plan.changes] == [((FieldChange("status", "penalty", "active"),), ())]
    assert plan.held == ()


def test_a_file_that_says_penalty_sets_it() -> None:
    [change] = plan_of({"acme": customer(status="penalty")}, [live("acme", customer())]).changes
    assert change.changes == (FieldChange("status", "active", "penalty"),)


def _unreadable(key: str = "acme") -> UnreadableCustomer:
    problem = LiveProblem("tax_percent", "101", "must be at most 100, not 101")
    return UnreadableCustomer(key, 4, True, True, (problem,), {"tax_percent": "101"})


def test_an_unreadable_live_record_is_blocked_alone_with_what_to_do() -> None:
    records = [_unreadable(), live("kiwi", customer(channels=1))]
    plan = plan_of({"acme": customer(), "kiwi": customer(channels=2)}, records)
    assert plan.blocked == (
        Blocked(
            "acme", "tax_percent", BlockRule.LIVE_UNREADABLE,
            "live record unreadable: tax_percent: 101 (must be at most 100, not 101). Fix the record on the "
            "platform, or overwrite it from its file with apply --repair acme.",
        ),
    )
    assert [change.key for change in plan.changes] == ["kiwi"]


def test_repair_overwrites_an_unreadable_record_from_its_file() -> None:
    record = _unreadable()
    desired = customer(tax_percent=Decimal("20"))
    [change] = plan_of({"acme": desired}, [record], context(repair=frozenset({"acme"}))).changes
    assert change == CustomerChange(
        "acme", Action.UPDATE, (FieldChange("tax_percent", "101", "20"),), desired, fingerprint(record), 4,
        overrides=(Override.REPAIR,),
    )


def test_an_unreadable_record_removed_from_git_is_deactivated() -> None:
    [change] = plan_of({}, [_unreadable("gone")]).changes
    assert (change.key, change.action, change.version) == ("gone", Action.DEACTIVATE, 4)


def test_an_unmanaged_live_customer_is_adopted_by_its_name_under_the_files_key() -> None:
    record = live("acme-legacy", customer(name="Acme Telecom", channels=1), managed=False)
    desired = customer(name="ACME telecom", channels=1)
    [change] = plan_of({"acme-telecom": desired}, [record]).changes
    assert (change.key, change.action, change.renamed_from) == ("acme-telecom", Action.ADOPT, "acme-legacy")
    assert change.changes == (FieldChange("name", "Acme Telecom", "ACME telecom"),)
    # A managed record of the same name is someone else's: no match, a create (the platform refuses the name).
    managed = live("acme-legacy", customer(name="Acme Telecom"))
    assert [c.action for c in plan_of({"acme-telecom": desired}, [managed]).changes] == [Action.CREATE, Action.DEACTIVATE]
