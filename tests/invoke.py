"""The one way tests run the CLI: in-process, through its error boundary (`cli.main`), in a
world of the test's making (pinned clock, given environment, string streams)."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli import main
from reconciler.commands.session import World

NOW = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Outcome:
    """What one CLI run did: its exit code and everything it printed."""

    code: int
    out: str
    err: str

    def assert_success(self) -> Outcome:
        assert self.code == 0, f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        return self


def invoke(
    root: Path,
    *argv: str,
    now: dt.datetime = NOW,
    environ: Mapping[str, str] | None = None,
    terminal: bool = False,
    answers: Iterable[str] = (),
) -> Outcome:
    """Run `reconciler -C ROOT ARGV` at `now`; `terminal` makes stdin a terminal answering `answers`."""
    out, err = io.StringIO(), io.StringIO()
    replies = iter(answers)

    def ask(prompt: str) -> str:
        out.write(prompt)
        return next(replies)

    world = World(
        environ=dict(environ or {}), clock=_clock_from(now), stdout=out, stderr=err, sleep=time.sleep,
        ask=ask, stdin_is_tty=terminal, host="testhost", pid=4242, account="tester",
    )
    code = main(["-C", str(root), *argv], world=world)
    return Outcome(code, out.getvalue(), err.getvalue())


def _clock_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that reads START when the command starts, and moves on in real time (waits end)."""
    began = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - began)


def run_cli(root: Path, *argv: str, now: dt.datetime = NOW) -> tuple[int, str]:
    """The exit code and stdout of `invoke`, for tests that read nothing else."""
    outcome = invoke(root, *argv, now=now)
    return outcome.code, outcome.out


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
