"""The GitHub workflows of a customer repository (the ones `reconciler init` writes) and the
pre-commit hook: linted (actionlint, and the workflow JSON schema that check-jsonschema
ships), and their `reconciler` steps run for real, in bash as the runner would, against the
SQLite store in a repository made by `reconciler init`, with an origin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO, Run
from git_repos import GitRepo
from sqlalchemy import create_engine, update

from reconciler.providers.schema import customer

STARTER = REPO / "reconciler/starter/workflows"
BIN = Path(sys.executable).parent


def _workflow(name: str, folder: Path = STARTER) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((folder / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads the key `on` as true
    return loaded


def test_this_repositorys_workflows_are_the_ones_init_writes() -> None:
    for path in sorted(STARTER.glob("*.yml")):
        assert (REPO / ".github/workflows" / path.name).read_text() == path.read_text(), path.name


def test_actionlint_finds_nothing() -> None:
    actionlint = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    assert actionlint, "actionlint is not installed: pip install -e '.[test]' installs it"
    result = subprocess.run(
        [actionlint, "-no-color", *sorted(str(path) for path in STARTER.glob("*.yml"))],
        capture_output=True, text=True, check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *sorted(str(path) for path in STARTER.glob("*.yml"))],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_each_workflow_promises() -> None:
    review = _workflow("pull-request.yml")
    assert "pull_request" in review["on"]
    steps = review["jobs"]["review"]["steps"]
    script = next(step["with"]["script"] for step in steps if "github-script" in step.get("uses", ""))
    assert "<!-- reconciler-diff -->" in script and "updateComment" in script
    fail = next(step for step in steps if step.get("name") == "Fail the check when the merged state would be blocked")
    assert fail["if"] == "steps.diff.outputs.status == '3'"  # a blocked change fails the check, comment posted

    apply = _workflow("apply.yml")
    scheduled = _workflow("scheduled.yml")
    assert apply["jobs"]["apply"]["if"] == "github.ref_name == github.event.repository.default_branch"
    assert scheduled["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    for workflow, job in ((review, "review"), (apply, "apply"), (scheduled, "apply-due")):
        install = workflow["jobs"][job]["steps"][2]
        assert 'python -m pip install "$RECONCILER_REQUIREMENT"' in install["run"]  # a pin, never "."
        checkout = workflow["jobs"][job]["steps"][0]
        assert checkout["with"]["fetch-depth"] == 0  # the history the commands read
    for workflow in (apply, scheduled):  # one group: a merge and the schedule never apply at once
        assert workflow["concurrency"] == {"group": "reconciler-live", "cancel-in-progress": False}
    keep = next(step for step in apply["jobs"]["apply"]["steps"] if "upload-artifact" in step.get("uses", ""))
    assert keep["if"].startswith("always()")  # a blocked plan still leaves its summary and its plan


def test_pre_commit_hook() -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["entry"], hook["language"], hook["pass_filenames"], hook["always_run"]) == (
        "reconciler-validate", "reconciler validate", "python", False, True,
    )
    local = yaml.safe_load((REPO / "reconciler/starter/pre-commit-config.yaml").read_text())
    [starter_hook] = local["repos"][0]["hooks"]
    assert (starter_hook["entry"], starter_hook["always_run"], starter_hook["pass_filenames"]) == (
        "reconciler validate", True, False,
    )


def _steps(workflow: str, job: str) -> list[dict[str, Any]]:
    """The job's steps that run the reconciler."""
    return [step for step in _workflow(workflow)["jobs"][job]["steps"] if "reconciler " in step.get("run", "")]


# What the runner would put in for the expressions the steps' env uses.
EXPRESSIONS = {"${{ github.base_ref }}": "main"}


def _expression(value: str) -> str:
    if "${{" not in value:
        return value
    assert value in EXPRESSIONS, f"the test does not know what {value} stands for"
    return EXPRESSIONS[value]


def _run_steps(steps: list[dict[str, Any]], cwd: Path, summary: Path, env: dict[str, str]) -> list[str]:
    """Run each step's script as the runner does (bash -eo pipefail); the names of those that failed."""
    failed = []
    for step in steps:
        step_env = {name: _expression(str(value)) for name, value in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd, env={**env, **step_env}, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            failed.append(f"{step['name']}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return failed


def test_reconciler_steps_run_for_real(tmp_path: Path, run: Run) -> None:
    origin = tmp_path / "origin.git"
    seed = GitRepo(tmp_path / "seed")
    run(seed.root, "init", str(seed.root)).assert_success()
    config = seed.root / "reconciler.toml"
    config.write_text(config.read_text().replace("# allow_in_ci = true", "allow_in_ci = true"))
    seed.commit("Customers", date="2026-11-01T00:00:00Z")
    subprocess.run(["git", "clone", "-q", "--bare", str(seed.root), str(origin)], check=True)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
    work = GitRepo.__new__(GitRepo)
    work.root = checkout
    summary = tmp_path / "summary.md"
    env = {
        **os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTOR": "ci-bot", "NO_COLOR": "1", "RECONCILER_DATABASE_URL": "unused-by-sqlite",
        "GITHUB_OUTPUT": str(tmp_path / "outputs"), "CI": "true", "RECONCILER_PLAN_KEY": "k" * 64,
    }

    # Pull request: a branch changes one customer.
    work.git("checkout", "-q", "-b", "more-channels")
    example = checkout / "customers.d/example-carrier.yaml"
    example.write_text(example.read_text().replace("channels: 30", "channels: 33"))
    work.commit("Example: 33 channels", author="priya", date="2026-11-02T00:00:00Z")
    assert _run_steps(_steps("pull-request.yml", "review"), checkout, summary, env) == []
    assert (checkout / "diff.md").read_text().count("| `channels` | 30 | 33 |") == 1
    assert "git origin/main...HEAD" in summary.read_text()

    # Merged: the push to main plans, keeps the plan, applies it.
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "-m", "Merge more-channels", "more-channels", date="2026-11-03T00:00:00Z")
    assert _run_steps(_steps("apply.yml", "apply"), checkout, summary, env) == []
    assert json.loads((checkout / "plan.json").read_text())["signature"].startswith("hmac-sha256:")
    assert run(checkout, "plan", "--detailed-exitcode").code == 0

    # The schedule: drift (exit 2) is reported, not a failure; apply puts it right.
    engine = create_engine(f"sqlite:///{checkout / '.reconciler/live.sqlite'}")
    with engine.begin() as connection:
        connection.execute(update(customer).where(customer.c.key == "example-carrier").values(channels=1))
    engine.dispose()
    summary.write_text("")
    assert _run_steps(_steps("scheduled.yml", "apply-due"), checkout, summary, env) == []
    report = summary.read_text()
    assert "| `channels` | 1 | 33 | changed outside the reconciler |" in report
    assert report.count("No drift: the live platform matches git.") == 1  # after applying
