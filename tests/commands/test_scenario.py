"""The whole review-merge-apply-audit loop, scripted on a real repository and the SQLite store.

Open a branch, change two customers and schedule a change, `diff` shows exactly those;
merge, apply, `live history` names the merge commit; edit the live store behind the
reconciler's back, `drift` reports it as changed outside the reconciler.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, Run
from git_repos import GitRepo
from sqlalchemy import create_engine, update

from reconciler.providers.schema import customer

AT = "2026-11-20T12:00:00Z"  # after northwind's overlay, before acme's


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


XMAS = "plans/2026-12-24T1800Z_xmas-capacity.yaml"


def test_branch_diff_merge_apply_history_drift(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(tmp_path / "repo")
    root = repo.root
    shutil.copytree(EXAMPLES, root / "customers.d")
    shutil.copytree(REPO / "plans", root / "plans")
    shutil.copy(REPO / "reconciler.toml", root / "reconciler.toml")
    repo.write(".gitignore", ".reconciler/\n")
    repo.commit("Customers as of November", author="dana", date="2026-11-01T09:00:00Z")
    monkeypatch.setenv("GITHUB_ACTOR", "ci-bot")
    run(root, "apply", "--yes", "--at", AT).assert_success()

    # A branch: two customers change, one scheduled change is added.
    repo.git("checkout", "-q", "-b", "more-capacity")
    _edit(root / "customers.d/acme-telecom.yaml", "channels: 300", "channels: 320")
    _edit(root / "customers.d/fjord-connect.yaml", "debit_limit: 1000.00", "debit_limit: 1500.00")
    repo.write(
        "plans/2026-11-15_sunrise-trial.yaml",
        "reason: Capacity trial (ticket OPS-5120)\nuntil: 2026-12-15T00:00:00Z\n"
        "customers:\n  sunrise-mobile:\n    channels: 550\n",
    )
    repo.commit("More capacity for Acme and Sunrise; Fjord limit", author="priya", date="2026-11-18T10:00:00Z")

    diff = run(root, "diff", "--at", AT, "--detailed-exitcode")
    assert diff.code == 2
    assert diff.out.splitlines()[1:] == [
        "  ~ acme-telecom            update",
        "      channels              300 -> 320",
        # Review over time: where the schedule gives a changed field another value.
        f"      from 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z {XMAS} sets channels to 400 (this change: 320)",
        "  ~ fjord-connect           update",
        "      debit_limit           1000.00 -> 1500.00 NOK",
        "  ~ sunrise-mobile          update",
        "      channels              500 -> 550",
        "      from 2026-12-15T00:00:00Z to 2026-12-24T18:00:00Z customers.d/sunrise-mobile.yaml sets channels "
        "to 500 (this change: 550)",
        f"      from 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z {XMAS} sets channels to 650 (this change: 550)",
        "      from 2026-12-27T06:00:00Z on customers.d/sunrise-mobile.yaml sets channels to 500 (this change: 550)",
        "0 to create, 3 to update, 0 to deactivate, 0 blocked.",
    ]
    assert diff.out.splitlines()[0].endswith(f"commit {repo.short()} · git main...working tree")

    # Merge, then apply what was merged.
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'more-capacity'", "more-capacity",
             author="dana", date="2026-11-19T08:00:00Z")
    merge = repo.short()
    assert repo.git("rev-list", "--parents", "-n", "1", "HEAD").count(" ") == 2  # a merge commit
    plan = run(root, "plan", "--out", str(tmp_path / "plan.json"), "--at", AT).assert_success()
    assert f"commit {merge}" in plan.out.splitlines()[0]
    applied = run(root, "apply", str(tmp_path / "plan.json"), "--yes").assert_success()
    assert applied.out.startswith("Applied 3, skipped 0, failed 0, stale 0, blocked 0")

    history = run(root, "live", "history", "acme-telecom").assert_success()
    newest = history.out.splitlines()[:2]
    assert newest[0].split("  ", 1)[1] == f"update     acme-telecom · commit {merge} · plan {_plan_id(tmp_path)} · by ci-bot"
    assert newest[1] == "    channels                300 -> 320"
    assert run(root, "drift", "--at", AT).code == 0

    # Someone raises acme's channels on the platform itself.
    engine = create_engine(f"sqlite:///{root / '.reconciler/live.sqlite'}")
    with engine.begin() as connection:
        connection.execute(update(customer).where(customer.c.key == "acme-telecom").values(channels=999))
    engine.dispose()
    drift = run(root, "drift", "--at", AT)
    assert drift.code == 2
    lines = drift.out.splitlines()
    assert lines[1:3] == [
        "  ~ acme-telecom",
        "      channels              live 999, git 320: changed outside the reconciler (the reconciler wrote 320 on "
        + lines[2].split(" on ", 1)[1],
    ]
    assert lines[2].endswith(f" by ci-bot from commit {merge})")
    assert lines[3] == "1 customer drifted: 1 changed outside the reconciler."


def _plan_id(tmp_path: Path) -> str:
    import json

    return str(json.loads((tmp_path / "plan.json").read_text())["plan_id"])
