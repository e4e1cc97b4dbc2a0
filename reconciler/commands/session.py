"""What the outside world hands a command: the repository root, the environment, the clock,
streams, and who and where the process is. The CLI builds it; a test builds its own."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reconciler.config import CONFIG_NAME, Settings, load_settings
from reconciler.desired.fleet import Index, fleet_index
from reconciler.desired.state import customers_dir
from reconciler.documents.cache import cached_loading
from reconciler.documents.gitindex import WorkTree
from reconciler.documents.loader import Load
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.history.git import current_revision
from reconciler.plan.file import MIN_KEY_BYTES
from reconciler.plan.plan import Plan
from reconciler.providers.base import Provider
from reconciler.reconcile import Changes, make_plan, start_changes


def _no_input(prompt: str) -> str:
    raise EOFError(prompt)


@dataclass(frozen=True)
class World:
    """The process's surroundings: environment, clock, streams, host and account.

    `main` passes the real ones; tests pass a pinned clock and string streams. Commands
    never reach past it for the time, the environment or a terminal.
    """

    environ: Mapping[str, str]
    clock: Callable[[], dt.datetime]
    stdout: TextIO
    stderr: TextIO
    sleep: Callable[[float], None] = lambda seconds: None
    ask: Callable[[str], str] = _no_input  # a question on the terminal; its answer
    stdin_is_tty: bool = False
    host: str = "localhost"
    pid: int = 0
    account: str = "unknown"  # the operating-system account the process runs as


@dataclass(frozen=True)
class Session:
    """One command's view of the world: its root, the instant it runs at, and the world."""

    root: Path
    world: World
    now: dt.datetime
    cache_dir: Path | None = None  # where parsed documents are cached (None: not cached)
    # git's listing of the customer files, by customers_dir, once started (`start_listing`).
    _indexes: dict[str, Index] = field(default_factory=dict, init=False, repr=False, compare=False)
    # git's look at what changed since a revision, by the revision, once started (the same).
    _changes: dict[str, Changes] = field(default_factory=dict, init=False, repr=False, compare=False)
    # git's status of what the reconciler reads, by customers_dir, started with the listing.
    _work_trees: dict[str, WorkTree] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def environ(self) -> Mapping[str, str]:
        return self.world.environ

    @property
    def stdout(self) -> TextIO:
        return self.world.stdout

    @property
    def stderr(self) -> TextIO:
        return self.world.stderr

    def settings(self) -> Settings:
        return load_settings(self.root)

    def loading(self) -> AbstractContextManager[Load]:
        """`with session.loading() as load:` reads documents through the cache, saved at the end."""
        return cached_loading(self.cache_dir, self.root, warn=lambda message: print(f"warning: {message}", file=self.stderr))

    def start_listing(self, settings: Settings, changed_since: str | None = None) -> None:
        """Start git's listing of the customer files (`desired.fleet.fleet_index`) for the plan
        to come, and with CHANGED_SINCE its look at what changed since that revision
        (`reconcile.start_changes`): a command calls this before opening the provider, so git
        walks a large fleet on the other core while the provider's modules load. A folder
        that is not there, or a revision that is not, is left for the plan to report."""
        # One walk of the work tree for all: the fleet's index, the changes, the plan's revision.
        work_tree = self._work_trees.get(settings.customers_dir)
        if work_tree is None:
            with suppress(ReconcilerError):
                work_tree = self._work_trees[settings.customers_dir] = WorkTree(self.root, inputs(settings))
        if changed_since is not None and changed_since not in self._changes:
            with suppress(ReconcilerError):
                self._changes[changed_since] = start_changes(self.root, settings, changed_since, work_tree)
        if self.cache_dir is None or settings.customers_dir in self._indexes:
            return
        with suppress(ReconcilerError):
            self._indexes[settings.customers_dir] = fleet_index(self.root, customers_dir(self.root, settings), work_tree)

    def plan(self, settings: Settings, provider: Provider, args: argparse.Namespace, **options: Any) -> Plan:
        """`make_plan` as every command calls it: at `--at` or now, from the repository's
        revision, for `--customer` keys, reading documents through the cache."""
        # git's status of the work tree runs in a thread of its own (the wait is git's, not
        # Python's) while the documents load: on 100,000 files each takes a quarter second.
        with self.loading() as load, ThreadPoolExecutor(max_workers=1) as background:
            revision = background.submit(
                current_revision, self.root, inputs(settings), self._work_trees.get(settings.customers_dir)
            )
            try:
                return make_plan(
                    self.root, settings, provider,
                    at=args.at or self.now,
                    revision=revision.result,
                    only=args.customers,
                    load=load,
                    judge_schedule=args.at is None,
                    index=self._indexes.get(settings.customers_dir),
                    changes=self._changes.pop(options.get("changed_since") or "", None),
                    **options,
                )
            except ReconcilerError:
                revision.result()  # git's own failure is the one to report, as when it came first
                raise

    def is_tty(self, stream: TextIO) -> bool:
        return bool(getattr(stream, "isatty", lambda: False)())

    def color(self) -> bool:
        """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
        return self.is_tty(self.stdout) and "NO_COLOR" not in self.environ

    def actor(self) -> str:
        """Who is running this, for audit records: the CI actor, else the login name, else the
        account the process runs as (cron and containers often set no USER)."""
        environ = self.environ
        return environ.get("GITHUB_ACTOR") or environ.get("USER") or environ.get("LOGNAME") or self.world.account

    def plan_key(self, settings: Settings) -> bytes | None:
        """The key saved plans are signed and checked with, from the variable reconciler.toml
        names; ConfigError when it is too short, or missing where signed plans are required."""
        name = settings.safety.plan_key_env
        value = self.environ.get(name, "")
        if not value:
            if settings.safety.require_signed_plans:
                raise ConfigError(
                    f"reconciler.toml requires signed plans (safety.require_signed_plans), but {name} is not set: "
                    f"set it to the signing key (a CI secret), the same where plans are made and applied"
                )
            return None
        key = value.encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"{name} is too short to sign plans with ({len(key)} bytes; at least {MIN_KEY_BYTES}): "
                "make one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return key

    def lock_holder(self) -> str:
        """How this process names itself when it holds a lease."""
        return f"{self.actor()}@{self.world.host} pid {self.world.pid}"


def inputs(settings: Settings) -> list[str]:
    """What the reconciler reads from the repository: changes there make a plan dirty."""
    return [settings.customers_dir, settings.plans_dir, CONFIG_NAME]


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Where parsed documents are cached: $RECONCILER_CACHE_DIR (empty: no cache), else the
    user's cache folder. Never inside the repository."""
    if "RECONCILER_CACHE_DIR" in environ:
        chosen = environ["RECONCILER_CACHE_DIR"]
        return Path(chosen) if chosen else None
    base = environ.get("XDG_CACHE_HOME") or (str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else "")
    return Path(base) / "reconciler" if base else None
