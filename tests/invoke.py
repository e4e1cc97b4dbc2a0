"""Run a command in-process with a pinned clock, and write a project's files."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path

from reconciler.cli import _command_modules, build_parser
from reconciler.commands import Session

NOW = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def run_cli(root: Path, *argv: str, now: dt.datetime = NOW) -> tuple[int, str]:
    """The command's exit code and what it printed, as the CLI would run it at `now`."""
    modules = _command_modules()
    args = build_parser(modules).parse_args(["-C", str(root), *argv])
    out = io.StringIO()
    session = Session(root=root, environ={}, now=now, stdout=out, stderr=io.StringIO())
    return modules[args.command.replace("-", "_")].run(args, session), out.getvalue()


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
