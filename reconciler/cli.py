"""The command line: the one place that reads argv, the clock and the environment, prints,
and turns what a command came to into an exit code."""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import os
import pwd
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from reconciler import __version__
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session, World, cache_dir
from reconciler.errors import ReconcilerError, UnsafePlan, UsageError

# Modules under reconciler.commands, in the order `reconciler --help` lists them; the
# command's name is the module's with "-" for "_".
# A trailing "_" keeps a keyword free: module import_ is command `import`.
COMMANDS: tuple[str, ...] = (
    "validate", "plan", "apply", "diff", "drift", "timeline", "next_due", "compact", "log", "blame", "live",
    "import_", "schema",
)


class ExitCode(enum.IntEnum):
    """The same for every command."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    BLOCKED = 3
    PARTIAL = 4
    INTERRUPTED = 130


EXIT_CODES: dict[Outcome, ExitCode] = {
    Outcome.DONE: ExitCode.OK,
    Outcome.FAILED: ExitCode.ERROR,
    Outcome.CHANGES: ExitCode.CHANGES,
    Outcome.BLOCKED: ExitCode.BLOCKED,
    Outcome.PARTIAL: ExitCode.PARTIAL,
}


def error_exit_code(error: ReconcilerError) -> ExitCode:
    """A plan that breaks a safety rule is "blocked" (3); every other handled error is 1."""
    return ExitCode.BLOCKED if isinstance(error, UnsafePlan) else ExitCode.ERROR


def _command_modules() -> dict[str, ModuleType]:
    return {name: import_module(f"reconciler.commands.{name}") for name in COMMANDS}


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


def real_world() -> World:
    """The process's own environment, clock, terminal, host and account."""
    return World(
        environ=dict(os.environ),
        clock=lambda: dt.datetime.now(dt.UTC),
        stdout=sys.stdout,
        stderr=sys.stderr,
        sleep=time.sleep,
        ask=input,
        stdin_is_tty=sys.stdin.isatty() if sys.stdin else False,
        host=socket.gethostname(),
        pid=os.getpid(),
        account=_account(),
    )


def _account() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def main(argv: Sequence[str] | None = None, *, world: World | None = None) -> int:
    """Run one command; its exit code. `world` is the real one unless a test gives its own."""
    world = world or real_world()
    modules = _command_modules()
    parser = build_parser(modules)
    try:
        args = parser.parse_args(argv)
        session = Session(root=args.root, world=world, now=world.clock(), cache_dir=cache_dir(world.environ))
        name = args.command.replace("-", "_")
        outcome: Outcome = modules[name if name in modules else f"{name}_"].run(args, session)
        return int(EXIT_CODES[outcome])
    except ReconcilerError as exc:
        print(f"error: {exc}", file=world.stderr)
        return int(error_exit_code(exc))
    except KeyboardInterrupt:
        print("interrupted", file=world.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception:
        traceback.print_exc(file=world.stderr)
        print("reconciler: this is a bug; please report it with the traceback above", file=world.stderr)
        return int(ExitCode.ERROR)
