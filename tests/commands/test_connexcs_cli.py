"""The connexcs provider end to end through the CLI, against the stand-in of the ConnexCS API
on loopback: validate, plan, apply, plan again, drift after an edit made outside, import
into an empty repository, live status and history; and a failing run's outputs, none of
which may show a credential."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES
from connexcs_standin import ConnexcsStandIn
from invoke import Outcome, invoke
from live_stores import CONNEXCS_ENVIRON, CONNEXCS_PASSWORD, CONNEXCS_USER
from sqlalchemy import create_engine, text

TOKEN = "panel-minted-long-lived-token-0123456789"


@pytest.fixture
def cx() -> Iterator[ConnexcsStandIn]:
    with ConnexcsStandIn(user=CONNEXCS_USER, password=CONNEXCS_PASSWORD, long_lived_token=TOKEN) as standin:
        yield standin
    assert standin.errors == []


def project(root: Path, cx: ConnexcsStandIn, *, customers: bool = True, options: str = "") -> Path:
    """A repository pointed at the stand-in, its state store in .reconciler/state.sqlite."""
    if customers:
        shutil.copytree(EXAMPLES, root / "customers.d")
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.toml").write_text(
        "[live]\n"
        'provider = "connexcs"\n'
        "[live.options]\n"
        f'url = "{cx.url}"\n'
        "timeout_seconds = 5\n"
        f"{options}"
        "[live.account_manager_ids]\n"
        '"Dana Whitfield" = 17\n'
        '"Priya Raman" = 18\n'
        "[state]\n"
        'provider = "sqlite"\n'
        'path = ".reconciler/state.sqlite"\n'
        "[safety]\n"
        "lock_wait_seconds = 0.3\n",
        encoding="utf-8",
    )
    return root


class Cli:
    """Runs the CLI with the credentials in its environment, and keeps every output."""

    def __init__(self, tmp_path: Path, environ: dict[str, str] | None = None) -> None:
        # Not the CI's own variables: the actor is "tester", and no CI rule applies to these runs.
        outside = {name: value for name, value in os.environ.items() if name not in ("CI", "GITHUB_ACTOR")}
        self.environ = {
            **outside, "USER": "tester", "NO_COLOR": "1", "RECONCILER_CACHE_DIR": str(tmp_path / "cache"),
            **(environ if environ is not None else CONNEXCS_ENVIRON),
        }
        self.outputs: list[str] = []

    def __call__(self, root: Path, *argv: str) -> Outcome:
        outcome = invoke(root, *argv, environ=self.environ)
        self.outputs += [outcome.out, outcome.err]
        return outcome


def body(outcome: Outcome) -> list[str]:
    """The plan's lines without its header (which holds the plan id and the time)."""
    return outcome.out.splitlines()[1:]


def live_id(cx: ConnexcsStandIn, name: str) -> int:
    return next(record["id"] for record in cx.records() if record["name"] == name)


def test_validate_plan_apply_drift_import_history(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    root = project(tmp_path / "repo", cx)
    run = Cli(tmp_path)

    assert run(root, "validate").assert_success().out.startswith("7 customers")
    plan = run(root, "plan", "--detailed-exitcode")
    assert plan.code == 2
    assert plan.out.splitlines()[0].endswith(f"connexcs {cx.url} (state: sqlite .reconciler/state.sqlite)")
    assert body(plan)[-1] == "7 to create, 0 to update, 0 to deactivate, 0 blocked."

    applied = run(root, "apply", "--yes").assert_success()
    assert applied.out.splitlines()[-1].startswith("Applied 7, skipped 0, failed 0, stale 0, blocked 0 (plan ")
    assert sorted(record["name"] for record in cx.records()) == [
        "Acme Telecom", "Fjord Connect AS", "Globex Carrier GmbH", "Kiwi Link Ltd", "NightOwl Call Centre",
        "Northwind VoIP", "Sunrise Mobile",
    ]
    acme = next(record for record in cx.records() if record["name"] == "Acme Telecom")
    assert (acme["debit_limit"], acme["account_manager_id"], acme["status"], acme["tags"]) == (
        "25000.00", 17, "Active", ["tier-1", "us-east", "wholesale"]
    )

    again = run(root, "plan", "--detailed-exitcode")
    assert (again.code, body(again)) == (0, ["No changes."])

    # Someone edits Acme in the panel; git raises Sunrise's channels.
    httpx.put(cx.url + f"customer/{live_id(cx, 'Acme Telecom')}", json={"debit_limit": "30000.00"},
              auth=(CONNEXCS_USER, CONNEXCS_PASSWORD)).raise_for_status()
    sunrise = root / "customers.d/sunrise-mobile.yaml"
    sunrise.write_text(sunrise.read_text().replace("channels: ", "channels: 1", 1))
    drift = run(root, "drift")
    assert drift.code == 2
    lines = drift.out.splitlines()
    assert "  ~ acme-telecom" in lines and "  ~ sunrise-mobile" in lines
    assert any(line.startswith("      debit_limit           live 30000.00, git 25000.00: changed outside the reconciler")
               for line in lines)
    assert any("in git, not yet applied" in line for line in lines[lines.index("  ~ sunrise-mobile"):])
    document = json.loads(run(root, "drift", "--format", "json").out)
    assert document["counts"] == {"outside": 1, "unapplied": 1, "unknown": 0}

    run(root, "apply", "--yes").assert_success()
    history = run(root, "live", "history", "acme-telecom").assert_success().out.splitlines()
    assert [line.split()[1] for line in history if not line.startswith(" ")] == ["update", "create"]
    assert "    debit_limit             30000.00 -> 25000.00" in history
    assert history[0].endswith(" · by tester")

    status = run(root, "live", "status").assert_success().out.splitlines()
    assert status[:2] == [
        f"connexcs {cx.url} (state: sqlite .reconciler/state.sqlite)", "schema version: 2",
    ]
    assert "customers: 7 (7 managed, 0 unmanaged; 0 deactivated by the reconciler)" in status
    assert "mapping: flow_speed -> cps" in status
    assert status[-1].startswith("mapping check: customer ") and status[-1].endswith(" carries every mapped name")

    # A repository of its own, empty, with a state store of its own: import, then nothing to do.
    fresh = project(tmp_path / "fresh", cx, customers=False)
    imported = run(fresh, "import").assert_success()
    assert imported.out.splitlines()[3:5] == [
        "customers.d/acme-telecom.yaml: written", "customers.d/fjord-connect-as.yaml: written",
    ]
    assert imported.out.splitlines()[-1] == (
        f"Imported 7 customers from connexcs {cx.url} (state: sqlite .reconciler/state.sqlite); "
        "`reconciler plan` now shows no changes."
    )
    after_import = run(fresh, "plan", "--detailed-exitcode")
    assert (after_import.code, body(after_import)) == (0, ["No changes."])
    assert run(fresh, "live", "history", "kiwi-link-ltd").out.split()[1] == "import"
    assert sorted(path.stem for path in (fresh / "customers.d").iterdir())[0] == "acme-telecom"
    assert CONNEXCS_PASSWORD not in "".join(run.outputs)


def test_a_saved_plan_made_before_an_edit_in_the_panel_is_stale(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    root = project(tmp_path / "repo", cx)
    run = Cli(tmp_path)
    run(root, "apply", "--yes").assert_success()
    kiwi = root / "customers.d/kiwi-link.toml"
    kiwi.write_text(kiwi.read_text().replace("channels = 8", "channels = 9"))
    run(root, "plan", "--out", str(root / "plan.json")).assert_success()
    httpx.put(cx.url + f"customer/{live_id(cx, 'Kiwi Link Ltd')}", json={"channels": 12},
              auth=(CONNEXCS_USER, CONNEXCS_PASSWORD)).raise_for_status()
    stale = run(root, "apply", str(root / "plan.json"))
    assert (stale.code, stale.err) == (1, (
        "error: the live platform changed since the plan was made; nothing was applied. Make a new plan (or apply "
        "the rest with --partial):\n  kiwi-link: channels is now 12, the plan expected 8\n"
    ))
    assert next(record["channels"] for record in cx.records() if record["name"] == "Kiwi Link Ltd") == 12


def test_a_live_customer_is_adopted_by_name_under_the_files_key(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    live = cx.seed({"name": "ACME Telecom Inc.", "currency": "USD", "status": "Active", "channels": 5,
                    "portal_theme": "dark"})
    root = project(tmp_path / "repo", cx, customers=False)
    (root / "customers.d").mkdir()
    (root / "customers.d/acme.yaml").write_text("name: Acme Telecom Inc.\ncurrency: USD\nchannels: 6\n")
    run = Cli(tmp_path)
    plan = run(root, "plan").assert_success()
    assert "acme" in plan.out and "acme-telecom-inc" in plan.out
    run(root, "apply", "--yes").assert_success()
    assert [(request.method, request.path) for request in cx.requests if request.method != "GET"] == [
        ("PUT", f"customer/{live}"),
    ]
    [record] = cx.records()
    assert (record["id"], record["name"], record["channels"], record["portal_theme"]) == (
        live, "Acme Telecom Inc.", 6, "dark",
    )
    assert body(run(root, "plan")) == ["No changes."]
    history = run(root, "live", "history", "acme").out.splitlines()
    assert [line.split()[1] for line in history if not line.startswith(" ")] == ["update", "rename"]
    assert "    key                     acme-telecom-inc -> acme" in history


def test_live_status_names_the_mapped_names_a_record_lacks(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    root = project(tmp_path / "repo", cx)
    (root / "reconciler.toml").write_text(
        (root / "reconciler.toml").read_text() + '[live.mapping]\n"config.vars" = "routing_vars"\n'
    )
    run = Cli(tmp_path)
    empty = run(root, "live", "status").assert_success().out.splitlines()
    assert empty[-1] == "mapping check: no live customer to check the mapped names against"
    assert "mapping: config.vars -> routing_vars" in empty
    cx.seed({"name": "Acme", "currency": "USD", "status": "Active", "channels": 3, "cps": "1"})
    status = run(root, "live", "status").assert_success().out.splitlines()
    start = status.index("mapping check: customer 1 (Acme) does not carry 36 of 41 mapped names; check them, "
                         "and override the wrong ones in [live.mapping]:")
    assert status[start + 1:start + 4] == ["  debit_limit -> debit_limit", "  minimum_payment -> minimum_payment",
                                           "  topup_currencies -> topup_currencies"]
    assert "  config.vars -> routing_vars" in status[start:]
    sources = next(line for line in status if line.startswith("mapping sources: "))
    assert sources == "mapping sources: 6 confirmed, 2 third-party code, 32 guess, 1 reconciler.toml"
    assert "customers: 1 (0 managed, 1 unmanaged; 0 deactivated by the reconciler)" in status


def test_a_500_in_the_middle_of_an_apply_then_a_rerun(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    # One write at a time, and no retry budget: the first 500 makes the platform "unavailable".
    root = project(tmp_path / "repo", cx, options="write_concurrency = 1\nretry_budget_seconds = 0\n")
    run = Cli(tmp_path)
    run(root, "apply", "--yes").assert_success()
    for path in (root / "customers.d").iterdir():
        separator = ": " if path.suffix == ".yaml" else " = "
        path.write_text(path.read_text().replace(f"channels{separator}", f"channels{separator}1", 1))
    # The third customer of the plan (in key order) fails.
    cx.fail("PUT", f"customer/{live_id(cx, 'Globex Carrier GmbH')}", "500")
    outcome = run(root, "apply", "--yes")
    assert outcome.code == 4
    report = outcome.out.splitlines()[-6:]
    assert report[0].startswith("  failed   globex-carrier: globex-carrier: PUT customer/")
    assert report[0].endswith(
        " answered 500 Internal Server Error after 1 attempt in 0.0 s; the retry budget of 0 s "
        "(live.options.retry_budget_seconds) is spent: the platform is rate limiting or unavailable; try again "
        "later"
    )
    assert report[1:5] == [
        f"  not attempted {key}: the platform was unavailable (see the failed write); run apply again later"
        for key in ("kiwi-link", "nightowl-callcentre", "northwind-voip", "sunrise-mobile")
    ]
    assert report[5].startswith("Applied 2, skipped 0, failed 1, stale 0, blocked 0, not attempted 4 (plan ")

    engine = create_engine(f"sqlite:///{root / '.reconciler/state.sqlite'}")
    with engine.connect() as connection:
        written = connection.execute(text(
            "SELECT customer_key, result FROM state_audit WHERE action = 'update' AND field = 'channels' "
            "ORDER BY customer_key"
        )).all()
    engine.dispose()
    assert [tuple(row) for row in written] == [
        ("acme-telecom", "applied"), ("fjord-connect", "applied"), ("globex-carrier", "failed"),
    ]

    cx.requests.clear()
    rerun = run(root, "apply", "--yes").assert_success()
    assert rerun.out.splitlines()[-1].startswith("Applied 5, skipped 0, failed 0, stale 0, blocked 0 (plan ")
    assert len([request for request in cx.requests if request.method == "PUT"]) == 5  # nothing twice
    assert body(run(root, "plan")) == ["No changes."]
    history = run(root, "live", "history", "acme-telecom").out.splitlines()
    assert [line.split()[1] for line in history if not line.startswith(" ")] == ["update", "create"]


def test_no_output_of_a_failing_run_shows_a_credential(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    environ = {**CONNEXCS_ENVIRON, "RECONCILER_CONNEXCS_TOKEN": TOKEN}
    run = Cli(tmp_path, environ)
    shown: list[str] = []
    for auth in ("basic", "jwt", "token"):
        root = project(tmp_path / auth, cx, options=f'auth = "{auth}"\nretry_budget_seconds = 0\n')
        run(root, "apply", "--yes")
        for key in ("acme-telecom.yaml", "sunrise-mobile.yaml"):
            path = root / "customers.d" / key
            path.write_text(path.read_text().replace("channels: ", "channels: 1", 1))
        plan = run(root, "plan", "--out", str(root / "plan.json"), "--format", "json")
        shown.append((root / "plan.json").read_text() if (root / "plan.json").exists() else plan.out)
        for fault in ("500", "429", "html", "truncated", "401"):
            cx.fail("*", "customer", fault, times=3)
            for argv in (("apply", "--yes"), ("drift",), ("live", "status"), ("apply", str(root / "plan.json"))):
                run(root, *argv)
            for _ in range(3):  # what the runs above left of the fault
                if cx.pending_faults():
                    run(root, "plan")
            assert not cx.pending_faults()
        for argv in (("live", "history", "acme-telecom"), ("import", "--overwrite"), ("live", "status")):
            run(root, *argv)
        engine = create_engine(f"sqlite:///{root / '.reconciler/state.sqlite'}")
        with engine.connect() as connection:
            for table in ("state_audit", "state_binding", "state_lease"):
                shown.append(repr(connection.execute(text(f"SELECT * FROM {table}")).all()))
        engine.dispose()
    wrong = Cli(tmp_path, {"RECONCILER_CONNEXCS_USER": CONNEXCS_USER, "RECONCILER_CONNEXCS_PASSWORD": "nope-Pa55"})
    refused = wrong(tmp_path / "basic", "plan")
    assert (refused.code, refused.err) == (1, (
        "error: GET customer answered 401 Unauthorized: ConnexCS refused the credentials in "
        "RECONCILER_CONNEXCS_USER and RECONCILER_CONNEXCS_PASSWORD; check them (a token may have expired or "
        "been revoked)\n"
    ))
    everything = run.outputs + wrong.outputs + shown + [repr(cx.requests)]
    assert any("error: " in text for text in run.outputs)  # the faults did fail runs
    for secret in (CONNEXCS_PASSWORD, TOKEN, "nope-Pa55"):
        assert not [text for text in everything if secret in text], secret


def test_ci_refuses_a_state_store_that_dies_with_the_job(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    root = project(tmp_path / "repo", cx)
    run = Cli(tmp_path, environ={**CONNEXCS_ENVIRON, "CI": "true"})
    outcome = run(root, "apply", "--yes")
    assert (outcome.code, outcome.err) == (1, (
        "error: refusing to apply to connexcs from CI with the state store in SQLite: the key -> id map, the "
        'audit and the lock would die with this job; set [state] provider = "postgresql" (with its url_env) in '
        "reconciler.toml, or allow_in_ci = true under [state] on a runner whose workspace persists\n"
    ))
    assert cx.records() == []
    config = root / "reconciler.toml"
    config.write_text(config.read_text().replace('[state]\n', '[state]\nallow_in_ci = true\n'))
    assert run(root, "apply", "--yes").code == 0


def test_a_hostile_live_record_is_shown_escaped_by_every_command(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    """A record whose name is an escape sequence and half of a surrogate pair (JSON can spell
    one): every command reads it as unreadable and shows it escaped, as text a terminal can
    be sent, and goes on with the others."""
    cx.seed({"name": "Evil\x1b[2J\ud800", "currency": "USD", "status": "Active", "channels": 3, "tags": ["a\udcff"]})
    root = project(tmp_path / "repo", cx)
    run = Cli(tmp_path)
    outcomes = {
        "plan": run(root, "plan"), "drift": run(root, "drift"), "status": run(root, "live", "status"),
        "import": run(project(tmp_path / "empty", cx, customers=False), "import"),
    }
    assert {name: outcome.code for name, outcome in outcomes.items()} == {"plan": 0, "drift": 2, "status": 0, "import": 3}
    for outcome in outcomes.values():
        shown = outcome.out + outcome.err
        assert "Traceback" not in shown and "\x1b" not in shown
        shown.encode("utf-8")  # no half of a surrogate pair, which no terminal can be sent
    assert "unmanaged (live, not in git, left alone): evil-2j\n" in outcomes["plan"].out
    assert "mapping check: customer 1 (Evil\\x1b[2J\\ud800) does not carry" in outcomes["status"].out
    assert "skipped evil-2j: live record unreadable: name: 'Evil\\x1b[2J\\ud800' (contains the control" in (
        outcomes["import"].err
    )
