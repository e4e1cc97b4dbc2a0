"""What lives in customers.d/ and plans/: documents only, read only from inside the repository.

A stray entry is an error that names it (a skipped `kiwi-link.TOML` would read as a
customer removed, and deactivate it); a FIFO never hangs a reader; a symbolic link out of
the repository is never read, so its lines never reach a message or a pull request."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import Run
from invoke import invoke


def _problems(project: Path, run: Run, *args: str) -> str:
    outcome = run(project, "validate", *args)
    assert outcome.code == 1, outcome.out
    return outcome.out.replace(f"{project}/", "")


def test_a_file_with_a_suffix_we_do_not_read_is_named_not_skipped(project: Path, run: Run) -> None:
    kiwi = project / "customers.d/kiwi-link.toml"
    kiwi.rename(project / "customers.d/kiwi-link.TOML")
    (project / "customers.d/acme-telecom.yml~").write_text("currency: USD\n")
    assert _problems(project, run) == (
        "customers.d/acme-telecom.yml~: 'acme-telecom.yml~' is not read here: only .yaml, .yml and .toml files are "
        "documents; move it out of the folder\n"
        "customers.d/kiwi-link.TOML: 'kiwi-link.TOML' is not read here: only .yaml, .yml and .toml files are "
        "documents; rename it kiwi-link.toml\n"
        "2 problems in 2 files.\n"
    )
    plan = run(project, "plan")
    assert plan.code == 1 and "kiwi-link.TOML" in plan.err  # never a plan that deactivates kiwi-link


def test_a_fifo_is_refused_without_blocking(project: Path, run: Run) -> None:
    os.mkfifo(project / "customers.d/y.yaml")
    (project / "plans").mkdir()
    os.mkfifo(project / "plans/2026-12-01_y.yaml")
    assert _problems(project, run) == (
        "customers.d/y.yaml: not a regular file (a folder, FIFO or device); it is not read\n"
        "plans/2026-12-01_y.yaml: not a regular file (a folder, FIFO or device); it is not read\n"
        "2 problems in 2 files.\n"
    )
    # Named directly, as a file or as a saved plan, it is refused the same way.
    assert "not a regular file" in _problems(project, run, str(project / "customers.d/y.yaml"))
    outcome = run(project, "apply", str(project / "plans/2026-12-01_y.yaml"))
    assert outcome.code == 1 and "not a regular file" in outcome.err


def test_a_symlink_out_of_the_repository_is_not_read(project: Path, run: Run, tmp_path: Path) -> None:
    secret = tmp_path / "outside.yaml"
    secret.write_text("currency: USD\nchannels: SECRET-IN-ERROR\n")
    (project / "customers.d/s.yaml").symlink_to(secret)
    (project / "customers.d/shadow.yaml").symlink_to("/etc/shadow")
    out = _problems(project, run)
    assert out == (
        "customers.d/s.yaml: a symbolic link to a file outside the repository; it is not read: copy the file in instead\n"
        "customers.d/shadow.yaml: a symbolic link to a file outside the repository; it is not read: copy the file in "
        "instead\n"
        "2 problems in 2 files.\n"
    )
    github = run(project, "validate", "--format", "github").out
    assert "SECRET" not in github and "root:" not in github


def test_a_symlink_inside_the_repository_is_read(project: Path, run: Run) -> None:
    (project / "shared").mkdir()
    (project / "customers.d/acme-telecom.yaml").rename(project / "shared/acme-telecom.yaml")
    (project / "customers.d/acme-telecom.yaml").symlink_to(project / "shared/acme-telecom.yaml")
    assert run(project, "validate").assert_success().out == "7 customers valid.\n"


@pytest.mark.parametrize("option", ["customers_dir", "plans_dir"])
def test_the_folders_must_be_inside_the_repository(project: Path, option: str, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = project / "reconciler.toml"
    text = config.read_text()
    text = re.sub(rf"(?m)^{option} = .*$", "", text)
    config.write_text(f'{option} = "../elsewhere"\n' + text)
    outcome = invoke(project, "validate")
    assert (outcome.code, outcome.err) == (
        1, f"error: {config}: {option}: '../elsewhere' is outside the repository; name a folder inside it\n"
    )


def test_validate_treats_each_named_file_by_what_it_is(project: Path, run: Run) -> None:
    (project / "plans").mkdir()
    (project / "plans/2026-12-01_x.yaml").write_text("reason: r\ncustomers:\n  acme-telecom:\n    channels: 5\n")
    config = project / "reconciler.toml"
    assert run(project, "validate", str(project / "plans"), str(config)).assert_success().out == (
        "7 customers valid.\n1 scheduled change valid (every customer checked at 1 instant).\n"
    )
    config.write_text(config.read_text().replace('provider = "sqlite"', "provider = 5"))
    outcome = run(project, "validate", str(config))
    assert (outcome.code, outcome.err) == (1, f"error: {config}:12:12: live.provider: 5 is not text; quote it\n")
