"""The command line: the one place that reads argv, the clock and the environment, prints,
and turns what a command came to into an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import gc
import io
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
from reconciler.config import CONFIG_NAME
from reconciler.errors import ReconcilerError, UnsafePlan, UsageError
from reconciler.gc_pause import gc_paused

# Modules under reconciler.commands, in the order `reconciler --help` lists them; the
# command's name is the module's with "-" for "_".
# A trailing "_" keeps a keyword free: module import_ is command `import`.
COMMANDS: tuple[str, ...] = (
    "validate", "plan", "apply", "diff", "drift", "timeline", "next_due", "compact", "log", "blame", "live",
    "import_", "schema", "init", "agent", "completion",
)

# What `reconciler COMMAND --help` ends with: the commands people type, as they type them.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "validate": ("reconciler validate", "reconciler validate customers.d/acme-telecom.yaml plans/",
                 "reconciler validate --format github"),
    "plan": ("reconciler plan", "reconciler plan --customer acme-telecom --at 2026-12-24T18:00:00Z",
             "reconciler plan --out plan.json --format markdown > plan.md",
             "reconciler plan --changed-since origin/main --detailed-exitcode"),
    "apply": ("reconciler apply", "reconciler apply plan.json", "reconciler apply --yes --customer acme-telecom",
              "reconciler apply --yes --lift-penalty acme-telecom"),
    "diff": ("reconciler diff", "reconciler diff origin/main...HEAD --format markdown", "reconciler diff HEAD~3"),
    "drift": ("reconciler drift", "reconciler drift --format json"),
    "timeline": ("reconciler timeline", "reconciler timeline acme-telecom --from 2026-12-01 --to 2027-01-01",
                 "reconciler timeline --format mermaid"),
    "next_due": ("reconciler next-due", "sleep-until \"$(reconciler next-due)\""),
    "compact": ("reconciler compact --before 2026-12-01", "reconciler compact --before 2026-12-01 --write"),
    "log": ("reconciler log acme-telecom", "reconciler log acme-telecom --format json"),
    "blame": ("reconciler blame acme-telecom", "reconciler blame acme-telecom --at 2026-12-25 --all"),
    "live": ("reconciler live status", "reconciler live init", "reconciler live history acme-telecom --limit 5"),
    "import_": ("reconciler import", "reconciler import acme-telecom --format toml"),
    "schema": ("reconciler schema",),
    "init": ("reconciler init my-customers", "reconciler init --provider postgresql", "reconciler init . --force"),
    "agent": ("reconciler agent", "reconciler agent --branch main --interval 30 --listen 0.0.0.0:9464",
              "reconciler agent --no-fetch --log-format json"),
    "completion": ("reconciler completion bash > /etc/bash_completion.d/reconciler",
                   "reconciler completion zsh > ~/.zfunc/_reconciler",
                   "reconciler completion fish > ~/.config/fish/completions/reconciler.fish"),
}

EXIT_CODES_HELP = """\
exit codes (the same for every command):
  0    done, or nothing to change
  1    error: invalid input, a refused operation, a stale plan (the message says what to do)
  2    changes or drift present (plan/diff --detailed-exitcode; always for drift)
  3    blocked by a safety rule or the platform's rules
  4    apply partly done
  130  interrupted

Without -C, the repository root is the nearest folder upward holding reconciler.toml,
else the git work tree, else the current folder."""


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
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    _add_common(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in modules.items():
        module.add_parser(subparsers)
        command = subparsers.choices[name.rstrip("_").replace("_", "-")]
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.epilog = "examples:\n" + "\n".join(f"  {example}" for example in EXAMPLES[name])
        # The same options after the command as before it: `reconciler plan -C DIR` works too.
        _add_common(command, default=argparse.SUPPRESS)
    return parser


def _add_common(parser: argparse.ArgumentParser, *, default: object) -> None:
    options = parser.add_argument_group("common options")
    options.add_argument(
        "-C", "--root", type=Path, default=default, metavar="DIR",
        help="the repository root (default: found upward from the current folder)",
    )
    options.add_argument("-q", "--quiet", action="store_true", default=default, help="print only errors and warnings")
    options.add_argument(
        "-v", "--verbose", action="store_true", default=default,
        help="also say where the root is and how long the command took (on stderr)",
    )
    options.add_argument(
        "--no-color", action="store_true", default=default, help="no colour, even on a terminal (as NO_COLOR=1)",
    )


def find_root(start: Path) -> Path:
    """The nearest folder from START upward that holds reconciler.toml, else the top of the
    git work tree START is in, else START: as git finds .git."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


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


def command_line() -> NoReturn:
    """The `reconciler` command (and `python -m reconciler`): `main`, then the process ends.

    A command runs with the collector off. What a run builds it keeps until it ends: each
    collection walks all of it and frees next to nothing (an apply of 10,000 updates of
    100,000 customers left 4,196 objects of garbage in cycles, and its collections cost
    0.6-0.8 s, one of them the walk over everything the plan made once its loading's pause
    was over). The agent, which runs for days, turns it on again (`commands.agent`).
    On the way out the interpreter's last collection would walk everything too (0.1-0.2 s
    after a plan of 100,000 customers): frozen, it is skipped; everything else of an exit
    (flushing, atexit) happens as always."""
    gc.disable()
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None, *, world: World | None = None) -> int:
    """Run one command; its exit code. `world` is the real one unless a test gives its own."""
    with gc_paused():  # as the package's own import (`__main__.run`)
        modules = _command_modules()
    parser = build_parser(modules)
    if world is None:
        if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answered, and the process exits
            import argcomplete  # imported only then: a hundredth of a second of every other start

            argcomplete.autocomplete(parser)
        world = real_world()
    try:
        args = parser.parse_args(argv)
        root = args.root if args.root is not None else find_root(Path.cwd())
        if args.quiet:
            world = dataclasses.replace(world, stdout=io.StringIO())
        if args.no_color:
            world = dataclasses.replace(world, environ={**world.environ, "NO_COLOR": "1"})
        session = Session(root=root, world=world, now=world.clock(), cache_dir=cache_dir(world.environ))
        name = args.command.replace("-", "_")
        outcome: Outcome = modules[name if name in modules else f"{name}_"].run(args, session)
        if args.verbose:
            elapsed = (world.clock() - session.now).total_seconds()
            print(f"reconciler: {args.command} in {root} took {elapsed:.2f} s", file=world.stderr)
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
