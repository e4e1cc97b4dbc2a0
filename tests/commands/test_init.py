"""`reconciler init`: a customer repository of your own that works straight away."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import Run
from git_repos import GitRepo


def test_init_then_validate_plan_apply_and_nothing_left(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path / "mine")
    outcome = run(repo.root, "init", str(repo.root)).assert_success()
    assert outcome.out.splitlines()[0] == "wrote reconciler.toml"
    for name in ("customers.d/example-carrier.yaml", ".gitignore", ".pre-commit-config.yaml", ".vscode/settings.json",
                 ".github/workflows/apply.yml", "schemas/customer.schema.json", "schemas/overlay.schema.json"):
        assert (repo.root / name).is_file(), name
    assert len(list((repo.root / "plans").iterdir())) == 1
    repo.commit("Customers")
    run(repo.root, "validate").assert_success()
    plan = run(repo.root, "plan").assert_success()
    assert "  + example-carrier         create (USD, 30 channels, 5 cps, active)\n" in plan.out
    run(repo.root, "apply", "--yes").assert_success()
    again = run(repo.root, "plan", "--detailed-exitcode").assert_success()
    assert again.out.endswith("No changes.\n") and "uncommitted" not in again.out  # .gitignore keeps the store out


def test_the_schema_comments_resolve_in_the_new_repository(tmp_path: Path, run: Run) -> None:
    run(tmp_path, "init", str(tmp_path)).assert_success()
    first = (tmp_path / "customers.d/example-carrier.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/customer.schema.json"
    assert (tmp_path / "customers.d" / "../schemas/customer.schema.json").resolve().is_file()
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    checked = subprocess.run([tool, "--schemafile", str(tmp_path / "schemas/customer.schema.json"),
                              str(tmp_path / "customers.d/example-carrier.yaml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_init_keeps_what_is_there_unless_forced(tmp_path: Path, run: Run) -> None:
    (tmp_path / "reconciler.toml").write_text("# mine\n")
    outcome = run(tmp_path, "init", str(tmp_path))
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == f"error: {tmp_path / 'reconciler.toml'} already exists; pass --force to replace it\n"
    assert (tmp_path / "reconciler.toml").read_text() == "# mine\n"
    assert not (tmp_path / "customers.d").exists()  # nothing written
    forced = run(tmp_path, "init", str(tmp_path), "--force").assert_success()
    assert forced.out.splitlines()[0] == "replaced reconciler.toml"


def test_init_for_postgresql(tmp_path: Path, run: Run) -> None:
    outcome = run(tmp_path, "init", str(tmp_path), "--provider", "postgresql").assert_success()
    config = tomllib.loads((tmp_path / "reconciler.toml").read_text())
    assert config["live"] == {"provider": "postgresql", "options": {"url_env": "RECONCILER_DATABASE_URL"}}
    assert "with the postgresql extra" in outcome.out and "RECONCILER_DATABASE_URL" in outcome.out


def test_apply_refuses_an_sqlite_store_in_ci_unless_meant(tmp_path: Path, run: Run) -> None:
    run(tmp_path, "init", str(tmp_path)).assert_success()
    environ = {"CI": "true", "USER": "ci"}
    outcome = run(tmp_path, "apply", "--yes", environ=environ)
    assert (outcome.code, outcome.err) == (1, (
        "error: refusing to apply into an SQLite store in CI: it lives only as long as this job, so the apply "
        "would be lost; point reconciler.toml at a shared store (postgresql, connexcs), or set allow_in_ci = true "
        "under [live.options] if a throwaway store is what you mean\n"
    ))
    config = tmp_path / "reconciler.toml"
    config.write_text(config.read_text().replace("# allow_in_ci = true", "allow_in_ci = true"))
    run(tmp_path, "apply", "--yes", environ=environ).assert_success()
