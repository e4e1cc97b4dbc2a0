"""The contract every provider passes (reconciler/providers/base.py), run on each one: the
SQL stores (SQLite, PostgreSQL) and connexcs on the stand-in of its API. What only a SQL
store does (transactions, its rules as constraints, migrations) is in test_sql_store.py."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from reconciler.errors import ConflictError, LockHeld, ProviderError
from reconciler.model.customer import Customer
from reconciler.model.fields import canonical_document, canonical_fields, default_fields, digest
from reconciler.providers.base import AuditContext, AuditRecord, Provider, Write

AUDIT = AuditContext(actor="ci@runner-7", commit="8d41c0b", plan_id="3f9c2e1a")

ACME: dict[str, Any] = {
    "name": "Acme Telecom",
    "renamed_from": ["acme"],
    "channels": 300,
    "flow_speed": Decimal("30.5"),
    "status": "active",
    "debit_limit": Decimal("25000.00"),
    "minimum_payment": Decimal("500.00"),
    "topup_currencies": ["USD", "EUR"],
    "tax_percent": Decimal("20.0001"),
    "currency": "USD",
    "config": {
        "paypal_email": "billing@acme-telecom.example",
        "website": "https://acme-telecom.example",
        "p_asserted_id": "if_available",
        "portal_access": {"balance": "show", "routes": "hide"},
        "tags": ["wholesale", "us-east"],
        "vars": 'route = "premium"\n',
        "reseller": "direct",
        "account_manager": "Dana Whitfield",
        "invoice": {"schedule": "monthly", "due_days": 30, "template": "net30", "create_on_payment": True},
        "flags": {"allow_inbound_zero_balance": True},
        "ext_accounting_id": "XERO-10442",
        "rtp_firewall": "unlocked",
        "call_recording_retention_days": 90,
        "domain": "sip.acme-telecom.example",
        "daily_spend_limit": Decimal("4000.00"),
        "stir_shaken_attestation": "A",
    },
    "timeouts": {"first_reply": 10, "pdd": 20, "ring": 120},
    "address": {"lines": ["1200 Harbor Blvd", "Suite 400"], "city": "Weehawken", "region": "NJ",
                "postcode": "07086", "country": "US"},
    "verification": {"approved_cli_only": True, "require_email": True, "require_mobile": False},
    "notes": "Net-30 terms.\nEscalations go to the NOC bridge.",
    "day_time_restriction": {
        "timezone": "America/New_York",
        "windows": [{"from": "08:00", "to": "18:00", "days": ["mon", "tue"]}, {"from": "22:00", "to": "02:00"}],
    },
}


def acme(**changes: Any) -> Customer:
    return Customer.model_validate({**ACME, **changes})


def small(**fields: Any) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


# --- store ----------------------------------------------------------------------------------


def test_describe_names_the_store_and_capabilities(provider: Provider, spec: Any) -> None:
    info = provider.describe()
    assert info.name == spec.name
    assert info.target.startswith(f"{spec.name} ")
    assert info.capabilities == spec.capabilities
    assert repr(provider) == f"<{type(provider).__name__} {info.target}>"


def test_open_creates_the_store_once(spec: Any) -> None:
    with spec.make() as first:
        assert first.open().created
        assert first.open().schema_version == spec.schema_version
    with spec.make() as second:
        state = second.open()
    assert (state.created, state.schema_version, state.migrated_from) == (False, spec.schema_version, None)


def test_an_empty_store_reads_empty(provider: Provider) -> None:
    assert provider.read() == {}
    assert provider.read(["nobody"]) == {}
    assert provider.read_audit() == []
    assert provider.lock_status() is None


# --- customers ------------------------------------------------------------------------------


def test_create_then_read_gives_the_same_customer(provider: Provider) -> None:
    created = provider.create("acme-telecom", acme(), AUDIT)
    assert (created.key, created.version, created.managed, created.active) == ("acme-telecom", 1, True, True)

    live = provider.read()["acme-telecom"]
    assert live.customer == acme()
    assert (live.version, live.managed, live.active) == (1, True, True)


def test_read_by_keys_leaves_out_missing_keys(provider: Provider) -> None:
    for key in ("a", "b", "c"):
        provider.create(key, small(), AUDIT)
    assert sorted(provider.read(["a", "c", "missing"])) == ["a", "c"]
    assert sorted(provider.read()) == ["a", "b", "c"]
    assert provider.read([]) == {}


def test_a_read_of_what_differs_begun_early_reads_what_it_reads_at_once(provider: Provider) -> None:
    """`start_read_differing`: whatever a provider starts before the digests are known, the
    answer is `read_differing`'s for the digests given at the end."""
    for key, channels in (("a", 1), ("b", 2), ("c", 3)):
        provider.create(key, small(channels=channels), AUDIT)
    wanted = {"a": digest(small(channels=1)), "b": digest(small(channels=9)), "n": digest(small())}
    early, at_once = provider.start_read_differing()(wanted), provider.read_differing(wanted)
    assert early.in_sync == at_once.in_sync
    assert {key: (record.customer, record.version) for key, record in early.records.items()} == {
        key: (record.customer, record.version) for key, record in at_once.records.items()
    }
    assert sorted(early.records) == (["b", "c"] if early.in_sync else ["a", "b", "c"])


def test_records_read_ahead_are_the_answer_a_read_at_the_end_gives(provider: Provider) -> None:
    """`PendingRead.read_ahead`: keys read ahead that turn out to differ, in step, or missing
    give the same answer as `read_differing` at once; a key not read ahead is read at the end."""
    for key, channels in (("a", 1), ("b", 2), ("c", 3)):
        provider.create(key, small(channels=channels), AUDIT)
    wanted = {"a": digest(small(channels=1)), "b": digest(small(channels=9)), "n": digest(small())}
    pending = provider.start_read_differing()
    pending.read_ahead({"a": wanted["a"], "b": wanted["b"], "gone": digest(small())})
    early, at_once = pending(wanted), provider.read_differing(wanted)
    assert early.in_sync == at_once.in_sync
    assert {key: (record.customer, record.version) for key, record in early.records.items()} == {
        key: (record.customer, record.version) for key, record in at_once.records.items()
    }


@pytest.mark.parametrize(
    "amount",
    ["0", "0.0001", "-250.50", "12345678901234.5678", "-99999999999999.9999", "500.00", "1E+3"],
)
def test_money_is_exact(provider: Provider, amount: str) -> None:
    provider.create("acme", small(debit_limit=Decimal(amount)), AUDIT)
    stored = provider.read()["acme"].customer.debit_limit
    assert isinstance(stored, Decimal)
    assert stored == Decimal(amount)


def test_money_reads_back_in_the_canonical_spelling(provider: Provider) -> None:
    provider.create("acme", small(debit_limit=Decimal("500.0000"), flow_speed=Decimal("2.50")), AUDIT)
    document = canonical_document(provider.read()["acme"].customer)
    assert (document["debit_limit"], document["flow_speed"]) == ("500.00", "2.5")


def test_create_an_existing_key_is_a_conflict(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    with pytest.raises(ConflictError) as caught:
        provider.create("acme", small(), AUDIT)
    assert str(caught.value) == "acme: already exists in the live store (version 1); re-plan"


def test_update_writes_the_whole_customer_and_bumps_the_version(provider: Provider) -> None:
    provider.create("acme", acme(), AUDIT)
    replaced = small(channels=5, status="penalty")
    updated = provider.update("acme", replaced, 1, AUDIT)
    assert (updated.version, updated.customer) == (2, replaced)
    live = provider.read()["acme"]
    assert (live.version, live.customer) == (2, replaced)
    assert provider.update("acme", replaced, 2, AUDIT).version == 3


def test_update_against_a_stale_version_is_refused(provider: Provider) -> None:
    provider.create("acme", small(channels=10), AUDIT)
    provider.update("acme", small(channels=20), 1, AUDIT)
    with pytest.raises(ConflictError) as caught:
        provider.update("acme", small(channels=30), 1, AUDIT)
    assert str(caught.value) == (
        "acme: the live record is at version 2, the plan expected version 1: "
        "it changed since it was read; re-plan"
    )
    live = provider.read()["acme"]
    assert (live.version, live.customer.channels) == (2, 20)


def test_update_of_a_missing_customer_is_a_conflict(provider: Provider) -> None:
    with pytest.raises(ConflictError) as caught:
        provider.update("ghost", small(), 4, AUDIT)
    assert str(caught.value) == (
        "ghost: not in the live store (the plan expected version 4): "
        "it was removed or renamed since it was read; re-plan"
    )


def test_deactivate_sets_the_platform_status_inactive_and_keeps_the_record(provider: Provider) -> None:
    provider.create("acme", small(status="penalty"), AUDIT)
    deactivated = provider.deactivate("acme", 1, AUDIT)
    assert (deactivated.version, deactivated.active, deactivated.managed) == (2, False, True)
    live = provider.read()["acme"]
    # Inactive on the platform, so the customer stops dialling; the audit keeps what it was.
    assert (live.version, live.active, live.customer) == (2, False, small(status="inactive"))
    [record] = provider.read_audit("acme", limit=1)
    assert (record.action, record.field, record.before, record.after) == ("deactivate", "status", "penalty", "inactive")
    with pytest.raises(ConflictError) as caught:
        provider.deactivate("acme", 1, AUDIT)
    assert str(caught.value) == (
        "acme: the live record is at version 2, the plan expected version 1: "
        "it changed since it was read; re-plan"
    )


def test_rename_moves_the_record(provider: Provider) -> None:
    provider.create("acme", small(channels=7), AUDIT)
    renamed = provider.rename("acme", "acme-telecom", 1, AUDIT)
    assert (renamed.key, renamed.version, renamed.customer) == ("acme-telecom", 2, small(channels=7))
    assert sorted(provider.read()) == ["acme-telecom"]


def test_rename_onto_an_existing_key_is_a_conflict(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    provider.create("globex", small(), AUDIT)
    with pytest.raises(ConflictError) as caught:
        provider.rename("acme", "globex", 1, AUDIT)
    assert str(caught.value) == "cannot rename acme to globex: globex already exists in the live store; re-plan"
    assert sorted(provider.read()) == ["acme", "globex"]


def test_delete_removes_the_record(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    provider.create("globex", small(), AUDIT)
    with pytest.raises(ConflictError) as caught:
        provider.delete("acme", 2, AUDIT)
    assert str(caught.value) == (
        "acme: the live record is at version 1, the plan expected version 2: "
        "it changed since it was read; re-plan"
    )
    provider.delete("acme", 1, AUDIT)
    assert sorted(provider.read()) == ["globex"]


WRITES: dict[str, Any] = {
    "update": lambda provider, key, version: provider.update(key, small(channels=1), version, AUDIT),
    "deactivate": lambda provider, key, version: provider.deactivate(key, version, AUDIT),
    "delete": lambda provider, key, version: provider.delete(key, version, AUDIT),
    "rename": lambda provider, key, version: provider.rename(key, "acme-new", version, AUDIT),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_against_a_stale_version_names_the_customer_both_versions_and_re_plan(
    provider: Provider, write: str
) -> None:
    provider.create("acme", small(), AUDIT)
    provider.update("acme", small(channels=2), 1, AUDIT)
    provider.update("acme", small(channels=3), 2, AUDIT)
    with pytest.raises(ConflictError) as caught:
        WRITES[write](provider, "acme", 2)
    assert str(caught.value) == (
        "acme: the live record is at version 3, the plan expected version 2: "
        "it changed since it was read; re-plan"
    )
    live = provider.read()
    assert (sorted(live), live["acme"].version, live["acme"].customer.channels) == (["acme"], 3, 3)
    assert [record.action for record in provider.read_audit()] == ["update", "update", "create"]


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_to_a_missing_customer_names_it_and_says_to_re_plan(provider: Provider, write: str) -> None:
    with pytest.raises(ConflictError) as caught:
        WRITES[write](provider, "ghost", 5)
    assert str(caught.value) == (
        "ghost: not in the live store (the plan expected version 5): "
        "it was removed or renamed since it was read; re-plan"
    )
    assert (provider.read(), provider.read_audit()) == ({}, [])


# --- the platform's rules -------------------------------------------------------------------


def test_a_currency_change_is_refused_by_the_platform_and_changes_nothing(provider: Provider) -> None:
    provider.create("acme", small(channels=3), AUDIT)
    with pytest.raises(ProviderError) as caught:
        provider.update("acme", small(currency="EUR", channels=4), 1, AUDIT)
    assert not isinstance(caught.value, ConflictError)
    assert str(caught.value).startswith("acme: the platform refused the write: ")
    assert "currency" in str(caught.value).lower()
    live = provider.read()["acme"]
    assert (live.version, live.customer) == (1, small(channels=3))
    assert {record.action for record in provider.read_audit()} == {"create"}
    assert provider.update("acme", small(channels=4), 1, AUDIT).version == 2  # the version it had still holds


# --- audit ----------------------------------------------------------------------------------


def _fields(records: list[AuditRecord]) -> list[tuple[str, str, str | None, Any, Any]]:
    return [(record.key, record.action, record.field, record.before, record.after) for record in records]


def test_create_records_the_fields_set_away_from_the_defaults(provider: Provider) -> None:
    provider.create("acme", small(channels=50, debit_limit=Decimal("500.00")), AUDIT)
    records = provider.read_audit()
    assert sorted(_fields(records)) == [
        ("acme", "create", "channels", None, 50),
        ("acme", "create", "currency", None, "USD"),
        ("acme", "create", "debit_limit", None, "500.00"),
    ]
    record = records[0]
    assert (record.actor, record.commit, record.plan_id) == ("ci@runner-7", "8d41c0b", "3f9c2e1a")
    assert record.at.tzinfo is not None


def test_a_create_is_read_back_as_a_record_for_each_field_in_the_forms_order(provider: Provider) -> None:
    """Newest first: the field a create set last comes first (a store that keeps no order in
    a JSON value, as PostgreSQL's JSONB keeps none in a map, reads them back the same)."""
    provider.create("acme", acme(), AUDIT)
    defaults = default_fields()
    expected = [
        ("acme", "create", path, None, value)
        for path, value in canonical_fields(acme()).items() if path == "currency" or defaults.get(path) != value
    ]
    assert _fields(provider.read_audit("acme")) == list(reversed(expected))
    assert len(expected) > 30
    assert _fields(provider.read_audit("acme", limit=2)) == list(reversed(expected))[:2]


def test_the_audit_of_a_key_created_again_finds_a_field_its_first_life_set(provider: Provider) -> None:
    """The newest create of a key may leave a field at its default: the record of that field
    is then the one an earlier write under the key made, as if each field were its own row."""
    provider.create("acme", small(status="penalty"), AUDIT)
    provider.delete("acme", 1, AUDIT)
    provider.create("acme", small(channels=3), AUDIT)
    first = ("acme", "create", "status", None, "penalty")
    assert _fields(provider.read_audit("acme", limit=1, field="status")) == [first]
    assert _fields(provider.read_audit("acme", field="channels")) == [("acme", "create", "channels", None, 3)]
    latest = provider.latest_audit(["acme"], "status")
    assert [(key, *_fields([record])[0]) for key, record in latest.items()] == [("acme", *first)]


def test_update_records_one_record_per_changed_field(provider: Provider) -> None:
    provider.create("acme", acme(), AUDIT)
    changed = acme(
        debit_limit=Decimal("750.00"),
        config={**ACME["config"], "tags": ["wholesale", "us-east", "wholesale-eu"]},
        address={**ACME["address"], "city": "Hoboken"},
    )
    context = AuditContext(actor="dana", commit=None, plan_id=None)
    provider.update("acme", changed, 1, context)
    records = provider.read_audit("acme", limit=3)
    assert sorted(_fields(records)) == [
        ("acme", "update", "address.city", "Weehawken", "Hoboken"),
        ("acme", "update", "config.tags", ["us-east", "wholesale"], ["us-east", "wholesale", "wholesale-eu"]),
        ("acme", "update", "debit_limit", "25000.00", "750.00"),
    ]
    assert {(record.actor, record.commit, record.plan_id) for record in records} == {("dana", None, None)}


def test_an_equal_amount_in_another_spelling_is_not_a_change(provider: Provider) -> None:
    provider.create("acme", small(debit_limit=Decimal("500.00")), AUDIT)
    provider.update("acme", small(debit_limit=Decimal("500.0"), channels=1), 1, AUDIT)
    assert _fields(provider.read_audit("acme", limit=1)) == [("acme", "update", "channels", 0, 1)]


def test_audit_of_deactivate_rename_and_delete(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    provider.deactivate("acme", 1, AUDIT)
    provider.rename("acme", "acme-telecom", 2, AUDIT)
    provider.delete("acme-telecom", 3, AUDIT)
    records = provider.read_audit()
    assert _fields(records[:2]) == [
        ("acme-telecom", "delete", None, canonical_document(small(status="inactive")), None),
        ("acme-telecom", "rename", None, "acme", "acme-telecom"),
    ]
    assert _fields(provider.read_audit("acme")) == [
        ("acme", "deactivate", "status", "active", "inactive"),
        ("acme", "create", "currency", None, "USD"),
    ]
    assert len(provider.read_audit(limit=2)) == 2


def test_audit_of_one_field(provider: Provider) -> None:
    provider.create("acme", small(status="penalty"), AUDIT)
    provider.update("acme", small(status="penalty", channels=2), 1, AUDIT)
    provider.create("globex", small(status="active", channels=4), AUDIT)
    assert _fields(provider.read_audit("acme", limit=1, field="status")) == [("acme", "create", "status", None, "penalty")]
    assert _fields(provider.read_audit(field="channels")) == [
        ("globex", "create", "channels", None, 4), ("acme", "update", "channels", 0, 2),
    ]
    assert provider.read_audit("acme", field="debit_limit") == []


def test_a_refused_write_leaves_no_audit_record(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    with pytest.raises(ProviderError):
        provider.update("acme", small(currency="EUR", channels=9), 1, AUDIT)
    with pytest.raises(ConflictError) as caught:
        provider.update("acme", small(channels=9), 7, AUDIT)
    assert str(caught.value) == (
        "acme: the live record is at version 1, the plan expected version 7: "
        "it changed since it was read; re-plan"
    )
    assert [record.action for record in provider.read_audit()] == ["create"]


# --- writes in a batch ------------------------------------------------------------------------


def test_a_batch_of_writes_is_written_as_each_would_be_alone(provider: Provider) -> None:
    provider.create("acme", small(channels=3), AUDIT)
    provider.create("globex", small(channels=4), AUDIT)
    overridden = AuditContext(actor="dana", commit=None, plan_id=None, note="penalty lifted by --lift-penalty")
    outcomes = provider.write_many([
        Write("acme", small(channels=30), 1, AUDIT),
        Write("initech", small(channels=5, debit_limit=Decimal("10.50")), None, AUDIT),
        Write("globex", small(channels=40, status="inactive"), 1, overridden),
    ])
    assert outcomes == [None, None, None]
    live = provider.read()
    assert {key: (record.version, record.customer) for key, record in live.items()} == {
        "acme": (2, small(channels=30)),
        "globex": (2, small(channels=40, status="inactive")),
        "initech": (1, small(channels=5, debit_limit=Decimal("10.50"))),
    }
    assert sorted(_fields(provider.read_audit(limit=6))) == [
        ("acme", "update", "channels", 3, 30),
        ("globex", "update", "channels", 4, 40),
        ("globex", "update", "status", "active", "inactive"),
        ("initech", "create", "channels", None, 5),
        ("initech", "create", "currency", None, "USD"),
        ("initech", "create", "debit_limit", None, "10.50"),
    ]
    notes = {(record.key, record.note) for record in provider.read_audit(limit=6)}
    assert notes == {("acme", None), ("initech", None), ("globex", "penalty lifted by --lift-penalty")}


def test_a_batch_of_creates_made_before_its_transaction_whose_key_was_taken_since_writes_the_others(
    provider: Provider,
) -> None:
    """A batch of creates alone (a bulk apply's: what the provider makes of it is made
    before its transaction, `prepare_writes`), one of whose keys was created since: that
    one fails alone, the others are written."""
    writes = [Write(key, small(channels=2), None, AUDIT) for key in ("acme", "globex", "initech")]
    prepared = provider.prepare_writes(writes)
    provider.create("globex", small(channels=1), AUDIT)
    outcomes = provider.write_many(writes, prepared)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ConflictError) and str(outcomes[1]).startswith("globex: ")
    live = provider.read()
    assert {key: (record.version, record.customer.channels) for key, record in live.items()} == {
        "acme": (1, 2), "globex": (1, 1), "initech": (1, 2),
    }
    assert sorted(record.key for record in provider.read_audit() if record.field == "channels") == ["acme", "globex", "initech"]


def test_a_write_of_a_batch_that_fails_fails_alone_with_its_own_message(provider: Provider) -> None:
    for key in ("acme", "globex", "initech"):
        provider.create(key, small(channels=1), AUDIT)
    outcomes = provider.write_many([
        Write("acme", small(channels=2), 1, AUDIT),
        Write("globex", small(channels=2), 7, AUDIT),  # the plan expected another version
        Write("initech", small(channels=2, currency="EUR"), 1, AUDIT),  # the platform refuses it
        Write("acme-two", small(channels=2), None, AUDIT),
        Write("acme", small(channels=9), None, AUDIT),  # created meanwhile (here: just above)
    ])
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], ConflictError) and str(outcomes[1]) == (
        "globex: the live record is at version 1, the plan expected version 7: it changed since it was read; re-plan"
    )
    assert isinstance(outcomes[2], ProviderError) and not isinstance(outcomes[2], ConflictError)
    assert str(outcomes[2]).startswith("initech: the platform refused the write: ")
    assert isinstance(outcomes[4], ConflictError) and str(outcomes[4]).startswith("acme: ")
    live = provider.read()
    assert {key: (record.version, record.customer.channels) for key, record in live.items()} == {
        "acme": (2, 2), "globex": (1, 1), "initech": (1, 1), "acme-two": (1, 2),
    }
    written = [(record.key, record.action) for record in provider.read_audit() if record.field in ("channels", None)]
    assert sorted(written[:2]) == [("acme", "update"), ("acme-two", "create")]


# --- lease lock -----------------------------------------------------------------------------


def test_a_held_lock_is_refused_to_another_holder(provider: Provider) -> None:
    lease = provider.acquire_lock("alice@ci", timedelta(minutes=5))
    assert provider.lock_status() == lease
    with pytest.raises(LockHeld) as caught:
        provider.acquire_lock("bob@laptop", timedelta(minutes=5))
    until = lease.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert str(caught.value) == (
        f"the lock on {provider.describe().target} is held by alice@ci until {until}; "
        "wait until it is released or expires, then try again"
    )


def test_an_expired_lock_is_taken_over(provider: Provider) -> None:
    stale = provider.acquire_lock("crashed-run", timedelta(milliseconds=100))
    time.sleep(0.2)
    assert provider.lock_status() is None
    lease = provider.acquire_lock("next-run", timedelta(minutes=5))
    assert (lease.holder, provider.lock_status()) == ("next-run", lease)
    with pytest.raises(LockHeld) as caught:
        provider.renew_lock(stale, timedelta(minutes=5))
    until = lease.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert str(caught.value) == (
        f"the lock on {provider.describe().target} held by crashed-run was lost: "
        f"it is held by next-run until {until}"
    )
    provider.release_lock(stale)  # not ours any more: does nothing
    assert provider.lock_status() == lease


def _skew(provider: Provider, behind: timedelta) -> None:
    """Set the provider's own clock BEHIND the real time (where it keeps one)."""
    for holder in (provider, getattr(provider, "state", None)):
        if hasattr(holder, "_clock"):
            holder._clock = lambda: datetime.now(UTC) - behind


def test_a_holder_whose_clock_is_behind_keeps_its_lease(provider: Provider, spec: Any) -> None:
    # The store's clock decides expiry: a client two minutes slow does not hand its lease
    # to the next applier after 60 s of a 60 s lease it took "two minutes ago".
    _skew(provider, timedelta(minutes=2))
    lease = provider.acquire_lock("slow-clock@ci", timedelta(seconds=60))
    assert lease.expires_at > datetime.now(UTC) + timedelta(seconds=50)
    with spec.make() as other:
        with pytest.raises(LockHeld):
            other.acquire_lock("bob@laptop", timedelta(seconds=60))
        assert other.lock_status() == lease


def test_renew_extends_the_lease(provider: Provider) -> None:
    lease = provider.acquire_lock("alice@ci", timedelta(milliseconds=300))
    renewed = provider.renew_lock(lease, timedelta(minutes=5))
    assert (renewed.holder, renewed.token) == (lease.holder, lease.token)
    assert renewed.expires_at > lease.expires_at + timedelta(minutes=4)
    time.sleep(0.4)
    assert provider.lock_status() == renewed


def test_release_frees_the_lock(provider: Provider) -> None:
    lease = provider.acquire_lock("alice@ci", timedelta(minutes=5))
    provider.release_lock(lease)
    assert provider.lock_status() is None
    with pytest.raises(LockHeld) as caught:
        provider.renew_lock(lease, timedelta(minutes=5))
    assert str(caught.value) == f"the lock on {provider.describe().target} held by alice@ci was lost: it is free"
    assert provider.acquire_lock("bob", timedelta(minutes=5)).holder == "bob"


def test_the_lock_is_shared_between_provider_instances(provider: Provider, spec: Any) -> None:
    lease = provider.acquire_lock("alice@ci", timedelta(minutes=5))
    with spec.make() as other:
        with pytest.raises(LockHeld) as caught:
            other.acquire_lock("bob", timedelta(minutes=5))
        assert other.lock_status() == lease
    until = lease.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert str(caught.value) == (
        f"the lock on {provider.describe().target} is held by alice@ci until {until}; "
        "wait until it is released or expires, then try again"
    )


# --- two processes --------------------------------------------------------------------------


def _update_from_another_process(spec: Any, channels: int, version: int, barrier: Any, results: Any) -> None:
    with spec.make() as provider:
        provider.open()
        barrier.wait()
        try:
            provider.update("acme", small(channels=channels), version, AUDIT)
        except ConflictError as exc:
            results.put(("conflict", str(exc)))
        else:
            results.put(("won", channels))


def test_of_two_processes_writing_the_same_version_exactly_one_wins(provider: Provider, spec: Any) -> None:
    provider.create("acme", small(), AUDIT)
    context = multiprocessing.get_context("fork")  # children build their own provider
    for round_ in range(3):
        version = round_ + 1
        barrier, results = context.Barrier(2), context.Queue()
        workers = [
            context.Process(target=_update_from_another_process, args=(spec, channels, version, barrier, results))
            for channels in (100 + round_, 200 + round_)
        ]
        for worker in workers:
            worker.start()
        outcomes = sorted(results.get(timeout=60) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        (lost, loser_message), (won, channels) = outcomes
        assert (lost, won) == ("conflict", "won")
        assert loser_message == (
            f"acme: the live record is at version {version + 1}, the plan expected version {version}: "
            "it changed since it was read; re-plan"
        )
        live = provider.read()["acme"]
        assert (live.version, live.customer.channels) == (version + 1, channels)


def test_the_latest_audit_record_of_a_field_for_each_customer(provider: Provider) -> None:
    provider.create("acme", small(status="penalty"), AUDIT)
    provider.update("acme", small(status="active", channels=2), 1, AUDIT)
    provider.create("globex", small(status="penalty", channels=4), AUDIT)
    provider.create("kiwi", small(channels=4), AUDIT)  # status at its default: no record of it
    latest = provider.latest_audit(["acme", "globex", "kiwi", "nobody"], "status")
    assert {key: (record.action, record.before, record.after) for key, record in latest.items()} == {
        "acme": ("update", "penalty", "active"), "globex": ("create", None, "penalty"),
    }
