"""Agents as real processes on one real PostgreSQL store: never two applies at once, a
takeover within the lease time after SIGKILL, and SIGTERM that releases the lease and
exits 0. Every agent serves /metrics, read here over HTTP."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import point_at
from git_repos import GitRepo
from live_stores import ProviderSpec
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.postgresql

# Seconds the lease a killed agent leaves behind lasts: long enough that the agent taking
# over starts, plans and finds it held (a standby) even on a loaded machine.
TTL = 8

# An agent that SIGKILLs itself after its second write: it dies holding the lease.
DIES_MID_APPLY = r"""
import os, signal, sys
from reconciler.cli import main
from reconciler.providers.sql import SqlProvider

count = 0
create = SqlProvider.create

def create_then_die(self, *args, **kwargs):
    global count
    result = create(self, *args, **kwargs)
    count += 1
    if count == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

SqlProvider.create = create_then_die
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class AgentProcess:
    """A running `reconciler agent`, its events read from stderr as they come."""

    process: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    _arrived: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            event = json.loads(line)
            self.events.append(event)
            self._arrived.put(event)

    def wait_for(self, name: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event["event"] == name:
                return event
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._arrived.get(timeout=left)
            except queue.Empty:
                break
            if event["event"] == name:
                return event
        raise AssertionError(f"no {name!r} event in {timeout} s; events: {self.events}")

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == name]

    def metrics(self) -> dict[str, float]:
        port = self.wait_for("listening")["port"]
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples
            if not sample.labels
        }


@pytest.fixture
def store(postgres_database: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    spec = ProviderSpec("postgresql", {}, environ={"RECONCILER_DATABASE_URL": postgres_database}, root=project)
    root = point_at(project, spec, monkeypatch)
    config = root / "reconciler.toml"
    config.write_text(
        config.read_text()
        .replace("lock_ttl_seconds = 300", f"lock_ttl_seconds = {TTL}")
        .replace("apply_batch_size = 100", "apply_batch_size = 1")
    )
    GitRepo(root).commit("Customers")
    yield root, postgres_database


def _start(root: Path, *, script: str | None = None) -> AgentProcess:
    argv = ["-C", str(root), "agent", "--no-fetch", "--interval", "1", "--listen", "127.0.0.1:0", "--log-format", "json"]
    command = [sys.executable, "-c", script, *argv] if script else [sys.executable, "-m", "reconciler", *argv]
    environ = {**os.environ, "RECONCILER_CACHE_DIR": "", "USER": "agent"}
    return AgentProcess(subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environ))


def _audit(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        # One row per write and plan: a customer written twice (by two agents) shows twice.
        rows = connection.execute(text("select distinct customer_key, action, plan_id from audit order by 1, 2")).all()
    engine.dispose()
    return [(row[0], row[1]) for row in rows]


def _lease_holder(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text("select holder, expires_at from lease")).first()
    engine.dispose()
    return None if row is None else row[0]


def _stop(agent: AgentProcess) -> int:
    agent.process.send_signal(signal.SIGTERM)
    return agent.process.wait(timeout=30)


def test_two_agents_never_both_apply(store: tuple[Path, str]) -> None:
    root, url = store
    first, second = _start(root), _start(root)
    try:
        first.wait_for("sleeping")
        second.wait_for("sleeping")
    finally:
        codes = [_stop(first), _stop(second)]
    assert codes == [0, 0]
    applied = sum(event["applied"] for agent in (first, second) for event in agent.named("applied"))
    assert applied == 7
    assert not first.named("failed") and not second.named("failed")
    # Each customer created once: no write was made twice by two agents racing.
    assert [action for _, action in _audit(url)] == ["create"] * 7


def test_a_killed_agent_is_taken_over_within_the_lease_time(store: tuple[Path, str]) -> None:
    root, url = store
    dying = _start(root, script=DIES_MID_APPLY)
    assert dying.process.wait(timeout=60) == -signal.SIGKILL
    killed_at = time.monotonic()
    assert _lease_holder(url) is not None  # it died holding the lease

    taker = _start(root)
    try:
        standby = taker.wait_for("standby")
        applied = taker.wait_for("applied", timeout=TTL + 30)
        took = time.monotonic() - killed_at
        figures = taker.metrics()
    finally:
        code = _stop(taker)
    assert code == 0
    assert "held by agent" in standby["message"]
    # The killed agent committed its first batch; its second died uncommitted with it.
    assert applied["applied"] == 6
    assert took < TTL + 10  # the lease time, one interval, and a process start
    assert [action for _, action in _audit(url)] == ["create"] * 7
    assert figures["reconciler_customers_applied_total"] == 6
    assert figures["reconciler_lease_held"] == 0


def test_sigterm_releases_the_lease_and_exits_0(store: tuple[Path, str]) -> None:
    root, url = store
    agent = _start(root)
    agent.wait_for("sleeping")
    assert _stop(agent) == 0
    assert [event["event"] for event in agent.events][-2:] == ["stopping", "stopped"]
    assert _lease_holder(url) is None
