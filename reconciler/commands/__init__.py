"""One module per command: `add_parser(subparsers)` declares it, `run(args, session)` runs it.

`run` returns an exit code and raises `ReconcilerError` for anything the user can act on;
the CLI boundary turns those into messages and exit codes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pwd
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reconciler.config import Settings, load_settings
from reconciler.doccache import cached_loading
from reconciler.git import current_revision
from reconciler.loader import Load
from reconciler.plan import Plan
from reconciler.providers.base import Provider
from reconciler.reconcile import make_plan


@dataclass(frozen=True)
class Session:
    """What the outside world hands a command: the repo root, config, environment, clock, streams."""

    root: Path
    environ: Mapping[str, str]
    now: dt.datetime
    stdout: TextIO
    stderr: TextIO

    stdin_is_tty: bool = False
    cache_dir: Path | None = None  # where parsed documents are cached (None: not cached)

    def settings(self) -> Settings:
        return load_settings(self.root)

    def loading(self) -> AbstractContextManager[Load]:
        """`with session.loading() as load:` reads documents through the cache, saved at the end."""
        return cached_loading(self.cache_dir, self.root)

    def plan(self, settings: Settings, provider: Provider, args: argparse.Namespace, **options: Any) -> Plan:
        """`make_plan` as every command calls it: at `--at` or now, from the repository's
        revision, for `--customer` keys, reading documents through the cache."""
        with self.loading() as load:
            return make_plan(
                self.root, settings, provider,
                at=args.at or self.now,
                revision=current_revision(self.root),
                only=args.customers,
                load=load,
                **options,
            )

    def is_tty(self, stream: TextIO) -> bool:
        return bool(getattr(stream, "isatty", lambda: False)())

    def color(self) -> bool:
        """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
        return self.is_tty(self.stdout) and "NO_COLOR" not in self.environ


def parse_instant(text: str) -> dt.datetime:
    """`--at`: an ISO 8601 instant with a zone (2026-12-24T18:00:00Z), or a date (midnight UTC)."""
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an instant: write 2026-12-24T18:00:00Z or a date, 2026-12-24"
        ) from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"'{text}' has no time zone: add Z for UTC or an offset such as +01:00"
        )
    return instant.astimezone(dt.UTC)


def add_at_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at", type=parse_instant, default=None, metavar="INSTANT",
        help="evaluate desired state at this instant (ISO 8601 with zone, or a date); default: now",
    )


def add_customer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--customer", action="append", dest="customers", metavar="KEY",
        help="only this customer (repeatable)",
    )


def actor(environ: Mapping[str, str]) -> str:
    """Who is running this, for audit records: the CI actor, else the login name, else the
    account the process runs as (cron and containers often set no USER)."""
    named = environ.get("GITHUB_ACTOR") or environ.get("USER") or environ.get("LOGNAME")
    if named:
        return named
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Where parsed documents are cached: $RECONCILER_CACHE_DIR (empty: no cache), else the
    user's cache folder. Never inside the repository: the cache is unpickled."""
    if "RECONCILER_CACHE_DIR" in environ:
        chosen = environ["RECONCILER_CACHE_DIR"]
        return Path(chosen) if chosen else None
    base = environ.get("XDG_CACHE_HOME") or (str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else "")
    return Path(base) / "reconciler" if base else None
