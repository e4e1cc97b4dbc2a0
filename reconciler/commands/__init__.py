"""One module per command: `add_parser(subparsers)` declares it, `run(args, session)` runs it.

`run` returns an exit code and raises `ReconcilerError` for anything the user can act on;
the CLI boundary turns those into messages and exit codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from reconciler.config import Settings, load_settings


@dataclass(frozen=True)
class Session:
    """What the outside world hands a command: the repo root, config, environment, clock, streams."""

    root: Path
    environ: Mapping[str, str]
    now: dt.datetime
    stdout: TextIO
    stderr: TextIO

    def settings(self) -> Settings:
        return load_settings(self.root)
