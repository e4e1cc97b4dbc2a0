"""What the platform means, end to end on each SQL store: removal stops a customer dialling,
a penalty the platform set is its own, and a live record the model cannot read blocks only
itself, whoever wrote it and however."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from store_versions import insert_unchecked

from reconciler.providers.schema import customer as customer_table


@pytest.fixture
def spec(sql_spec: Any) -> Any:
    """These tests reach behind the provider with SQL: the SQL stores only."""
    return sql_spec

AT = "2026-11-27T10:00:00Z"


def _sql(spec: Any, *statements: str) -> None:
    engine = spec.engine()
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def _status(spec: Any, key: str) -> str:
    engine = spec.engine()
    with engine.connect() as connection:
        found: str = connection.execute(text(f"SELECT status FROM customer WHERE key = '{key}'")).scalar_one()
    engine.dispose()
    return found


# --- removal and comeback ------------------------------------------------------------------


def test_removing_a_file_sets_the_platform_status_inactive_and_a_comeback_restores_the_files(
    live: Path, run: Run, spec: Any
) -> None:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    kiwi = (live / "customers.d/acme-telecom.yaml").read_text()
    (live / "customers.d/acme-telecom.yaml").unlink()
    outcome = run(live, "apply", "--yes", "--at", AT).assert_success()
    assert "  - acme-telecom            deactivate (removed from git)\n" in outcome.out
    assert _status(spec, "acme-telecom") == "inactive"
    history = run(live, "live", "history", "acme-telecom", "--limit", "1").assert_success().out
    assert "    status                  active -> inactive\n" in history

    (live / "customers.d/acme-telecom.yaml").write_text(kiwi)
    outcome = run(live, "apply", "--yes", "--at", AT).assert_success()
    assert "      (reactivate: the customer is back in git)\n" in outcome.out
    assert "      status                inactive -> active\n" in outcome.out
    assert _status(spec, "acme-telecom") == "active"


def test_a_customer_an_overlay_created_is_deactivated_when_the_overlay_ends(project: Path, run: Run) -> None:
    (project / "plans").mkdir()
    (project / "plans/2026-12-24_pop-up.yaml").write_text(
        "reason: Christmas pop-up\nuntil: 2026-12-27T06:00:00Z\ncreate:\n  pop-up:\n    currency: USD\n    channels: 5\n"
    )
    run(project, "apply", "--yes", now=dt.datetime(2026, 12, 25, tzinfo=dt.UTC)).assert_success()
    outcome = run(project, "plan", "--at", "2026-12-28").assert_success()
    assert (
        "  - pop-up                  deactivate (created by plans/2026-12-24_pop-up.yaml until 2026-12-27T06:00:00Z)\n"
        in outcome.out
    )


# --- penalty -------------------------------------------------------------------------------


def test_a_penalty_the_platform_set_is_held_until_lifted_on_purpose(live: Path, run: Run, spec: Any) -> None:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    _sql(spec, "UPDATE customer SET status = 'penalty', channels = 1 WHERE key = 'acme-telecom'")
    outcome = run(live, "plan", "--at", AT, "--detailed-exitcode")
    assert outcome.code == 2
    assert outcome.out.split("\n", 1)[1] == (
        "  ~ acme-telecom            update\n"
        "      channels              1 -> 300\n"
        "  = acme-telecom            in penalty on the platform; status not changed (git says active; apply "
        "--lift-penalty acme-telecom lifts it)\n"
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.\n"
    )
    run(live, "apply", "--yes", "--at", AT).assert_success()
    assert _status(spec, "acme-telecom") == "penalty"  # the other fields written, the penalty left alone

    outcome = run(live, "apply", "--yes", "--at", AT, "--lift-penalty", "acme-telecom").assert_success()
    assert "      (--lift-penalty: the file's status replaces the platform's penalty)\n" in outcome.out
    assert _status(spec, "acme-telecom") == "active"
    with spec.make() as provider:
        [record] = provider.read_audit("acme-telecom", limit=1)
    assert (record.field, record.before, record.after, record.note) == (
        "status", "penalty", "active", "penalty lifted by --lift-penalty",
    )


def test_lift_penalty_goes_with_the_plan_not_with_a_saved_one(live: Path, run: Run, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    run(live, "plan", "--at", AT, "--out", str(plan_file)).assert_success()
    outcome = run(live, "apply", str(plan_file), "--lift-penalty", "acme-telecom")
    assert (outcome.code, outcome.err) == (1, (
        "error: --lift-penalty and --repair belong to the plan: make it with "
        "`reconciler plan --lift-penalty KEY --out FILE`, review it, then apply FILE\n"
    ))


# --- live records the model refuses --------------------------------------------------------

# A value no constraint can catch, per customer: written by hand, as someone with database
# access (or a platform with values we never modelled) would.
HAND_WRITTEN = {
    "acme-telecom": ("paypal_email", "'no-at-sign.example'", "config.paypal_email", "'no-at-sign.example'"),
    "nightowl-callcentre": (
        "day_time_restriction", """'{"timezone": "Mars/Olympus", "windows": [{"from": "08:00", "to": "18:00"}]}'""",
        "day_time_restriction.timezone", "'Mars/Olympus'",
    ),
    "globex-carrier": ("vars", "'limit = = 3'", "config.vars", "'limit = = 3'"),
}


def _unreadable_fleet(live: Path, run: Run, spec: Any) -> None:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    for key, (column, value, _, _) in HAND_WRITTEN.items():
        _sql(spec, f"UPDATE customer SET {column} = {value} WHERE key = '{key}'")
    # A row from before the store checked tax: past its CHECK (SQLite's pragma; a dropped CHECK on PostgreSQL).
    if spec.name == "postgresql":
        _sql(spec, "ALTER TABLE customer DROP CONSTRAINT customer_tax_percent_range")
        _sql(spec, "UPDATE customer SET tax_percent = 101 WHERE key = 'fjord-connect'")
    else:
        insert_unchecked(spec, "UPDATE customer SET tax_percent = 1010000 WHERE key = 'fjord-connect'")
    # Nested JSON that is not JSON (SQLite stores text), or of the wrong shape (PostgreSQL's JSONB parses).
    address = "'{\"lines\": [\"1 Main St\"'" if spec.name == "sqlite" else "'\"a street\"'"
    _sql(spec, f"UPDATE customer SET address = {address} WHERE key = 'sunrise-mobile'")
    # A currency code that is not ISO 4217, on a customer in git (inserted: the store fixes a currency).
    (live / "customers.d/zed-telecom.yaml").write_text("currency: USD\nchannels: 2\nflow_speed: 1\n")
    columns = [column.name for column in customer_table.columns]
    replaced = {"key": "'zed-telecom'", "currency": "'ZZZ'", "name": "'Zed Telecom'"}
    _sql(spec, f"INSERT INTO customer ({', '.join(columns)}) SELECT "
               f"{', '.join(replaced.get(column, column) for column in columns)} FROM customer WHERE key = 'kiwi-link'")
    # And one ordinary change, which must go through.
    path = live / "customers.d/northwind-voip.toml"
    path.write_text(path.read_text().replace("channels = 20", "channels = 25"))


def test_a_store_broken_by_hand_is_one_error_naming_it(live: Path, run: Run, spec: Any) -> None:
    """What the plan scans of every row, through the driver's own cursor, fails as any other
    query does: one line naming the store, exit 1."""
    run(live, "apply", "--yes", "--at", AT).assert_success()
    _sql(spec, "ALTER TABLE customer RENAME COLUMN digest TO held")
    outcome = run(live, "plan", "--at", AT)
    assert outcome.code == 1 and outcome.out == "" and "Traceback" not in outcome.err
    assert outcome.err.startswith(f"error: {spec.name} ") and outcome.err.count("\n") == (1 if spec.name == "sqlite" else 3)
    assert ("no such column: digest" if spec.name == "sqlite" else 'column "digest" does not exist') in outcome.err


def test_unreadable_live_records_block_only_themselves(live: Path, run: Run, spec: Any) -> None:
    _unreadable_fleet(live, run, spec)
    outcome = run(live, "plan", "--at", AT)
    assert outcome.code == 3, outcome.err
    assert "Traceback" not in outcome.err + outcome.out
    assert outcome.out.endswith("0 to create, 1 to update, 0 to deactivate, 6 blocked.\n")
    assert "  ~ northwind-voip          update\n      channels              20 -> 25\n" in outcome.out
    blocked = {
        entry["key"]: (entry["field"], entry["rule"], entry["reason"])
        for entry in json.loads(run(live, "plan", "--at", AT, "--format", "json").out)["blocked"]
    }
    fix = "Fix the record on the platform, or overwrite it from its file with apply --repair"
    for key, (_, _, field, shown) in HAND_WRITTEN.items():
        assert blocked[key][:2] == (field, "live_unreadable")
        assert blocked[key][2].startswith(f"live record unreadable: {field}: {shown} (")
        assert blocked[key][2].endswith(f"{fix} {key}.")
    assert blocked["fjord-connect"][2] == f"live record unreadable: tax_percent: 101 (must be at most 100, not 101). {fix} fjord-connect."
    assert blocked["sunrise-mobile"][0] == "address"
    assert blocked["zed-telecom"][2].startswith(
        "live record unreadable: currency: 'ZZZ' ('ZZZ' is not an ISO 4217 currency code (upper case, e.g. USD, EUR, GBP))"
    )
    outcome = run(live, "apply", "--yes", "--at", AT)
    assert outcome.code == 3
    assert "Applied 1, skipped 0, failed 0, stale 0, blocked 6 (plan " in outcome.out
    with spec.make() as provider:
        northwind = provider.read(["northwind-voip"])["northwind-voip"]
    assert northwind.customer.channels == 25  # type: ignore[union-attr]


def test_unreadable_records_in_drift_status_import_and_history(live: Path, run: Run, spec: Any, tmp_path: Path) -> None:
    _unreadable_fleet(live, run, spec)
    drift = run(live, "drift", "--at", AT)
    assert drift.code == 2
    assert "  ! acme-telecom            blocked: live record unreadable: config.paypal_email:" in drift.out

    status = run(live, "live", "status").assert_success().out
    assert "unreadable: 6\n" in status
    assert "  globex-carrier: live record unreadable: config.vars: 'limit = = 3' (invalid TOML on line 1" in status

    history = run(live, "live", "history", "acme-telecom").assert_success().out
    assert history.startswith("acme-telecom: live record unreadable: config.paypal_email: 'no-at-sign.example'")

    empty = tmp_path / "empty"
    (empty / "customers.d").mkdir(parents=True)
    (empty / "reconciler.toml").write_text((live / "reconciler.toml").read_text())
    imported = run(empty, "import")
    assert imported.code == 3
    assert "skipped acme-telecom: live record unreadable: config.paypal_email:" in imported.err
    assert (empty / "customers.d/northwind-voip.yaml").exists()
    assert not (empty / "customers.d/acme-telecom.yaml").exists()


def test_text_that_is_not_utf8_blocks_its_customer_alone_and_reaches_no_terminal(
    live: Path, run: Run, spec: Any
) -> None:
    """SQLite keeps whatever bytes a writer gives a TEXT column (PostgreSQL refuses what is
    not UTF-8): a name of an escape sequence and a byte that is no UTF-8 made every read
    fail. Now the byte reads as U+FFFD, the escape blocks that customer alone, and every
    output shows it escaped, as text a terminal can be sent."""
    run(live, "apply", "--yes", "--at", AT).assert_success()
    written = "'\\x1b5b324aff'::bytea" if spec.name == "postgresql" else "x'1b5b324aff'"
    statement = f"UPDATE customer SET name = CAST({written} AS TEXT) WHERE key = 'acme-telecom'"
    if spec.name == "postgresql":
        statement = f"UPDATE customer SET name = convert_from({written}, 'UTF8') WHERE key = 'acme-telecom'"
        with pytest.raises(DataError, match="invalid byte sequence for encoding"):
            _sql(spec, statement)
        return
    _sql(spec, statement)
    outputs = [
        run(live, "plan", "--at", AT), run(live, "drift", "--at", AT),
        run(live, "live", "status"), run(live, "live", "history", "acme-telecom"),
    ]
    assert [outcome.code for outcome in outputs] == [3, 2, 0, 0]
    for outcome in outputs:
        shown = outcome.out + outcome.err
        assert "Traceback" not in shown and "\x1b" not in shown
        shown.encode("utf-8")  # no half of a surrogate pair, which no terminal can be sent
    blocked = json.loads(run(live, "plan", "--at", AT, "--format", "json").out)["blocked"]
    assert [(entry["key"], entry["field"], entry["reason"].split(". Fix")[0]) for entry in blocked] == [(
        "acme-telecom", "name",
        "live record unreadable: name: '\\x1b[2J\ufffd' (contains the control character U+001B; remove it)",
    )]


def test_a_key_that_is_not_utf8_is_read_escaped_and_not_sent_back(
    live: Path, run: Run, spec: Any, tmp_path: Path
) -> None:
    """A key SQLite holds as bytes that are not UTF-8 is a key no customer has: shown
    escaped, never sent back to the store to be read by (the plan reads the table whole
    then), and the customer whose key it was is missing live."""
    run(live, "apply", "--yes", "--at", AT).assert_success()
    if spec.name == "postgresql":
        with pytest.raises(DataError, match="invalid byte sequence for encoding"):
            _sql(spec, "UPDATE customer SET key = convert_from('\\x1b5b324aff61'::bytea, 'UTF8') WHERE key = 'acme-telecom'")
        return
    _sql(spec, "UPDATE customer SET key = CAST(x'1b5b324aff61' AS TEXT) WHERE key = 'acme-telecom'")
    outputs = [run(live, "plan", "--at", AT), run(live, "drift", "--at", AT), run(live, "live", "status")]
    assert [outcome.code for outcome in outputs] == [0, 2, 0]
    for outcome in outputs:
        shown = outcome.out + outcome.err
        assert "Traceback" not in shown and "\x1b" not in shown and "'\\x1b[2J\ufffda'" in shown
        shown.encode("utf-8")
    assert "  + acme-telecom            create (USD, 300 channels, 30 cps, active)\n" in outputs[0].out
    empty = tmp_path / "empty"
    (empty / "customers.d").mkdir(parents=True)
    (empty / "reconciler.toml").write_text((live / "reconciler.toml").read_text())
    imported = run(empty, "import")
    assert imported.code == 3 and "\x1b" not in imported.err
    assert "skipped '\\x1b[2J\ufffda': live record unreadable: key:" in imported.err


def test_the_audit_is_shown_escaped_whoever_wrote_it(live: Path, run: Run, spec: Any) -> None:
    """The audit is the store's text, which anyone with access to the store can write: `live
    history` shows each record on one line, with what a terminal would act on escaped."""
    run(live, "apply", "--yes", "--at", AT).assert_success()
    char = "chr" if spec.name == "postgresql" else "char"
    _sql(spec, f"UPDATE audit SET actor = 'eve' || {char}(27) || '[2J' || {char}(10) || 'fake line' "
               "WHERE customer_key = 'acme-telecom'")
    history = run(live, "live", "history", "acme-telecom").assert_success().out
    assert "\x1b" not in history and "\nfake line" not in history
    assert history.splitlines()[0].endswith(" · by eve\\x1b[2J\\nfake line")


def test_repair_overwrites_an_unreadable_record_from_its_file_and_says_so_in_the_audit(
    live: Path, run: Run, spec: Any
) -> None:
    _unreadable_fleet(live, run, spec)
    outcome = run(live, "apply", "--yes", "--at", AT, "--repair", "fjord-connect")
    assert outcome.code == 3  # the others stay blocked
    assert "      (--repair: the unreadable live record is overwritten from the file)\n" in outcome.out
    assert "      tax_percent           101 -> 25\n" in outcome.out
    with spec.make() as provider:
        fjord = provider.read(["fjord-connect"])["fjord-connect"]
        notes = {record.note for record in provider.read_audit("fjord-connect", limit=1)}
    assert fjord.customer.tax_percent == 25  # type: ignore[union-attr]
    assert notes == {"unreadable live record overwritten by --repair"}
    assert "fjord-connect" not in run(live, "plan", "--at", AT).out


@pytest.mark.parametrize("statement", [
    "UPDATE customer SET stir_shaken_attestation = 'X' WHERE key = 'acme-telecom'",
    "UPDATE customer SET daily_spend_limit = -1 WHERE key = 'acme-telecom'",
    "UPDATE customer SET rtp_firewall = 'open' WHERE key = 'acme-telecom'",
    "UPDATE customer SET p_asserted_id = 'always' WHERE key = 'acme-telecom'",
    "UPDATE customer SET invoice_schedule = 'hourly' WHERE key = 'acme-telecom'",
])
def test_the_store_refuses_what_the_model_refuses(live: Path, run: Run, spec: Any, statement: str) -> None:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    with pytest.raises(IntegrityError, match=r"(?i)check constraint"):
        _sql(spec, statement)


def test_a_hostile_live_key_is_escaped_and_never_a_path(live: Path, run: Run, spec: Any, tmp_path: Path) -> None:
    run(live, "apply", "--yes", "--at", AT).assert_success()
    columns = [column.name for column in customer_table.columns]
    for hostile in ("\x1b[2J\x07x\n  + fake-customer          create", "../../escape_test"):
        replaced = {"key": "'" + hostile.replace("'", "''") + "'", "name": f"'{len(hostile)}'", "managed": "false"}
        _sql(spec, f"INSERT INTO customer ({', '.join(columns)}) SELECT "
                   f"{', '.join(replaced.get(column, column) for column in columns)} FROM customer WHERE key = 'kiwi-link'")
    plan = run(live, "plan", "--at", AT).assert_success()
    assert "\x1b" not in plan.out and "\x07" not in plan.out
    assert "\n  + fake-customer" not in plan.out
    assert "'../../escape_test'" in plan.out and "'\\x1b[2J\\x07x\\n  + fake-customer          create'" in plan.out
    status = run(live, "live", "status").assert_success().out
    assert "\x1b" not in status and "  '../../escape_test': live record unreadable: key: '../../escape_test'" in status


def test_a_file_s_problem_is_reported_before_a_store_that_cannot_be_opened(live: Path, run: Run, spec: Any) -> None:
    """The store's scan starts before the files are read, but a store that cannot be opened
    (here, one of a newer release) is reported where the plan comes to it: after the files'
    own problems, which the operator can mend without the store."""
    run(live, "apply", "--yes", "--at", AT).assert_success()
    _sql(spec, "UPDATE schema_meta SET schema_version = 99")
    path = live / "customers.d/northwind-voip.toml"
    path.write_text(path.read_text().replace("channels = 20", "channels = -20"))
    outcome = run(live, "plan", "--at", AT)
    assert outcome.code == 1 and outcome.out == "" and "Traceback" not in outcome.err
    assert outcome.err.startswith(f"error: {path}:") and "channels: must be at least 0, not -20" in outcome.err
    assert "schema version 99" not in outcome.err
    path.write_text(path.read_text().replace("channels = -20", "channels = 20"))
    refused = run(live, "plan", "--at", AT)
    assert refused.code == 1 and "Traceback" not in refused.err
    assert "is at schema version 99, newer than this reconciler knows" in refused.err

