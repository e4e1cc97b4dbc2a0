"""The handled errors: each is a failure a user can act on, and says what to do.

Every handled error type lives here. The CLI boundary (`cli`) maps them to exit codes;
anything raised that is not a `ReconcilerError` is a bug, and the CLI shows its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# What a terminal would act on, or cannot be sent at all: the C0 controls but tab and
# newline, DEL, the C1 controls, and halves of UTF-16 surrogate pairs.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def escaped(text: str, *, one_line: bool = False) -> str:
    """TEXT with what a terminal would act on written as its escape (ESC as \\x1b): for a
    message that quotes what a file, a live system or a contributor said, in their words.
    ONE_LINE: its line feeds too, where a line break would pass for another line of output."""
    shown = _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], text)
    return shown.replace("\n", "\\n") if one_line else shown


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file, located as precisely as we can."""

    path: Path
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        # A file's name and what a message quotes of it are a contributor's: escaped.
        where = escaped(str(self.path), one_line=True)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        message = escaped(self.message, one_line=True)
        return f"{where}: {escaped(self.field, one_line=True)}: {message}" if self.field else f"{where}: {message}"


class ReconcilerError(Exception):
    """Base of every handled error. `str(error)` is the message shown to the user."""


class InvalidInput(ReconcilerError):
    """One or more input files are invalid; every problem found is listed at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = sorted(problems, key=_problem_order)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def _problem_order(problem: Problem) -> tuple[str, int, int, str, str]:
    return (str(problem.path), problem.line or 0, problem.column or 0, problem.field, problem.message)


class ConfigError(ReconcilerError):
    """reconciler.toml, or the environment it names, is wrong."""


class UnsafePlan(ReconcilerError):
    """A plan breaks a safety rule (a threshold, a change the platform forbids)."""


class StalePlan(ReconcilerError):
    """A saved plan no longer matches the live records it was computed against."""


class ProviderError(ReconcilerError):
    """The live system failed or refused an operation."""


class ProviderUnavailable(ProviderError):
    """The live system kept failing (rate limits, server errors, no answer) until the retry
    budget was spent: the writes still to come would only spend it again."""


class ConflictError(ProviderError):
    """A live record changed since the caller read it (optimistic concurrency)."""


class LockHeld(ProviderError):
    """Another holder has the provider's lease lock."""


class GitError(ReconcilerError):
    """A git operation failed: not a repository, unknown revision, ..."""


class UsageError(ReconcilerError):
    """Bad command-line arguments, or a command used where it cannot run (no terminal to confirm on)."""


class UnknownCustomer(ReconcilerError):
    """A customer key that no file, commit or live record has."""


class ExistingFile(ReconcilerError):
    """A file the command would write is already there, and replacing it was not asked for."""
