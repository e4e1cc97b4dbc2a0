"""The handled errors: each is a failure a user can act on, and says what to do.

Every handled error type lives here. The CLI boundary (`cli`) maps them to exit codes;
anything raised that is not a `ReconcilerError` is a bug, and the CLI shows its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file, located as precisely as we can."""

    path: Path
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


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
