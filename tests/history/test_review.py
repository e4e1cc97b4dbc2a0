"""Review over time: a pull request's diff shows what the schedule does to the change, and a
Gantt chart of the scheduled changes of the customers it touches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from conftest import EXAMPLES, REPO, Run
from git_repos import GitRepo
from invoke import NOW

from reconciler.plan.file import PLAN_SCHEMA

XMAS = "plans/2026-12-24T1800Z_xmas-capacity.yaml"


def _examples_with_a_change(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    shutil.copytree(EXAMPLES, repo.root / "customers.d")
    shutil.copytree(REPO / "plans", repo.root / "plans")
    shutil.copy(REPO / "reconciler.toml", repo.root / "reconciler.toml")
    repo.commit("The examples")
    path = repo.root / "customers.d/acme-telecom.yaml"
    path.write_text(path.read_text().replace("channels: 300", "channels: 999"))
    return repo


def test_the_pull_request_comment_shows_the_christmas_interaction_and_a_chart(tmp_path: Path, run: Run) -> None:
    repo = _examples_with_a_change(tmp_path)
    outcome = run(repo.root, "diff", "HEAD", "--format", "markdown", now=NOW).assert_success()
    assert (
        f"- ⏰ from 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z {XMAS} sets channels to 400 (this change: 999)"
        in outcome.out
    )
    start = outcome.out.index("```mermaid")
    chart = outcome.out[start : outcome.out.index("```\n", start + 3) + 4]
    assert chart == (
        "```mermaid\n"
        "gantt\n"
        "    title Scheduled changes from 2026-11-27 to 2027-02-25 (UTC)\n"
        "    dateFormat YYYY-MM-DDTHH:mm\n"
        "    axisFormat %Y-%m-%d\n"
        "    section acme-telecom\n"
        "    Credit review passed limit raised from December (ticket FIN-2291) (2026-12-01_raise-acme-limit.yaml) : "
        "2026-12-01T00:00, 2027-02-25T10:00\n"
        "    Christmas peak (2026-12-24T1800Z_xmas-capacity.yaml) : 2026-12-24T18:00, 2026-12-27T06:00\n"
        "```\n"
    )
    # How many customers change at each of those instants: what the safety thresholds will see.
    table = outcome.out[outcome.out.index("| instant |"):].splitlines()[:5]
    assert table == [
        "| instant | starting or ending | customers changing then |",
        "|---|---|---:|",
        "| 2026-12-01T00:00:00Z | `plans/2026-12-01_raise-acme-limit.yaml` | 1 |",
        f"| 2026-12-24T18:00:00Z | `{XMAS}` | 2 |",
        f"| 2026-12-27T06:00:00Z | `{XMAS}` | 2 |",
    ]


def test_the_text_and_json_diff_carry_the_review(tmp_path: Path, run: Run) -> None:
    repo = _examples_with_a_change(tmp_path)
    text = run(repo.root, "diff", "HEAD", now=NOW).assert_success().out
    assert text.splitlines()[1:] == [
        "  ~ acme-telecom            update",
        "      channels              300 -> 999",
        f"      from 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z {XMAS} sets channels to 400 (this change: 999)",
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.",
    ]
    document = json.loads(run(repo.root, "diff", "HEAD", "--format", "json", now=NOW).out)
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(document)
    assert document["review"]["later"] == [{
        "key": "acme-telecom", "field": "channels", "start": "2026-12-24T18:00:00Z", "end": "2026-12-27T06:00:00Z",
        "overlay": XMAS, "value": 400, "planned": 999,
    }]


def test_timeline_as_a_mermaid_chart(tmp_path: Path, run: Run) -> None:
    repo = _examples_with_a_change(tmp_path)
    outcome = run(repo.root, "timeline", "kiwi-link", "--format", "mermaid", "--to", "2027-01-31", now=NOW)
    assert outcome.assert_success().out == (
        "```mermaid\n"
        "gantt\n"
        "    title Scheduled changes from 2026-11-27 to 2027-01-31 (UTC)\n"
        "    dateFormat YYYY-MM-DDTHH:mm\n"
        "    axisFormat %Y-%m-%d\n"
        "    section kiwi-link\n"
        "    Kiwi Link reopens in its new office (2027-01-04_kiwi-link-reopens.toml) : 2027-01-04T00:00, 2027-01-31T00:00\n"
        "```\n"
    )
