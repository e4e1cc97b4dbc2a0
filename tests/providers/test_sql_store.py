"""What only the SQL live stores do, beside the shared contract (test_contract.py): their
platform rules as database constraints, transactions, schema migrations, and a record the
platform wrote behind the reconciler. Each test runs on SQLite and on a real PostgreSQL,
and may reach behind the provider with plain SQL (`sql_spec.engine()`)."""

from __future__ import annotations

import datetime as dt
import pickle
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import given, settings
from live_stores import ProviderSpec
from sqlalchemy import Engine, event, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from store_versions import downgrade, insert_unchecked

from reconciler.errors import ConflictError, ProviderError
from reconciler.model.customer import Customer
from reconciler.model.fields import canonical_document, digest, flatten, packed_document
from reconciler.providers import create_provider, rows
from reconciler.providers import sql as sql_module
from reconciler.providers.base import (
    AuditContext,
    LiveCustomer,
    LiveSummary,
    Provider,
    Run,
    UnreadableCustomer,
    Write,
)
from reconciler.providers.schema import SCHEMA_VERSION, _money, audit, customer
from reconciler.providers.sql import IN_STEP, SUMMARY

AUDIT = AuditContext(actor="ci@runner-7", commit="8d41c0b", plan_id="3f9c2e1a")
NOW = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def small(**fields: Any) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


@pytest.fixture
def provider(sql_spec: ProviderSpec) -> Iterator[Provider]:
    with sql_spec.make() as made:
        yield made


# --- a record the platform wrote -------------------------------------------------------------


def test_a_customer_written_by_the_platform_is_unmanaged_until_updated(provider: Provider, sql_spec: Any) -> None:
    provider.create("acme", small(), AUDIT)
    engine = sql_spec.engine()
    with engine.begin() as connection:
        connection.execute(update(customer).values(managed=False))
    engine.dispose()
    found = provider.read()["acme"]
    assert (found.managed, found.version) == (False, 2)  # a write outside the reconciler bumps the version too
    assert provider.update("acme", small(channels=1), 2, AUDIT).managed is True
    assert provider.read()["acme"].managed is True


# --- the platform's rules, enforced by the store itself -------------------------------------


def test_currency_change_is_refused_by_the_store(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    with pytest.raises(ProviderError) as caught:
        provider.update("acme", small(currency="EUR"), 1, AUDIT)
    assert str(caught.value) == (
        "acme: the platform refused the write: currency is fixed once a customer exists (USD -> EUR)"
    )
    assert isinstance(caught.value.__cause__, DBAPIError)  # the database refused, not Python
    assert provider.read()["acme"].version == 1
    assert [record.action for record in provider.read_audit()] == ["create"]


def test_currency_change_in_plain_sql_is_refused(provider: Provider, sql_spec: Any) -> None:
    provider.create("acme", small(), AUDIT)
    engine = sql_spec.engine()
    try:
        with pytest.raises(DBAPIError, match="customer_currency_fixed"), engine.begin() as connection:
            connection.execute(update(customer).where(customer.c.key == "acme").values(currency="EUR"))
        with engine.begin() as connection:  # writing the same currency again is fine
            connection.execute(update(customer).values(currency="USD"))
    finally:
        engine.dispose()
    assert provider.read()["acme"].customer.currency == "USD"


def test_negative_channels_are_refused_by_the_store(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    unchecked = small().model_copy(update={"channels": -1})  # past the model's own check
    with pytest.raises(ProviderError) as caught:
        provider.update("acme", unchecked, 1, AUDIT)
    assert str(caught.value) == "acme: the platform refused the write: channels cannot be negative (-1)"
    with pytest.raises(ProviderError) as caught:
        provider.create("globex", unchecked, AUDIT)
    assert str(caught.value) == "globex: the platform refused the write: channels cannot be negative (-1)"
    assert sorted(provider.read()) == ["acme"]


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"channels": -1}, "customer_channels_not_negative"),
        ({"flow_speed": Decimal("-0.5")}, "customer_flow_speed_not_negative"),
        ({"minimum_payment": Decimal(-1)}, "customer_minimum_payment_not_negative"),
        ({"status": "suspended"}, "customer_status_valid"),
    ],
)
def test_rules_in_plain_sql_are_refused(provider: Provider, sql_spec: Any, values: dict[str, Any], rule: str) -> None:
    provider.create("acme", small(), AUDIT)
    engine = sql_spec.engine()
    try:
        with pytest.raises(DBAPIError, match=rule), engine.begin() as connection:
            connection.execute(update(customer).values(**values))
    finally:
        engine.dispose()


def test_an_invalid_status_is_refused_with_the_rule(provider: Provider) -> None:
    provider.create("acme", small(), AUDIT)
    with pytest.raises(ProviderError) as caught:
        provider.update("acme", small().model_copy(update={"status": "suspended"}), 1, AUDIT)
    assert str(caught.value) == (
        "acme: the platform refused the write: "
        "status must be one of active, inactive, penalty, pending_approval (suspended)"
    )


# --- transactions ---------------------------------------------------------------------------


def test_writes_in_a_transaction_commit_together(provider: Provider, sql_spec: Any) -> None:
    with provider.transaction():
        provider.create("acme", small(), AUDIT)
        provider.update("acme", small(channels=3), 1, AUDIT)
        assert provider.read()["acme"].version == 2  # sees its own writes
        with sql_spec.make() as other:
            assert other.read() == {}  # nothing committed yet
    with sql_spec.make() as other:
        assert other.read()["acme"].customer.channels == 3


def test_an_error_out_of_a_transaction_undoes_all_of_it(provider: Provider) -> None:
    with pytest.raises(RuntimeError), provider.transaction():
        provider.create("acme", small(), AUDIT)
        raise RuntimeError("boom")
    assert provider.read() == {}
    assert provider.read_audit() == []


def test_a_refused_write_inside_a_transaction_leaves_the_others(provider: Provider) -> None:
    provider.create("globex", small(), AUDIT)
    with provider.transaction():
        provider.create("acme", small(), AUDIT)
        with pytest.raises(ProviderError):
            provider.update("globex", small(currency="EUR"), 1, AUDIT)
        with pytest.raises(ConflictError) as caught:
            provider.update("globex", small(), 9, AUDIT)
        assert str(caught.value) == (
            "globex: the live record is at version 1, the plan expected version 9: "
            "it changed since it was read; re-plan"
        )
        provider.update("globex", small(channels=2), 1, AUDIT)
    live = provider.read()
    assert (live["acme"].version, live["globex"].version, live["globex"].customer.channels) == (1, 2, 2)


# --- schema migrations ----------------------------------------------------------------------


def _indexes(sql_spec: Any) -> list[str]:
    engine = sql_spec.engine()
    try:
        return sorted(index["name"] or "" for index in inspect(engine).get_indexes("audit"))
    finally:
        engine.dispose()


def test_opening_an_older_store_migrates_it(sql_spec: Any) -> None:
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
    downgrade(sql_spec, 1)
    assert _indexes(sql_spec) == []

    with sql_spec.make() as provider:
        state = provider.open()
        assert (state.created, state.schema_version, state.migrated_from) == (False, SCHEMA_VERSION, 1)
        assert provider.read()["acme"].customer == small(channels=4)
        assert len(provider.read_audit("acme")) == 2
    assert _indexes(sql_spec) == ["audit_by_customer"]
    with sql_spec.make() as provider:
        assert provider.open().migrated_from is None


def test_a_store_of_schema_3_gains_the_runs_table_and_keeps_its_customers(sql_spec: Any) -> None:
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
    downgrade(sql_spec, 3)
    with sql_spec.make() as provider:
        state = provider.open()
        assert (state.schema_version, state.migrated_from, state.notes) == (SCHEMA_VERSION, 3, ())
        assert provider.read()["acme"].customer == small(channels=4)
        run = Run(NOW, NOW, "applied", "agent", "8d41c0b", "3f9c2e1a")
        provider.record_run(run)
        assert provider.read_runs(NOW) == [run]


def test_a_row_that_breaks_a_rule_of_schema_3_is_kept_and_reported(sql_spec: Any) -> None:
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
        provider.create("kiwi", small(channels=5), AUDIT)
    downgrade(sql_spec, 2)
    dialect = sql_spec.engine().dialect.name
    insert_unchecked(sql_spec, f"UPDATE customer SET tax_percent = {_money(200, dialect)} WHERE key = 'acme'")
    with sql_spec.make() as provider:
        state = provider.open()
        assert state.migrated_from == 2
        assert state.notes[1:] == (
            "customer acme breaks a rule the store now enforces: tax_percent is between 0 and 100; fix it on the "
            "platform, or overwrite it from its file with apply --repair acme",
        )
        assert state.notes[0].startswith("verification: the columns verified_email and verified_mobile are now")
        live = provider.read()
    acme, kiwi = live["acme"], live["kiwi"]
    assert isinstance(acme, UnreadableCustomer)
    assert [problem.field for problem in acme.problems] == ["tax_percent"]
    assert isinstance(kiwi, LiveCustomer) and kiwi.customer == small(channels=5)


CUT = "[" * 57 + "..."  # a value's first characters, as a problem shows them


@pytest.mark.parametrize(("depth", "problem"), [
    (5000, ("config.tags", f"'{CUT}'", "the store's tags column cannot hold it: nested too deeply")),
    (900, ("config.tags[0]", CUT, f"{CUT} is not text")),
], ids=["past any reader", "read, and refused"])
def test_a_json_column_nested_deeply_is_a_problem_of_that_record(
    sql_spec: Any, depth: int, problem: tuple[str, str, str]
) -> None:
    """A value written past the store's rules, nested deeper than a JSON reader recurses
    (or nearly): the record is unreadable and says where, the others are read (it was a
    traceback, from psycopg's fetch on PostgreSQL)."""
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
        provider.create("kiwi", small(channels=5), AUDIT)
    deep = "[" * depth + "]" * depth
    cast = "::jsonb" if sql_spec.engine().dialect.name == "postgresql" else ""
    insert_unchecked(sql_spec, f"UPDATE customer SET tags = '{deep}'{cast} WHERE key = 'acme'")
    with sql_spec.make() as provider:
        live = provider.read()
    acme, kiwi = live["acme"], live["kiwi"]
    assert isinstance(acme, UnreadableCustomer)
    assert [(found.field, found.value, found.reason) for found in acme.problems] == [problem]
    assert isinstance(kiwi, LiveCustomer) and kiwi.customer == small(channels=5)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a = " + "[" * 500 + "]" * 500, "the TOML text nests too deep to read (over 400 levels, or a key of over 1000 parts); flatten it"),
        ("a = " + "9" * 4301, "the TOML text holds a number too long to read (over 4300 digits); shorten it"),
    ],
    ids=["nested", "long number"],
)
def test_vars_past_the_toml_reader_s_limits_make_that_record_unreadable(sql_spec: Any, text: str, reason: str) -> None:
    """A `vars` text written past the reconciler, nested deeper or holding a longer number
    than the TOML reader reads: that record is unreadable, saying why (it was a traceback)."""
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
        provider.create("kiwi", small(channels=5), AUDIT)
    insert_unchecked(sql_spec, f"UPDATE customer SET vars = '{text}' WHERE key = 'acme'")
    with sql_spec.make() as provider:
        live = provider.read()
    acme, kiwi = live["acme"], live["kiwi"]
    assert isinstance(acme, UnreadableCustomer)
    assert [(found.field, found.reason) for found in acme.problems] == [("config.vars", reason)]
    assert isinstance(kiwi, LiveCustomer) and kiwi.customer == small(channels=5)


def test_runs_are_kept_for_a_while_then_forgotten(sql_spec: Any) -> None:
    with sql_spec.make() as provider:
        old = Run(NOW - dt.timedelta(days=500), NOW - dt.timedelta(days=500), "applied", "agent", None, None)
        provider.record_run(old)
        recent = Run(NOW, NOW, "no_changes", "agent", None, None)
        provider.record_run(recent)
        assert provider.read_runs(NOW - dt.timedelta(days=1000)) == [recent]


def test_a_store_newer_than_the_code_is_refused(sql_spec: Any) -> None:
    with sql_spec.make() as provider:
        provider.open()
    engine = sql_spec.engine()
    with engine.begin() as connection:
        connection.execute(text("UPDATE schema_meta SET schema_version = 99"))
    engine.dispose()
    with sql_spec.make() as provider, pytest.raises(ProviderError) as caught:
        provider.read()
    assert str(caught.value) == (
        f"the live store is at schema version 99, newer than this reconciler knows ({SCHEMA_VERSION}); "
        "upgrade reconciler"
    )


def test_the_store_is_created_where_the_options_say(tmp_path: Path) -> None:
    with create_provider("sqlite", {"path": "deep/er/live.db"}, environ={}, root=tmp_path) as provider:
        assert not (tmp_path / "deep").exists()  # nothing happens until first use
        provider.read()
        assert provider.describe().target == "sqlite deep/er/live.db"
    assert (tmp_path / "deep/er/live.db").is_file()


def test_a_store_of_schema_5_gains_the_index_a_plan_scans(sql_spec: Any) -> None:
    """What `read_differing` reads of every row is an index of its own: the scan reads the
    index, not the table (on SQLite, a covering index: the table is not touched)."""
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
    downgrade(sql_spec, 5)
    with sql_spec.make() as provider:
        state = provider.open()
        assert (state.schema_version, state.migrated_from) == (SCHEMA_VERSION, 5)
        assert provider.read_differing({}).records["acme"].customer == small(channels=4)
    engine = sql_spec.engine()
    try:
        assert "customer_summary" in {index["name"] for index in inspect(engine).get_indexes("customer")}
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                for statement in (SUMMARY, IN_STEP["sqlite"]):
                    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").fetchall()
                    assert "USING COVERING INDEX customer_summary" in plan[0][-1]
    finally:
        engine.dispose()


def test_a_batch_of_writes_takes_a_few_statements_whatever_its_size(sql_spec: ProviderSpec) -> None:
    """`write_many` on a SQL store: the batch's rows read at once, the inserts, the updates
    and the audit rows each one executemany, whatever the number of writes; and what they
    wrote is what the writes one by one write (tests/providers/test_contract.py)."""
    with sql_spec.make() as provider:
        provider.write_many([Write(f"c{number:03d}", small(channels=1), None, AUDIT) for number in range(60)])
        statements: list[tuple[str, bool]] = []

        def seen(_conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, executemany: bool) -> None:
            statements.append((statement.split()[0].upper(), executemany))

        event.listen(Engine, "before_cursor_execute", seen)
        try:
            outcomes = provider.write_many([
                *(Write(f"c{number:03d}", small(channels=2, currency="USD"), 1, AUDIT) for number in range(60)),
                *(Write(f"n{number:03d}", small(channels=3), None, AUDIT) for number in range(40)),
            ])
        finally:
            event.remove(Engine, "before_cursor_execute", seen)
        assert outcomes == [None] * 100
        writes = [(verb, many) for verb, many in statements if verb in ("INSERT", "UPDATE")]
        assert writes == [("INSERT", True), ("UPDATE", True), ("INSERT", True)]
        live = provider.read()
        assert {live[f"c{number:03d}"].version for number in range(60)} == {2}
        assert len([record for record in provider.read_audit() if record.action == "create"]) == 60 * 2 + 40 * 2
        assert {(record.field, record.before, record.after) for record in provider.read_audit() if record.action == "update"} == {
            ("channels", 1, 2)
        }


# --- the rows ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(document=customers)
def test_a_row_made_from_the_canonical_document_holds_the_model_s_values(document: dict[str, Any]) -> None:
    """A row is written from a customer's canonical document (a create the plan holds as
    that needs no customer made): each column holds what the model's own form holds, of
    the same type (the amounts as `Decimal`, for `Money`)."""
    customer_ = Customer.model_validate(document)
    written = rows.document_from_row(rows.row_from_canonical(canonical_document(customer_)))
    model = customer_.model_dump(by_alias=True)
    assert written == model
    assert {path: type(value) for path, value in flatten(written).items()} == {
        path: type(value) for path, value in flatten(model).items()
    }


# --- the audit's rows -----------------------------------------------------------------------


def _audit_rows(sql_spec: Any) -> list[tuple[str, str | None, Any, Any]]:
    engine = sql_spec.engine()
    try:
        with engine.connect() as connection:
            query = select(audit.c.action, audit.c.field, audit.c.before_value, audit.c.after_value).order_by(audit.c.id)
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def test_a_create_is_one_audit_row_of_the_fields_it_set(provider: Provider, sql_spec: Any) -> None:
    """One row a create, whether written alone or in a batch: 100,000 creates write 100,000
    rows, not 2.5 million. Its fields are [path, value] pairs, in order on every store."""
    provider.create("acme", small(channels=50, debit_limit=Decimal("500.00")), AUDIT)
    provider.write_many([Write(key, small(channels=2), None, AUDIT) for key in ("globex", "kiwi")])
    provider.update("acme", small(channels=51, debit_limit=Decimal("500.00")), 1, AUDIT)
    assert _audit_rows(sql_spec) == [
        ("create", None, None, [["channels", 50], ["debit_limit", "500.00"], ["currency", "USD"]]),
        ("create", None, None, [["channels", 2], ["currency", "USD"]]),
        ("create", None, None, [["channels", 2], ["currency", "USD"]]),
        ("update", "channels", 50, 51),
    ]


def test_audit_rows_of_a_create_as_an_earlier_release_wrote_them_read_as_they_are(provider: Provider, sql_spec: Any) -> None:
    """Before one row a create, a create wrote a row a field; and a row written by hand
    need not hold pairs: each such row is one record, as it says."""
    provider.open()
    engine = sql_spec.engine()
    shared = {"at": NOW, "actor": "dana", "customer_key": "acme", "action": "create", "before_value": None}
    try:
        with engine.begin() as connection:
            connection.execute(insert(audit), [
                {**shared, "field": "currency", "after_value": "USD"},
                {**shared, "field": "channels", "after_value": 4},
                {**shared, "field": None, "after_value": [["status", "penalty"], ["channels"]]},
                {**shared, "field": None, "after_value": {"channels": 5}},
            ])
    finally:
        engine.dispose()
    records = [(record.field, record.after) for record in provider.read_audit("acme")]
    assert records == [(None, {"channels": 5}), (None, [["status", "penalty"], ["channels"]]), ("channels", 4), ("currency", "USD")]
    assert [record.after for record in provider.read_audit("acme", field="channels")] == [4]
    assert provider.latest_audit(["acme"], "currency")["acme"].after == "USD"


def test_an_audit_value_no_reader_reads_is_that_record_s_text_not_a_failed_read(provider: Provider, sql_spec: Any) -> None:
    """The audit is the store's text, and anyone with access may write it: a JSON value
    nested deeper than Python decodes (and on SQLite, text that is not JSON at all) is read
    as the text it is, for that record alone; the records around it read as ever."""
    provider.create("acme", small(channels=4), AUDIT)
    deep = "[" * 3000 + "]" * 3000
    hand_written = [deep, "not json"] if sql_spec.name == "sqlite" else [deep]
    engine = sql_spec.engine()
    shared = {"at": NOW, "actor": "dana", "customer_key": "acme", "action": "update", "field": "status"}
    try:
        with engine.begin() as connection:
            for text_ in hand_written:
                connection.execute(
                    insert(audit).values(**shared, before_value=text("'\"active\"'"), after_value=text(f"'{text_}'"))
                )
    finally:
        engine.dispose()
    records = provider.read_audit("acme")
    assert [(record.field, record.before, record.after) for record in records] == [
        *(("status", "active", text_) for text_ in reversed(hand_written)),
        ("currency", None, "USD"), ("channels", None, 4),
    ]
    assert provider.latest_audit(["acme"], "status")["acme"].after == hand_written[-1]


def test_a_batch_reads_whole_only_the_rows_not_read_for_the_plan(sql_spec: ProviderSpec) -> None:
    """Under the write lock a batch reads each row's version and digest; a row the plan read
    (and that is still as read) is known from that, any other is read whole, and the audit
    records what each held before, either way."""
    with sql_spec.make() as provider:
        provider.write_many([Write(key, small(channels=1), None, AUDIT) for key in ("a", "b", "c", "d")])
        provider.read(["a", "b"])  # as a plan reads the rows it updates
        engine = sql_spec.engine()
        with engine.begin() as connection:  # and a write outside the reconciler to one of them
            connection.execute(update(customer).where(customer.c.key == "b").values(channels=7))
        engine.dispose()
        selects: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(Engine, "before_cursor_execute", seen)
        try:
            outcomes = provider.write_many([
                Write("a", small(channels=2), 1, AUDIT), Write("b", small(channels=2), 2, AUDIT),
                Write("c", small(channels=2), 1, AUDIT), Write("d", small(channels=2), 1, AUDIT),
            ])
        finally:
            event.remove(Engine, "before_cursor_execute", seen)
        assert outcomes == [None] * 4
        assert len(selects) == 2 and "notes" not in selects[0] and "notes" in selects[1]
        updates = {record.key: (record.field, record.before, record.after) for record in provider.read_audit() if record.action == "update"}
        assert updates == {"a": ("channels", 1, 2), "b": ("channels", 7, 2), "c": ("channels", 1, 2), "d": ("channels", 1, 2)}


def test_each_write_of_a_batch_is_audited_with_its_own_context_in_the_writes_order(provider: Provider) -> None:
    """The audit columns a batch's writes share are written once for each run of writes with
    the same context: a write with an operator's note between two without keeps its note, and
    the records keep the order of the writes."""
    noted = AuditContext(actor="dana", commit="8d41c0b", plan_id="3f9c2e1a", note="lifted: penalty (--lift-penalty)")
    provider.write_many([
        Write("a", small(channels=1), None, AUDIT), Write("b", small(channels=2), None, noted),
        Write("c", small(channels=3), None, AUDIT),
    ])
    provider.write_many([Write("b", small(channels=4), 1, AUDIT), Write("a", small(channels=5), 1, noted)])
    records = list(reversed(provider.read_audit()))  # oldest first
    assert [record.key for record in records if record.field == "currency"] == ["a", "b", "c"]
    assert {(record.key, record.action, record.actor, record.note) for record in records} == {
        ("a", "create", "ci@runner-7", None), ("b", "create", "dana", noted.note), ("c", "create", "ci@runner-7", None),
        ("b", "update", "ci@runner-7", None), ("a", "update", "dana", noted.note),
    }
    assert [record.key for record in records if record.action == "update"] == ["b", "a"]
    assert {record.at for record in records[:-2]} == {records[0].at} and {record.commit for record in records} == {"8d41c0b"}


def test_summaries_give_the_digest_only_while_the_reconciler_wrote_the_row_last(provider: Provider, sql_spec: Any) -> None:
    for key in ("acme", "globex", "kiwi"):
        provider.create(key, small(channels=4), AUDIT)
    insert_unchecked(sql_spec, "UPDATE customer SET channels = 5 WHERE key = 'globex'")  # a hand edit
    summaries = provider.read_summaries(["acme", "globex", "kiwi", "nobody"])
    assert set(summaries) == {"acme", "globex", "kiwi"}
    assert summaries["acme"] == LiveSummary("acme", 1, True, digest(small(channels=4)))
    assert summaries["globex"] == LiveSummary("globex", 2, True, None)
    provider.deactivate("kiwi", 1, AUDIT)
    assert provider.read_summaries(["kiwi"])["kiwi"] == LiveSummary("kiwi", 2, False, None)  # written without a digest


def test_the_fleet_in_step_is_told_by_one_row_as_the_rows_one_by_one_tell_it(
    sql_spec: ProviderSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read_differing` asks first for every described row at once (`IN_STEP`: the keys and
    the digests joined); where that row cannot tell (other keys, a value that is not text)
    the rows are compared one by one. Either way the same rows are read, the same in sync."""
    told: list[bool] = []
    in_step = sql_module._in_step

    def recorded(*args: Any) -> Any:
        found = in_step(*args)
        told.append(found is not None)
        return found

    monkeypatch.setattr(sql_module, "_in_step", recorded)
    with sql_spec.make() as provider:
        for number in range(5):
            provider.create(f"c{number}", small(channels=number + 1), AUDIT)
        digests = {f"c{number}": digest(small(channels=number + 1)) for number in range(5)}

        def read(wanted: dict[str, str]) -> tuple[list[str], list[str]]:
            told.clear()
            found = provider.read_differing(wanted)
            with monkeypatch.context() as one_by_one:
                one_by_one.setattr(sql_module, "_in_step", in_step)
                one_by_one.setattr(sql_module, "IN_STEP", {})
                alone = provider.read_differing(wanted)
            assert (found.in_sync, sorted(found.records)) == (alone.in_sync, sorted(alone.records))
            return sorted(found.in_sync), sorted(found.records)

        assert read(digests) == (["c0", "c1", "c2", "c3", "c4"], []) and told == [True]
        assert read({**digests, "c2": digest(small(channels=9))}) == (["c0", "c1", "c3", "c4"], ["c2"])
        assert told == [True]
        assert read({**digests, "c9": digests["c0"]}) == (["c0", "c1", "c2", "c3", "c4"], []) and told == [False]
        assert read({key: value for key, value in digests.items() if key != "c4"}) == (["c0", "c1", "c2", "c3"], ["c4"])
        assert told == [False]
        # A digest that is not one (another length), its version kept consistent by hand: the
        # row is not described, so it is read in full.
        engine = sql_spec.engine()
        try:
            with engine.begin() as connection:
                connection.execute(text(
                    "UPDATE customer SET digest = substr(digest, 2), version = version + 1, "
                    "digest_version = version + 1 WHERE key = 'c1'"
                ))
            assert read(digests) == (["c0", "c2", "c3", "c4"], ["c1"]) and told == [True]
            if engine.dialect.name == "sqlite":  # any type in any column: a key held as a blob
                with engine.begin() as connection:
                    connection.execute(text(
                        "UPDATE customer SET key = CAST(key AS BLOB), version = version + 1, "
                        "digest_version = version + 1 WHERE key = 'c3'"
                    ))
                found = provider.read_differing(digests)
                assert told[-1] is False
                assert "c3" not in found.in_sync
        finally:
            engine.dispose()


def _scans_running() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("reconciler-scan")]


def test_a_scan_begun_early_that_fails_is_reported_when_the_plan_asks_for_it(sql_spec: ProviderSpec) -> None:
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
    insert_unchecked(sql_spec, "ALTER TABLE customer RENAME COLUMN digest TO held")  # a store broken by hand
    with sql_spec.make() as provider:
        finish = provider.start_read_differing()
        finish.read_ahead({"acme": digest(small(channels=4))})  # while the fleet loads: nothing raised yet
        with pytest.raises(ProviderError) as refused:
            finish({"acme": digest(small(channels=4))})
    said = str(refused.value)  # the driver's own words, after the store's name: no traceback
    assert said.startswith(f"{provider.describe().target}: ")
    assert ("no such column: digest" if sql_spec.name == "sqlite" else 'column "digest" does not exist') in said


def test_a_scan_never_finished_ends_before_the_store_is_closed(sql_spec: ProviderSpec) -> None:
    """A plan whose fleet fails to load never asks for the scan it began: closing the
    provider waits for it, so no thread is left reading a store being closed."""
    with sql_spec.make() as provider:
        provider.create("acme", small(channels=4), AUDIT)
        provider.start_read_differing()
    assert _scans_running() == []


def test_the_rows_read_ahead_are_those_the_plan_will_read_and_their_answer(sql_spec: ProviderSpec) -> None:
    """`read_ahead` reads, after the scan, the rows of the digests given that the plan will
    read: those the store holds of another digest, or whose digest does not describe them
    (written outside the reconciler); not one in step, nor a key it holds no row of. What it
    read is what the plan gets for those keys (a row written since is the apply's to find
    stale, as after any read); a key not read ahead is read at the end, as written."""
    with sql_spec.make() as provider:
        for key in ("ahead", "later", "same", "hand"):
            provider.create(key, small(channels=1), AUDIT)
    insert_unchecked(sql_spec, "UPDATE customer SET notes = 'by hand' WHERE key = 'hand'")
    with sql_spec.make() as provider:
        read: list[list[str]] = []
        rows = provider._rows  # type: ignore[attr-defined]

        def counting(keys: Any) -> Any:
            read.append(sorted(keys))
            return rows(keys)

        provider._rows = counting  # type: ignore[attr-defined]
        pending = provider.start_read_differing()
        one, nine = digest(small(channels=1)), digest(small(channels=9))
        pending.read_ahead({"ahead": nine, "same": one, "hand": one, "none": nine})
        assert read == [["ahead", "hand"]]
        provider.update("ahead", small(channels=5), 1, AUDIT)
        provider.update("later", small(channels=6), 1, AUDIT)
        found = pending({"ahead": nine, "later": nine, "same": one, "hand": one})
        assert {key: (record.customer.channels, record.version) for key, record in found.records.items()} == {
            "ahead": (1, 1), "later": (6, 2), "hand": (1, 2),
        }
        assert found.in_sync == {"same"}
        # Read once: a later plan of the same provider reads every row anew.
        again = provider.start_read_differing()({"ahead": nine})
        assert again.records["ahead"].version == 2


def test_a_row_written_between_the_scan_and_the_plan_s_read_is_read_as_written(provider: Provider) -> None:
    """The scan and the reading of the rows that differ are two transactions: a row written
    between them, whichever side of the scan the write falls, is read as written."""
    provider.create("acme", small(channels=1), AUDIT)
    finish = provider.start_read_differing()
    provider.update("acme", small(channels=5), 1, AUDIT)
    read = finish({"acme": digest(small(channels=9))})
    assert (read.records["acme"].customer, read.records["acme"].version) == (small(channels=5), 2)


def test_a_scan_finished_is_let_go(provider: Provider) -> None:
    """A provider that plans again and again (a test's, an embedding program's) keeps no
    scan it finished with, nor its answer (the keys and digests of a whole fleet)."""
    provider.create("acme", small(channels=4), AUDIT)
    for _ in range(3):
        assert provider.start_read_differing()({"acme": digest(small(channels=4))}).in_sync == {"acme"}
    assert provider._scans == set()  # type: ignore[attr-defined]


def test_inside_a_transaction_nothing_is_read_beside_it(provider: Provider) -> None:
    """A transaction is one connection, in use: a read of what differs begun inside one is
    the read at once, when its digests come."""
    provider.create("acme", small(channels=4), AUDIT)
    with provider.transaction():
        finish = provider.start_read_differing()
        assert _scans_running() == []
        provider.update("acme", small(channels=5), 1, AUDIT)
        read = finish({"acme": digest(small(channels=5))})
    assert (read.in_sync, read.records) == (frozenset({"acme"}), {})


def test_an_update_of_a_row_as_read_takes_its_before_values_from_what_was_read(
    sql_spec: ProviderSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row still as the provider read it (the version read, its digest describing it)
    is not decoded again under the lock: the customer read from it gives the audit's before
    values. A row written since, by anyone, is decoded and its own values recorded."""
    decoded: list[str] = []
    decode_row = sql_module.rows.decode_row

    def counted(row: Any, dialect: Any) -> Any:
        decoded.append(str(row["key"]))
        return decode_row(row, dialect)

    with sql_spec.make() as provider, sql_spec.make() as elsewhere:
        for key in ("a", "b", "c"):
            provider.create(key, small(channels=1), AUDIT)
        provider.read_differing({})  # every row read in full: no digest is the desired one
        elsewhere.update("c", small(channels=5), 1, AUDIT)  # written since the read: version 2
        monkeypatch.setattr(sql_module.rows, "decode_row", counted)
        outcomes = provider.write_many([
            Write("a", small(channels=2), 1, AUDIT), Write("b", small(channels=3), 1, AUDIT),
            Write("c", small(channels=6), 2, AUDIT),
        ])
        assert outcomes == [None, None, None]
        assert decoded == ["c"]
        changed = {
            (record.key, record.before, record.after) for record in provider.read_audit()
            if record.action == "update" and record.field == "channels"
        }
        assert changed == {("a", 1, 2), ("b", 1, 3), ("c", 1, 5), ("c", 5, 6)}
        decoded.clear()  # what was read is forgotten once written: read again, or decoded
        assert provider.write_many([Write("a", small(channels=4), 2, AUDIT), Write("b", small(channels=4), 2, AUDIT)]) == [None, None]
        assert decoded == ["a", "b"]


# --- a bulk apply's creates made in a worker process --------------------------------------------


def _packed_creates(count: int, start: int = 0) -> list[Write]:
    writes = []
    for number in range(start, start + count):
        made = small(channels=number, notes=f"customer {number}", debit_limit=Decimal(f"{number}.50"))
        writes.append(Write.of_packed(f"n{number:03d}", packed_document(canonical_document(made)), digest(made), None, AUDIT))
    return writes


def test_a_write_pickles_as_it_was_given() -> None:
    """A write goes to the worker process as it is: as a customer, a document or packed."""
    made = small(channels=3, config={"paypal_email": "ap@acme.example"})
    document = canonical_document(made)
    writes = [
        Write("a", made, 2, AUDIT),
        Write.of_document("b", document, digest(made), None, AUDIT),
        Write.of_packed("c", packed_document(document), digest(made), None, AUDIT),
    ]
    for write in writes:
        again = pickle.loads(pickle.dumps(write))
        assert (again.key, again.expected_version, again.audit, again.canonical()) == (
            write.key, write.expected_version, write.audit, (document, digest(made)),
        )
        assert again == write


def test_a_bulk_apply_s_creates_are_made_in_a_worker_process_as_they_are_made_here(
    sql_spec: ProviderSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `PREPARE_APART_FROM` writes, a batch of creates' statements are made in a worker
    process, for the store's dialect named by its driver alone: the statements this process
    would make, value for value; and they write what the writes say."""
    monkeypatch.setattr(sql_module, "PREPARE_APART_FROM", 10)
    writes = _packed_creates(30)
    batches = [writes[start:start + 10] for start in range(0, 30, 10)]
    with sql_spec.make() as provider:
        assert isinstance(provider, sql_module.SqlProvider)
        monkeypatch.setattr(provider, "_clock", lambda: NOW)
        here = [provider.prepare_writes(batch)() for batch in batches]

        def not_here(*args: object) -> None:
            raise AssertionError("made in this process")

        monkeypatch.setattr(sql_module, "_statements", not_here)
        with provider.preparing(len(writes)):
            begun = [provider.prepare_writes(batch) for batch in batches]
            apart = [prepared() for prepared in begun]
        assert provider._apart is None
        assert _plain(apart) == _plain(here)
        for batch, prepared in zip(batches, apart, strict=True):
            assert provider.write_many(batch, prepared) == [None] * 10
        live = provider.read()
        assert {key: record.customer for key, record in live.items()} == {write.key: write.customer for write in writes}
        assert sorted({record.key for record in provider.read_audit()}) == [write.key for write in writes]


def _plain(made: list[Any]) -> list[Any]:
    """Statements as comparable values: a value the driver wraps (psycopg's `Jsonb`, equal
    only to itself) as its type, what it holds and how it is written."""

    def value(cell: Any) -> Any:
        return (type(cell).__name__, cell.obj, cell.dumps) if hasattr(cell, "obj") else cell

    def values(row: Any) -> Any:
        return {name: value(cell) for name, cell in row.items()} if isinstance(row, dict) else tuple(map(value, row))

    return [[(each.sql, [values(row) for row in each.parameters]) for each in (one.inserted, *one.audited)] for one in made]


def test_a_batch_whose_worker_process_died_is_made_here(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process that dies (killed, out of memory) costs its batches nothing but
    time: they are made here, and written."""
    monkeypatch.setattr(sql_module, "PREPARE_APART_FROM", 10)
    assert isinstance(provider, sql_module.SqlProvider)
    writes = _packed_creates(20)
    with provider.preparing(len(writes)):
        assert provider._apart is not None
        for process in provider._apart._processes.values():  # type: ignore[union-attr]
            process.kill()
            process.join()
        prepared = provider.prepare_writes(writes)
        assert provider.write_many(writes, prepared()) == [None] * 20
    assert set(provider.read()) == {write.key for write in writes}



def test_a_pending_read_says_which_keys_the_store_holds(provider: Provider, sql_spec: ProviderSpec) -> None:
    """From its first step (the scan): a plan keeps only the parsed customers it may create.
    A row the scan cannot describe (written outside) is held all the same."""
    provider.write_many([Write(key, small(channels=1), None, AUDIT) for key in ("a", "b")])
    engine = sql_spec.engine()
    with engine.begin() as connection:
        connection.execute(update(customer).where(customer.c.key == "b").values(channels=7))
    engine.dispose()
    pending = provider.start_read_differing()
    assert [pending.holds(key) for key in ("a", "b", "c")] == [True, True, False]
    assert set(pending({"a": "x", "c": "y"}).records) == {"a", "b"}
