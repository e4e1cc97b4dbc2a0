"""`reconciler plan` and `apply` end to end, on every live store (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pwd
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from git_repos import GitRepo
from invoke import NOW, Outcome
from sqlalchemy import update

from reconciler.apply import CustomerResult
from reconciler.cli import real_world
from reconciler.commands.session import Session, World
from reconciler.plan.plan import Action
from reconciler.providers.base import AuditContext
from reconciler.providers.schema import customer as customer_table
from reconciler.render.apply import progress_bar as _progress_bar

AT = "2026-11-27T10:00:00Z"
BEHIND = AuditContext(actor="someone-in-the-portal", commit=None, plan_id=None)


def _applied(run: Run, root: Path) -> Outcome:
    return run(root, "apply", "--yes", "--at", AT).assert_success()


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "customers.d" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _body(outcome: Outcome) -> str:
    """The plan without its header line (which holds the plan id and the time)."""
    return outcome.out.split("\n", 1)[1]


def test_round_trip(live: Path, run: Run, spec: Any) -> None:
    first = run(live, "plan", "--detailed-exitcode", "--at", AT)
    assert first.code == 2
    assert _body(first).splitlines()[-1] == "7 to create, 0 to update, 0 to deactivate, 0 blocked."
    applied = _applied(run, live)
    assert applied.out.splitlines()[-1].startswith("Applied 7, skipped 0, failed 0, stale 0, blocked 0 (plan ")
    again = run(live, "plan", "--detailed-exitcode", "--at", AT).assert_success()
    assert _body(again) == "No changes.\n"
    header = again.out.splitlines()[0]
    assert re.fullmatch(r"Plan [0-9a-f]{16} · at 2026-11-27T10:00:00Z · not from a git commit · " + spec.name + " .+", header)


def test_a_changed_field_is_exactly_what_the_plan_shows(live: Path, run: Run) -> None:
    _applied(run, live)
    _edit(live, "acme-telecom.yaml", "debit_limit: 25000.00", "debit_limit: 30000.00")
    _edit(live, "acme-telecom.yaml", "tags: [wholesale, us-east, tier-1]", "tags: [wholesale, tier-1, wholesale-eu]")
    outcome = run(live, "plan", "--detailed-exitcode", "--at", AT)
    assert outcome.code == 2
    assert _body(outcome) == (
        "  ~ acme-telecom            update\n"
        "      debit_limit           25000.00 -> 30000.00 USD\n"
        "      config.tags           + wholesale-eu, - us-east\n"
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.\n"
    )
    saved = json.loads(run(live, "plan", "--format", "json", "--at", AT).out)
    assert [change["changes"] for change in saved["changes"]] == [[
        {"field": "debit_limit", "before": "25000.00", "after": "30000.00"},
        {
            "field": "config.tags",
            "before": ["tier-1", "us-east", "wholesale"],
            "after": ["tier-1", "wholesale", "wholesale-eu"],
            "added": ["wholesale-eu"],
            "removed": ["us-east"],
        },
    ]]


def test_apply_writes_an_audit_record_per_field(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    _edit(live, "acme-telecom.yaml", "channels: 300", "channels: 320")
    plan_file = live / "plan.json"
    run(live, "plan", "--out", str(plan_file), "--at", AT).assert_success()
    plan_id = json.loads(plan_file.read_text())["plan_id"]
    run(live, "apply", str(plan_file)).assert_success()
    newest = spec.make().read_audit("acme-telecom", limit=1)[0]
    assert (newest.action, newest.field, newest.before, newest.after) == ("update", "channels", 300, 320)
    assert (newest.actor, newest.plan_id) == ("tester", plan_id)


def test_a_stale_saved_plan_is_refused_and_nothing_is_applied(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    _edit(live, "acme-telecom.yaml", "debit_limit: 25000.00", "debit_limit: 30000.00")
    _edit(live, "northwind-voip.toml", "channels = 20", "channels = 25")
    plan_file = live / "plan.json"
    run(live, "plan", "--out", str(plan_file), "--at", AT).assert_success()
    provider = spec.make()
    record = provider.read(["acme-telecom"])["acme-telecom"]
    changed = record.customer.model_copy(update={"debit_limit": Decimal(26000)})
    provider.update("acme-telecom", changed, record.version, BEHIND)

    outcome = run(live, "apply", str(plan_file))
    assert outcome.code == 1
    assert outcome.err == (
        "error: the live platform changed since the plan was made; nothing was applied. "
        "Make a new plan (or apply the rest with --partial):\n"
        "  acme-telecom: debit_limit is now 26000.00, the plan expected 25000.00\n"
    )
    assert provider.read(["northwind-voip"])["northwind-voip"].customer.channels == 20

    partial = run(live, "apply", str(plan_file), "--partial")
    assert partial.code == 4
    assert partial.out.splitlines() == [
        "  stale    acme-telecom: debit_limit is now 26000.00, the plan expected 25000.00",
        f"Applied 1, skipped 0, failed 0, stale 1, blocked 0 (plan {json.loads(plan_file.read_text())['plan_id']}).",
    ]
    assert provider.read(["northwind-voip"])["northwind-voip"].customer.channels == 25


def test_applying_a_saved_plan_twice_skips_what_is_done(live: Path, run: Run) -> None:
    _applied(run, live)
    _edit(live, "northwind-voip.toml", "channels = 20", "channels = 25")
    plan_file = live / "plan.json"
    run(live, "plan", "--out", str(plan_file), "--at", AT).assert_success()
    run(live, "apply", str(plan_file)).assert_success()
    again = run(live, "apply", str(plan_file)).assert_success()
    assert again.out.splitlines()[0] == "  skipped  northwind-voip: already in the planned state"


def test_an_edited_plan_file_is_refused(live: Path, run: Run) -> None:
    _applied(run, live)
    _edit(live, "northwind-voip.toml", "channels = 20", "channels = 25")
    plan_file = live / "plan.json"
    run(live, "plan", "--out", str(plan_file), "--at", AT).assert_success()
    plan_file.write_text(plan_file.read_text().replace('"after": 25', '"after": 2500'))
    outcome = run(live, "apply", str(plan_file))
    assert outcome.code == 1
    plan_id = json.loads(plan_file.read_text())["plan_id"]
    assert outcome.err == (
        f"error: {plan_file}: plan_id: the content does not match plan id {plan_id} "
        "(the file was edited); make a new plan\n"
    )


def test_a_file_that_is_not_a_plan_is_refused(live: Path, run: Run) -> None:
    plan_file = live / "plan.json"
    plan_file.write_text('{"plan_id": "x"}')
    outcome = run(live, "apply", str(plan_file))
    assert outcome.code == 1
    assert outcome.err.startswith(f"error: {plan_file}: 'at' is a required property\n")


def test_a_currency_change_is_blocked_with_exit_3(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    _edit(live, "globex-carrier.toml", 'currency = "EUR"', 'currency = "USD"')
    _edit(live, "northwind-voip.toml", "channels = 20", "channels = 25")
    outcome = run(live, "plan", "--at", AT)
    assert outcome.code == 3
    assert _body(outcome) == (
        "  ~ northwind-voip          update\n"
        "      channels              20 -> 25\n"
        "  ! globex-carrier          blocked: currency EUR -> USD; the platform fixes a customer's\n"
        "                            currency at creation. Create a new customer in USD instead (a\n"
        "                            new file), and deactivate this one by removing its file.\n"
        "0 to create, 1 to update, 0 to deactivate, 1 blocked.\n"
    )
    applied = run(live, "apply", "--yes", "--at", AT)
    assert applied.code == 3
    assert applied.out.splitlines()[-2:] == [
        "  blocked  globex-carrier: currency EUR -> USD; the platform fixes a customer's currency at "
        "creation. Create a new customer in USD instead (a new file), and deactivate this one by removing its file.",
        applied.out.splitlines()[-1],
    ]
    live_now = spec.make().read()
    assert live_now["globex-carrier"].customer.currency == "EUR"
    assert live_now["northwind-voip"].customer.channels == 25


def test_a_bulk_change_over_the_threshold_is_blocked(live: Path, run: Run) -> None:
    _applied(run, live)
    config = (live / "reconciler.toml").read_text().replace("max_updates = 50", "max_updates = 1")
    (live / "reconciler.toml").write_text(config)
    _edit(live, "northwind-voip.toml", "channels = 20", "channels = 25")
    _edit(live, "acme-telecom.yaml", "channels: 300", "channels: 320")
    outcome = run(live, "plan", "--at", AT)
    assert outcome.code == 3
    assert _body(outcome).splitlines()[:2] == [
        "  ! blocked by safety rule: 2 customers to update, more than safety.max_updates = 1",
        "    review the plan, then apply with --allow-bulk",
    ]
    refused = run(live, "apply", "--yes", "--at", AT)
    assert refused.code == 3
    assert refused.err == (
        "error: the plan goes over the safety thresholds; review it and re-run with --allow-bulk:\n"
        "  2 customers to update, more than safety.max_updates = 1\n"
    )
    allowed = run(live, "apply", "--yes", "--allow-bulk", "--at", AT).assert_success()
    assert "  warning: allowed by --allow-bulk: 2 customers to update, more than safety.max_updates = 1" in allowed.out


def test_removal_deactivates_and_unmanaged_customers_are_left_alone(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    engine = spec.engine()
    with engine.begin() as connection:
        connection.execute(update(customer_table).where(customer_table.c.key == "globex-carrier").values(managed=False))
    engine.dispose()
    (live / "customers.d" / "globex-carrier.toml").unlink()
    (live / "customers.d" / "kiwi-link.toml").unlink()
    outcome = run(live, "plan", "--at", AT)
    assert _body(outcome) == (
        "  - kiwi-link               deactivate (removed from git)\n"
        "  unmanaged (live, not in git, left alone): globex-carrier\n"
        "0 to create, 0 to update, 1 to deactivate, 0 blocked.\n"
    )
    _applied(run, live)
    records = spec.make().read()
    assert records["kiwi-link"].active is False
    assert records["globex-carrier"].active is True
    assert _body(run(live, "plan", "--at", AT)) == (
        "  unmanaged (live, not in git, left alone): globex-carrier\nNo changes.\n"
    )


def test_a_customer_back_in_git_is_reactivated(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    kiwi = (live / "customers.d" / "kiwi-link.toml").read_text()
    (live / "customers.d" / "kiwi-link.toml").unlink()
    _applied(run, live)
    (live / "customers.d" / "kiwi-link.toml").write_text(kiwi)
    outcome = run(live, "plan", "--at", AT)
    assert _body(outcome) == (
        "  ~ kiwi-link               update\n"
        "      (reactivate: the customer is back in git)\n"
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.\n"
    )
    _applied(run, live)
    assert spec.make().read(["kiwi-link"])["kiwi-link"].active is True


def test_a_renamed_file_renames_the_live_customer(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    old = live / "customers.d" / "acme-telecom.yaml"
    text = old.read_text().replace("name: Acme Telecom\n", "name: Acme Telecom\nrenamed_from: [acme-telecom]\n")
    (live / "customers.d" / "acme.yaml").write_text(text.replace("channels: 300", "channels: 310"))
    old.unlink()
    outcome = run(live, "plan", "--at", AT)
    assert _body(outcome) == (
        "  ~ acme                    rename from acme-telecom\n"
        "      channels              300 -> 310\n"
        "0 to create, 0 to update, 1 to rename, 0 to deactivate, 0 blocked.\n"
    )
    _applied(run, live)
    records = spec.make().read()
    assert "acme-telecom" not in records
    assert records["acme"].customer.channels == 310
    assert _body(run(live, "plan", "--at", AT)) == "No changes.\n"


def test_owned_fields_are_never_diffed_or_written(live: Path, run: Run, spec: Any) -> None:
    _applied(run, live)
    config = (live / "reconciler.toml").read_text().replace("owned_fields = []", 'owned_fields = ["status"]')
    (live / "reconciler.toml").write_text(config)
    provider = spec.make()
    record = provider.read(["acme-telecom"])["acme-telecom"]
    provider.update("acme-telecom", record.customer.model_copy(update={"status": "penalty"}), record.version, BEHIND)
    _edit(live, "acme-telecom.yaml", "channels: 300", "channels: 320")
    outcome = run(live, "plan", "--at", AT)
    assert _body(outcome) == (
        "  ~ acme-telecom            update\n"
        "      channels              300 -> 320\n"
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.\n"
    )
    _applied(run, live)
    assert provider.read(["acme-telecom"])["acme-telecom"].customer.status == "penalty"


def test_apply_waits_for_the_lock_then_names_the_holder(live: Path, run: Run, spec: Any) -> None:
    provider = spec.make()
    lease = provider.acquire_lock("ci-runner-7", dt.timedelta(minutes=5))
    outcome = run(live, "apply", "--yes", "--at", AT)
    assert outcome.code == 1
    until = lease.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.fullmatch(
        rf"error: the lock on .* is held by ci-runner-7 until {until}; "
        r"wait until it is released or expires, then try again\n",
        outcome.err,
    ), outcome.err
    assert provider.read() == {}


def test_apply_without_a_terminal_needs_yes(live: Path, run: Run) -> None:
    outcome = run(live, "apply", "--at", AT)
    assert outcome.code == 1
    assert outcome.err == "error: refusing to apply without confirmation: not a terminal; pass --yes\n"


def test_a_plan_for_another_target_is_refused(live: Path, run: Run, project: Path, tmp_path: Path) -> None:
    plan_file = live / "plan.json"
    run(live, "plan", "--out", str(plan_file), "--at", AT)
    data = json.loads(plan_file.read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "reconciler.toml").write_text(f'[live.options]\npath = "{tmp_path / "other.sqlite"}"\n')
    outcome = run(other, "apply", str(plan_file))
    assert outcome.code == 1
    assert outcome.err == (
        f"error: {plan_file} was made for {data['target']}, but reconciler.toml points at "
        f"sqlite {tmp_path / 'other.sqlite'}; make a new plan\n"
    )


def test_scheduled_changes_apply_at_their_instant(live: Path, run: Run) -> None:
    plans = live / "plans"
    plans.mkdir()
    (plans / "2026-12-24T1800Z_xmas-capacity.yaml").write_text(
        "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\ncustomers:\n  acme-telecom:\n    channels: 400\n"
    )
    _applied(run, live)
    during = run(live, "plan", "--at", "2026-12-25")
    assert _body(during) == (
        "  ~ acme-telecom            update\n"
        "      channels              300 -> 400\n"
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.\n"
    )
    christmas = dt.datetime(2026, 12, 25, tzinfo=dt.UTC)
    run(live, "apply", "--yes", now=christmas).assert_success()  # the apply that runs on the 25th
    after = run(live, "plan", "--at", "2026-12-27T06:00:00Z")
    assert "      channels              400 -> 300\n" in _body(after)


@pytest.mark.parametrize(("answer", "applied"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_apply_asks_on_a_terminal(
    live: Path, run: Run, spec: Any, monkeypatch: pytest.MonkeyPatch, answer: str, applied: bool
) -> None:
    outcome = run(live, "apply", "--at", AT, terminal=True, answers=[answer]).assert_success()
    assert "Apply these changes? [y/N] " in outcome.out
    assert (len(spec.make().read()) == 7) is applied
    if not applied:
        assert outcome.out.endswith("Nothing applied.\n")


def test_progress_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = _progress_bar(stream)
    for done in range(1, 41):
        progress(done, 40, CustomerResult(f"customer-{done}", Action.UPDATE, "applied"))
    text = stream.getvalue()
    assert text.startswith("\r[" + "." * 30 + "] 1/40 customer-1")
    assert text.endswith("\r[" + "#" * 30 + "] 40/40 customer-40" + " " * 19 + "\n")


def test_no_progress_bar_for_a_short_run() -> None:
    stream = io.StringIO()
    _progress_bar(stream)(1, 3, CustomerResult("acme", Action.UPDATE, "applied"))
    assert stream.getvalue() == ""


def test_the_actor_is_the_ci_user_then_the_login_then_the_account(tmp_path: Path) -> None:
    def actor(environ: dict[str, str]) -> str:
        world = World(environ=environ, clock=lambda: NOW, stdout=io.StringIO(), stderr=io.StringIO(), account="svc")
        return Session(root=tmp_path, world=world, now=NOW).actor()

    assert actor({"GITHUB_ACTOR": "octocat", "USER": "root"}) == "octocat"
    assert actor({"USER": "dana"}) == "dana"
    assert actor({"LOGNAME": "priya"}) == "priya"
    assert actor({}) == "svc"
    assert real_world().account == pwd.getpwuid(os.getuid()).pw_name


def test_a_missing_or_garbled_plan_file_is_refused(project: Path, run: Run) -> None:
    missing = project / "nope.json"
    outcome = run(project, "apply", str(missing))
    assert (outcome.code, outcome.err) == (1, f"error: {missing}: no such plan file\n")
    garbled = project / "plan.json"
    garbled.write_text('{"plan_id": \n')
    outcome = run(project, "apply", str(garbled))
    assert (outcome.code, outcome.err) == (
        1, f"error: {garbled}:2:1: not a plan file: Expecting value\n"
    )
    garbled.write_bytes(b"\xff\xfe")
    outcome = run(project, "apply", str(garbled))
    assert (outcome.code, outcome.err) == (1, f"error: {garbled}: not a plan file: not UTF-8 at byte 0\n")


def test_a_deactivation_names_the_commit_that_removed_the_file(project: Path, run: Run) -> None:
    repo = GitRepo(project)
    repo.commit("Customers")
    run(project, "apply", "--yes", "--at", AT).assert_success()
    (project / "customers.d" / "kiwi-link.toml").unlink()
    (project / ".gitignore").write_text(".reconciler/\n")
    repo.commit("Kiwi Link has left us", author="priya", date="2026-02-01T00:00:00Z")
    removed_in = repo.short()
    repo.write("customers.d/tiny-co.yaml", "currency: USD\n")
    repo.commit("Tiny Co", date="2026-03-01T00:00:00Z")
    outcome = run(project, "plan", "--at", AT)
    assert f"  - kiwi-link               deactivate (removed from git in {removed_in})\n" in outcome.out


def test_apply_at_an_instant_still_to_come_is_refused_unless_ahead_of_schedule(live: Path, run: Run, spec: Any) -> None:
    (live / "plans").mkdir()
    (live / "plans/2026-12-24T1800Z_xmas.yaml").write_text(
        "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\ncustomers:\n  acme-telecom:\n    channels: 400\n"
    )
    now = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    outcome = run(live, "apply", "--yes", "--at", "2026-12-25", now=now)
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == (
        "error: --at 2026-12-25T00:00:00Z is after now (2026-11-27T10:00:00Z): the changes scheduled until then "
        "would take effect now, and the next apply would put them back; `plan --at` shows them without applying, "
        "or give --ahead-of-schedule to apply them early on purpose\n"
    )
    run(live, "plan", "--at", "2026-12-25", now=now).assert_success()  # planning the future stays free
    run(live, "apply", "--yes", "--at", "2026-12-25", "--ahead-of-schedule", now=now).assert_success()
    with spec.make() as provider:
        notes = {record.note for record in provider.read_audit("acme-telecom")}
    assert "applied ahead of schedule (--at 2026-12-25T00:00:00Z)" in notes
