"""The agent's loop with a pinned clock: it wakes at the instant a scheduled change starts
and at the instant it ends, and applies each then; its figures are served over real HTTP."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from git_repos import GitRepo
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from reconciler.agent.events import EventLog
from reconciler.agent.loop import Agent, AgentOptions
from reconciler.agent.metrics import AgentMetrics, Health, serve
from reconciler.agent.repository import Tracked
from reconciler.commands.session import Session, World
from reconciler.config import load_settings
from reconciler.providers.base import LiveCustomer
from reconciler.providers.schema import customer
from reconciler.providers.sql import SqlProvider
from reconciler.reconcile import open_provider

START = dt.datetime(2026, 12, 24, 18, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 12, 27, 6, tzinfo=dt.UTC)
XMAS = """reason: Christmas peak
until: 2026-12-27T06:00:00Z
customers:
  acme-telecom:
    channels: 400
"""


class Clock:
    """A pinned clock that moves only when the agent waits."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.wakes: list[dt.datetime] = []
        self.stop_after: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += dt.timedelta(seconds=seconds)
        self.wakes.append(self.now)
        return self.stop_after is not None and self.now > self.stop_after


@pytest.fixture
def repo(live: Path) -> GitRepo:
    repo = GitRepo(live)
    repo.write("plans/2026-12-24T1800Z_xmas.yaml", XMAS)
    repo.commit("Customers and the Christmas peak")
    return repo


def _agent(root: Path, clock: Clock, *, tracked: Tracked | None = None, interval: float = 86400,
           stop: threading.Event | None = None) -> tuple[Agent, io.StringIO, AgentMetrics]:
    log = io.StringIO()
    world = World(
        environ={**os.environ, "USER": "agent", "RECONCILER_CACHE_DIR": ""}, clock=clock,
        stdout=io.StringIO(), stderr=log, host="agenthost", pid=7, account="agent",
    )
    metrics = AgentMetrics()
    agent = Agent(
        Session(root=root, world=world, now=clock()), AgentOptions(tracked, dt.timedelta(seconds=interval)),
        log=EventLog(log, "json", clock), metrics=metrics,
        health=Health(clock, dt.timedelta(days=2)), stop=stop or threading.Event(), wait=clock.wait,
    )
    return agent, log, metrics


def _channels(root: Path, key: str = "acme-telecom") -> int | None:
    """What the live platform holds, read as the CLI in ROOT reads it."""
    with open_provider(load_settings(root), environ=os.environ, root=root) as provider:
        record = provider.read([key])[key]
    assert isinstance(record, LiveCustomer)
    return record.customer.channels


def _events(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines()]


def test_the_agent_applies_a_change_at_its_instant_and_reverts_it_at_until(repo: GitRepo, spec: Any) -> None:
    clock = Clock(dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.UTC))
    clock.stop_after = UNTIL
    seen: dict[dt.datetime, int | None] = {}
    agent, log, _ = _agent(repo.root, clock)
    cycle = agent.cycle

    def watched() -> dt.datetime:
        wake = cycle()
        seen[clock.now] = _channels(repo.root)
        return wake

    agent.cycle = watched  # type: ignore[method-assign]
    agent.run()

    # It woke exactly at the start and at the end, never between them by more than a day.
    assert START in clock.wakes and UNTIL in clock.wakes
    assert seen[dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.UTC)] == 300
    assert seen[START] == 400
    assert seen[UNTIL] == 300
    applied = [event for event in _events(log) if event["event"] == "applied"]
    assert [(event["time"], event["applied"]) for event in applied] == [
        ("2026-12-24T17:00:00Z", 7), ("2026-12-24T18:00:00Z", 1), ("2026-12-27T06:00:00Z", 1),
    ]
    assert _events(log)[-1]["event"] == "stopped"


def test_a_change_that_merged_is_fetched_and_applied(repo: GitRepo, spec: Any, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    repo.git("clone", "-q", "--bare", str(repo.root), str(origin))
    clone = GitRepo.__new__(GitRepo)
    clone.root = tmp_path / "clone"
    repo.git("clone", "-q", str(origin), str(clone.root))
    clock = Clock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    agent, log, _ = _agent(clone.root, clock, tracked=Tracked.of(clone.root, "origin", None), interval=60)
    agent.cycle()
    assert _channels(clone.root) == 300

    repo.write("customers.d/acme-telecom.yaml",
               (repo.root / "customers.d/acme-telecom.yaml").read_text().replace("channels: 300", "channels: 320"))
    head = repo.commit("Acme: 320 channels")
    repo.git("push", "-q", str(origin), "main")
    clock.now += dt.timedelta(seconds=60)
    agent.cycle()
    assert _channels(clone.root) == 320
    fetched = [event for event in _events(log) if event["event"] == "fetched"]
    assert [event["commit"] for event in fetched] == [head]


def _parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def _samples(metrics: AgentMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return _parsed(generate_latest(metrics.registry).decode())


@contextmanager
def _serving(metrics: AgentMetrics, health: Health) -> Iterator[str]:
    server = serve("127.0.0.1", 0, metrics, health)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_show_the_figures_of_the_last_cycle(repo: GitRepo) -> None:
    clock = Clock(dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.UTC))
    agent, _, metrics = _agent(repo.root, clock)
    agent.cycle()
    with _serving(metrics, agent.health) as base:
        response = httpx.get(f"{base}/metrics")
        health = httpx.get(f"{base}/healthz")
        missing = httpx.get(f"{base}/other")
    assert response.status_code == 200
    samples = _parsed(response.text)
    assert samples[("reconciler_customers_applied_total", ())] == 7
    assert samples[("reconciler_customers_failed_total", ())] == 0
    assert samples[("reconciler_scheduled_changes_pending", ())] == 2  # the start and the end
    assert samples[("reconciler_next_scheduled_change_seconds", ())] == 3600
    assert samples[("reconciler_lease_held", ())] == 0
    assert samples[("reconciler_last_apply_timestamp_seconds", ())] == clock.now.timestamp()
    assert samples[("reconciler_last_apply_outcome", (("reconciler_last_apply_outcome", "applied"),))] == 1
    assert samples[("reconciler_last_apply_outcome", (("reconciler_last_apply_outcome", "error"),))] == 0
    assert samples[("reconciler_drift_customers", ())] == 0
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert missing.status_code == 404


def test_health_fails_when_the_loop_stops_beating(repo: GitRepo) -> None:
    clock = Clock(dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.UTC))
    agent, _, metrics = _agent(repo.root, clock)
    with _serving(metrics, agent.health) as base:
        assert httpx.get(f"{base}/healthz").status_code == 503  # not a cycle yet
        agent.cycle()
        assert httpx.get(f"{base}/healthz").status_code == 200
        clock.now += dt.timedelta(days=3)
        stalled = httpx.get(f"{base}/healthz")
    assert (stalled.status_code, stalled.json()["status"]) == (503, "stalled")


def test_drift_is_counted_and_put_right(sql_live: Path, sql_spec: Any) -> None:
    repo = GitRepo(sql_live)
    repo.commit("Customers")
    clock = Clock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    agent, _, metrics = _agent(repo.root, clock)
    agent.cycle()
    engine = sql_spec.engine()  # someone changes acme-telecom on the platform, behind the reconciler's back
    with engine.begin() as connection:
        connection.execute(update(customer).where(customer.c.key == "acme-telecom").values(channels=1))
    engine.dispose()
    clock.now += dt.timedelta(minutes=1)
    agent.cycle()
    assert _samples(metrics)[("reconciler_drift_customers", ())] == 1
    assert _channels(repo.root) == 300


def test_an_error_is_logged_and_retried_not_fatal(repo: GitRepo) -> None:
    clock = Clock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    agent, log, metrics = _agent(repo.root, clock)
    bad = repo.root / "customers.d/acme-telecom.yaml"
    bad.write_text(bad.read_text().replace("channels: 300", "channels: -5"))
    wake = agent.cycle()
    error = [event for event in _events(log) if event["event"] == "error"]
    assert len(error) == 1 and "acme-telecom.yaml" in error[0]["message"] and "channels" in error[0]["message"]
    assert wake == clock.now + dt.timedelta(seconds=30)
    assert _samples(metrics)[("reconciler_last_apply_outcome", (("reconciler_last_apply_outcome", "error"),))] == 1


def test_a_stop_mid_apply_finishes_the_batch_in_flight_and_releases_the_lease(
    sql_live: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sql_live / "reconciler.toml"
    config.write_text(config.read_text().replace("apply_batch_size = 100", "apply_batch_size = 2"))
    repo = GitRepo(sql_live)
    repo.commit("Customers")
    stop = threading.Event()
    write_many = SqlProvider.write_many

    def write_then_sigterm(self: SqlProvider, *args: Any, **kwargs: Any) -> Any:
        stop.set()  # what the SIGTERM handler does, during the first batch
        return write_many(self, *args, **kwargs)

    monkeypatch.setattr(SqlProvider, "write_many", write_then_sigterm)
    clock = Clock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    agent, log, _ = _agent(repo.root, clock, stop=stop)
    agent.run()
    events = _events(log)
    applied = next(event for event in events if event["event"] == "applied")
    assert (applied["applied"], applied["not_attempted"]) == (2, 5)  # the batch in flight, and no other
    assert [event["event"] for event in events][-1] == "stopped"
    with open_provider(load_settings(repo.root), environ=os.environ, root=repo.root) as provider:
        assert provider.lock_status() is None


def test_a_window_missed_while_the_agent_was_stopped_is_reported_at_its_next_start(repo: GitRepo) -> None:
    clock = Clock(dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.UTC))
    before, _, _ = _agent(repo.root, clock)
    before.cycle()  # then the agent is stopped over Christmas
    clock.now = dt.datetime(2026, 12, 28, tzinfo=dt.UTC)
    after, log, metrics = _agent(repo.root, clock)
    after.cycle()
    missed = [event for event in _events(log) if event["event"] == "missed"]
    assert [event["message"] for event in missed] == [
        "missed: plans/2026-12-24T1800Z_xmas.yaml, in effect 2026-12-24T18:00:00Z to 2026-12-27T06:00:00Z, "
        "no apply ran in that time"
    ]
    assert _samples(metrics)[("reconciler_missed_windows_total", ())] == 1
    after.cycle()  # reported once
    assert len([event for event in _events(log) if event["event"] == "missed"]) == 1


def test_an_event_is_one_line_that_moves_no_cursor() -> None:
    """An event's message may quote a store, the platform or a git remote: in the text log it
    is one line, with what a terminal would act on escaped; in JSON, JSON's escapes."""
    said = "apply failed: sqlite: bad\x1b[2J value\r\nnext line\ud800"
    for log_format, expected in (
        ("text", "2026-11-27T10:00:00Z failed: apply failed: sqlite: bad\\x1b[2J value\\r\\nnext line\\ud800\n"),
        ("json", '{"time": "2026-11-27T10:00:00Z", "event": "failed", "message": '
                 '"apply failed: sqlite: bad\\u001b[2J value\\r\\nnext line\\ud800"}\n'),
    ):
        out = io.StringIO()
        EventLog(out, log_format, lambda: dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC))("failed", said)
        assert out.getvalue() == expected
        out.getvalue().encode("utf-8")
