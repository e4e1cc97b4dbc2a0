"""What the agent shows a monitoring system: `/metrics` in the Prometheus text format
(through prometheus_client) and `/healthz`, served on a local port from a thread.

Every figure is set by the agent's loop; the HTTP thread only reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Info,
    generate_latest,
)

# How a cycle ended, as `reconciler_last_apply_outcome` names it: a run's outcome
# (`apply.run_outcome`), or "error" when it could not run (the store unreachable, a bad merge).
OUTCOMES = ("no_changes", "applied", "partial", "failed", "bulk_blocked", "error")


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.last_apply = Gauge(
            "reconciler_last_apply_timestamp_seconds", "When the last reconcile finished (Unix time).", registry=registry,
        )
        self.outcome = Enum(
            "reconciler_last_apply_outcome", "How the last reconcile ended.", states=list(OUTCOMES), registry=registry,
        )
        self.applied = Counter("reconciler_customers_applied", "Customers written to the live platform.", registry=registry)
        self.failed = Counter("reconciler_customers_failed", "Customer writes that failed.", registry=registry)
        self.pending = Gauge(
            "reconciler_scheduled_changes_pending", "Instants still to come at which a scheduled change starts or ends.",
            registry=registry,
        )
        self.next_change = Gauge(
            "reconciler_next_scheduled_change_seconds",
            "Seconds until the next scheduled change starts or ends (NaN: none pending).", registry=registry,
        )
        self.drift = Gauge(
            "reconciler_drift_customers", "Customers the last reconcile found changed outside the reconciler.",
            registry=registry,
        )
        self.missed = Counter(
            "reconciler_missed_windows", "Temporary changes whose whole window passed with no apply.", registry=registry,
        )
        self.late = Counter(
            "reconciler_late_changes", "Scheduled changes applied later than the tolerance.", registry=registry,
        )
        self.lease = Gauge("reconciler_lease_held", "1 while this agent holds the provider's lease.", registry=registry)
        self.fetch_failures = Counter(
            "reconciler_fetch_failures", "Fetches of the repository that failed.", registry=registry,
        )
        self.revision = Info("reconciler_revision", "The commit desired state comes from.", registry=registry)
        self.next_change.set(float("nan"))
        self.outcome.state("no_changes")


class Health:
    """Whether the loop is alive: it beats once a cycle, and is healthy while its last beat is
    younger than `allowance` (a stuck loop, or one that cannot reach the store, is not)."""

    def __init__(self, clock: Callable[[], dt.datetime], allowance: dt.timedelta) -> None:
        self._clock = clock
        self._allowance = allowance
        self._beat: dt.datetime | None = None
        self._detail: dict[str, Any] = {}

    def beat(self, **detail: Any) -> None:
        self._beat = self._clock()
        self._detail = detail

    def report(self) -> tuple[bool, dict[str, Any]]:
        beat = self._beat
        healthy = beat is not None and self._clock() - beat <= self._allowance
        return healthy, {"status": "ok" if healthy else "stalled", **self._detail}


def serve(host: str, port: int, metrics: AgentMetrics, health: Health) -> ThreadingHTTPServer:
    """Start serving `/metrics` and `/healthz` from a daemon thread; the caller shuts it down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            elif self.path == "/healthz":
                healthy, detail = health.report()
                self._send(200 if healthy else 503, "application/json", json.dumps(detail).encode() + b"\n")
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 15 s is not an event

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="agent-http", daemon=True).start()
    return server
