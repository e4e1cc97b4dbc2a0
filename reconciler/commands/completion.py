"""`reconciler completion bash|zsh|fish`: the shell completion script, made from the parser."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session

SHELLS = ("bash", "zsh", "fish")


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "completion", help="print the shell completion script (bash, zsh or fish)",
        description="Print the script that completes reconciler's commands and options in SHELL; "
        "source it, or save it where the shell looks for completions.",
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    # Imported here: every command's module loads to build the parser, and this one's alone needs it.
    from argcomplete.shell_integration import shellcode

    session.stdout.write(shellcode(["reconciler"], shell=args.shell))
    return Outcome.DONE
