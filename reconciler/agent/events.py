"""The agent's log: one line per event, for a person (text) or a log pipeline (JSON).

    2026-12-24T18:00:02Z applied: 1 customer applied, 0 failed (plan 3f2a..., commit 43401f1)
    {"time": "2026-12-24T18:00:02Z", "event": "applied", "message": "...", "applied": 1, ...}
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any, Literal, TextIO

from reconciler.errors import escaped
from reconciler.model.types import instant_text

LogFormat = Literal["text", "json"]


class EventLog:
    def __init__(self, stream: TextIO, log_format: LogFormat, clock: Callable[[], dt.datetime]) -> None:
        self._stream = stream
        self._format = log_format
        self._clock = clock
        self._lock = threading.Lock()  # the HTTP thread and the loop both log

    def __call__(self, event: str, message: str, **fields: Any) -> None:
        when = instant_text(self._clock())
        if self._format == "json":
            line = json.dumps({"time": when, "event": event, "message": message, **fields}, default=str)
        else:
            line = f"{when} {event}: {message}"
        # One write per line, escaped: a message never spans lines or moves the cursor (a
        # message may quote what a store, the platform or a git remote said).
        line = escaped(line, one_line=True)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
