"""`reconciler timeline`: every scheduled change, customer by customer, on real files and a real
git repository."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from conftest import Run
from invoke import invoke, run_cli, write_files
from overlay_cases import SCHEDULE_FILES

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 27, 10, tzinfo=UTC)

@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path, SCHEDULE_FILES)


def git(root: Path, *argv: str) -> str:
    environment = {
        "GIT_AUTHOR_NAME": "Dana", "GIT_AUTHOR_EMAIL": "dana@example.com",
        "GIT_COMMITTER_NAME": "Dana", "GIT_COMMITTER_EMAIL": "dana@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-C", str(root), *argv], check=True, capture_output=True, text=True, env=environment
    ).stdout.strip()


def test_timeline_text(project: Path) -> None:
    code, out = run_cli(project, "timeline")
    assert code == 0
    assert out == """\
acme
  2026-12-01T00:00:00Z  Credit review passed
    plans/2026-12-01_raise-limit.yaml (uncommitted)
    debit_limit               25000.00 USD -> 30000.00 USD
  2026-12-24T18:00:00Z  Christmas peak (until 2026-12-27T06:00:00Z)
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    channels                  300 -> 400
  2026-12-26T00:00:00Z  Boxing day
    plans/2026-12-26_more-xmas.yaml (uncommitted)
    channels                  400 -> 450
  2026-12-27T06:00:00Z  ends: Christmas peak
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    no change
globex
  2026-12-24T18:00:00Z  Christmas peak (until 2026-12-27T06:00:00Z)
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    channels                  100 -> 150
  2026-12-27T06:00:00Z  ends: Christmas peak
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    channels                  150 -> 100
newco
  2027-01-04T00:00:00Z  Newco signs
    plans/2027-01-04_newco.yaml (uncommitted)
    created (GBP)
"""


def test_timeline_of_some_customers_between_two_instants(project: Path) -> None:
    code, out = run_cli(project, "timeline", "globex", "acme", "--from", "2026-12-24T18:00:00Z", "--to", "2026-12-27")
    assert code == 0
    assert out == """\
acme
  2026-12-24T18:00:00Z  Christmas peak (until 2026-12-27T06:00:00Z)
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    channels                  300 -> 400
  2026-12-26T00:00:00Z  Boxing day
    plans/2026-12-26_more-xmas.yaml (uncommitted)
    channels                  400 -> 450
globex
  2026-12-24T18:00:00Z  Christmas peak (until 2026-12-27T06:00:00Z)
    plans/2026-12-24T1800Z_xmas.yaml (uncommitted)
    channels                  100 -> 150
"""
    assert run_cli(project, "timeline", "--from", "2028-01-01") == (0, "No scheduled changes.\n")


def test_timeline_names_the_commit_that_added_each_file(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "customers.d", "plans/2026-12-01_raise-limit.yaml")
    git(project, "commit", "-q", "-m", "Raise the limit")
    commit = git(project, "rev-parse", "HEAD")
    code, out = run_cli(project, "timeline", "acme", "--to", "2026-12-02", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "customers": [
            {
                "key": "acme",
                "changes": [
                    {
                        "at": "2026-12-01T00:00:00Z",
                        "event": "starts",
                        "action": "update",
                        "reason": "Credit review passed",
                        "until": None,
                        "file": "plans/2026-12-01_raise-limit.yaml",
                        "commit": commit,
                        "fields": [{"field": "debit_limit", "before": "25000.00", "after": "30000.00"}],
                    }
                ],
            }
        ]
    }
    _, text = run_cli(project, "timeline", "acme", "--to", "2026-12-02")
    assert f"plans/2026-12-01_raise-limit.yaml (added in {commit[:7]})" in text


def test_timeline_markdown_for_a_pull_request(project: Path) -> None:
    code, out = run_cli(project, "timeline", "globex", "--format", "markdown")
    assert code == 0
    assert out == """\
### globex

- **2026-12-24T18:00:00Z** Christmas peak (until 2026-12-27T06:00:00Z) · `plans/2026-12-24T1800Z_xmas.yaml` (uncommitted)

  | field | before | after |
  |---|---|---|
  | `channels` | 100 | 150 |

- **2026-12-27T06:00:00Z** ends: Christmas peak · `plans/2026-12-24T1800Z_xmas.yaml` (uncommitted)

  | field | before | after |
  |---|---|---|
  | `channels` | 150 | 100 |
"""


def test_timeline_refuses_an_invalid_future(project: Path) -> None:
    (project / "plans/2027-02-01_bad.yaml").write_text("reason: r\ncustomers:\n  acme:\n    channels: -1\n")
    outcome = invoke(project, "timeline")
    assert (outcome.code, outcome.err) == (1, (
        f"error: {project}/plans/2027-02-01_bad.yaml:4:15: customers.acme.channels: must be at least 0, not -1 "
        "(at 2027-02-01T00:00:00Z)\n"
    ))


def test_an_unknown_key_is_an_error_with_a_suggestion(project: Path, run: Run) -> None:
    outcome = run(project, "timeline", "acmee")
    assert (outcome.code, outcome.err) == (1, "error: no customer acmee in customers.d/ or plans/; did you mean acme?\n")
    assert run(project, "timeline", "nobody-at-all").err == "error: no customer nobody-at-all in customers.d/ or plans/\n"
