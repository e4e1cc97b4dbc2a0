"""The command line: the one place that reads argv, the clock and the environment, prints, and exits."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from reconciler import __version__
from reconciler.commands import Session, cache_dir
from reconciler.errors import ExitCode, ReconcilerError

# Modules under reconciler.commands, in the order `reconciler --help` lists them; the
# command's name is the module's with "-" for "_".
# A trailing "_" keeps a keyword free: module import_ is command `import`.
COMMANDS: tuple[str, ...] = (
    "validate", "plan", "apply", "diff", "drift", "timeline", "next_due", "compact", "log", "blame", "live",
    "import_", "schema",
)


def _command_modules() -> dict[str, ModuleType]:
    return {name: import_module(f"reconciler.commands.{name}") for name in COMMANDS}


class UsageError(ReconcilerError):
    """Bad command-line arguments (exit 1: exit 2 means "changes present")."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().rstrip()}")


def build_parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description="Keep VoIP platform customer accounts in git and reconcile them onto the live platform.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_argument(
        "-C", "--root", type=Path, default=Path("."), help="the repository root (default: the current directory)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in modules.values():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    modules = _command_modules()
    parser = build_parser(modules)
    try:
        args = parser.parse_args(argv)
        session = Session(
            root=args.root,
            environ=dict(os.environ),
            now=dt.datetime.now(dt.UTC),
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_is_tty=sys.stdin.isatty() if sys.stdin else False,
            cache_dir=cache_dir(os.environ),
        )
        name = args.command.replace("-", "_")
        return int(modules[name if name in modules else f"{name}_"].run(args, session))
    except ReconcilerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception:
        traceback.print_exc()
        print("reconciler: this is a bug; please report it with the traceback above", file=sys.stderr)
        return int(ExitCode.ERROR)
