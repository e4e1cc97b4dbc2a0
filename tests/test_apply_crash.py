"""Apply killed with SIGKILL at every point between writes converges on the next run.

A child process runs the real CLI with the SQLite store's write methods wrapped to kill
the process once N writes are done (inside a batch's transaction; writes the store makes
together, `write_many`, count as done together) or after the Nth commit
(between batches). The next `apply` of the same saved plan must finish the work, a new
plan must find nothing to do, and the audit table must hold each change exactly once.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Run
from sqlalchemy import create_engine, text

AT = "2026-11-27T10:00:00Z"
CHANGES = 6  # four updates, one deactivation, one creation
BATCH = 2

CHILD = r"""
import contextlib, os, signal, sys
from reconciler.cli import main
from reconciler.providers.sql import SqlProvider

mode, limit = sys.argv[1], int(sys.argv[2])
count = 0

def bump(writes=1):
    global count
    count += writes
    if count >= limit:
        os.kill(os.getpid(), signal.SIGKILL)

def after_write(method):
    def write(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        bump()
        return result
    return write

def after_writes(method):  # a batch written together (write_many): killed once it is written
    def write_together(self, connection, writes, *prepared):
        written = method(self, connection, writes, *prepared)
        if written:
            bump(len(writes))
        return written
    return write_together

def after_commit(method):
    @contextlib.contextmanager
    def transaction(self):
        with method(self):
            yield
        bump()
    return transaction

if mode == "write":
    for name in ("create", "update", "deactivate", "delete", "rename"):
        setattr(SqlProvider, name, after_write(getattr(SqlProvider, name)))
    SqlProvider._write_together = after_writes(SqlProvider._write_together)
else:
    SqlProvider.transaction = after_commit(SqlProvider.transaction)
sys.exit(main(sys.argv[3:]))
"""


def _audit(store: Path, plan_id: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
    engine = create_engine(f"sqlite:///{store}")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "select customer_key, action, field, before_value, after_value from audit "
                "where plan_id = :plan_id order by customer_key, action, field"
            ),
            {"plan_id": plan_id},
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture(scope="module")
def outside_ci_for_the_module() -> Iterator[None]:
    """`outside_ci` for the module's own fixtures, which run before any test's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CI", raising=False)
        yield


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, outside_ci_for_the_module: None) -> tuple[Path, Path, str]:
    """A project whose store holds the examples, a saved plan of six changes, and its id."""
    import json

    from reconciler.cli import main

    root = tmp_path_factory.mktemp("crash") / "repo"
    shutil.copytree(Path(__file__).resolve().parents[1] / "customers.d", root / "customers.d")
    config = (Path(__file__).resolve().parents[1] / "reconciler.toml").read_text()
    config = config.replace("lock_ttl_seconds = 300", "lock_ttl_seconds = 1")
    config = config.replace("lock_wait_seconds = 30", "lock_wait_seconds = 10")
    config = config.replace("apply_batch_size = 100", f"apply_batch_size = {BATCH}")
    (root / "reconciler.toml").write_text(config)
    assert main(["-C", str(root), "apply", "--yes", "--at", AT]) == 0
    customers = root / "customers.d"
    for name, old, new in [
        ("acme-telecom.yaml", "channels: 300", "channels: 320"),
        ("northwind-voip.toml", "channels = 20", "channels = 25"),
        ("fjord-connect.yaml", "status: penalty", "status: active"),
        ("sunrise-mobile.yaml", "debit_limit: 10000", "debit_limit: 12000.50"),
    ]:
        (customers / name).write_text((customers / name).read_text().replace(old, new))
    (customers / "kiwi-link.toml").unlink()
    (customers / "tiny-co.yaml").write_text("currency: USD\nchannels: 2\n")
    plan_file = root / "plan.json"
    assert main(["-C", str(root), "plan", "--out", str(plan_file), "--at", AT]) == 0
    plan = json.loads(plan_file.read_text())
    assert sum(plan["counts"].values()) == CHANGES
    shutil.copy(root / ".reconciler" / "live.sqlite", root / "before-apply.sqlite")
    return root, plan_file, plan["plan_id"]


@pytest.fixture(scope="module")
def reference_audit(
    scenario: tuple[Path, Path, str], outside_ci_for_the_module: None
) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """The audit records of the same plan applied without a crash."""
    from reconciler.cli import main

    root, plan_file, plan_id = scenario
    store = root / ".reconciler" / "live.sqlite"
    shutil.copy(root / "before-apply.sqlite", store)
    assert main(["-C", str(root), "apply", str(plan_file)]) == 0
    records = _audit(store, plan_id)
    assert len(records) >= CHANGES
    return records


KILL_POINTS = [("write", n) for n in range(1, CHANGES + 1)] + [("commit", n) for n in range(1, CHANGES // BATCH + 1)]


@pytest.mark.parametrize(("mode", "limit"), KILL_POINTS, ids=[f"{mode}-{limit}" for mode, limit in KILL_POINTS])
def test_killed_apply_converges_with_nothing_lost_or_doubled(
    scenario: tuple[Path, Path, str],
    reference_audit: list[tuple[str, str, str | None, str | None, str | None]],
    run: Run,
    mode: str,
    limit: int,
) -> None:
    root, plan_file, plan_id = scenario
    store = root / ".reconciler" / "live.sqlite"
    shutil.copy(root / "before-apply.sqlite", store)
    for journal in store.parent.glob("live.sqlite-*"):
        journal.unlink()

    child = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(limit), "-C", str(root), "apply", str(plan_file)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    # The killed run's lease expires (lock_ttl_seconds = 1); the rerun waits for it.
    rerun = run(root, "apply", str(plan_file))
    assert rerun.code == 0, rerun.out + rerun.err
    assert run(root, "plan", "--detailed-exitcode", "--at", AT).code == 0
    assert _audit(store, plan_id) == reference_audit


def test_a_fresh_plan_after_a_crash_finishes_the_work(scenario: tuple[Path, Path, str], run: Run) -> None:
    root, plan_file, _ = scenario
    store = root / ".reconciler" / "live.sqlite"
    shutil.copy(root / "before-apply.sqlite", store)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "commit", "1", "-C", str(root), "apply", str(plan_file)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert child.returncode == -signal.SIGKILL
    rerun = run(root, "apply", "--yes", "--at", AT)
    assert rerun.code == 0, rerun.out + rerun.err
    assert rerun.out.splitlines()[-1].startswith(f"Applied {CHANGES - BATCH}, skipped 0, failed 0")
    assert run(root, "plan", "--detailed-exitcode", "--at", AT).code == 0
