"""`validate` output: every problem as file:line:column: field: message, as text, JSON, or
GitHub workflow annotations (shown inline on a pull request)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from reconciler.errors import Problem, escaped
from reconciler.render import write_json


@dataclass(frozen=True)
class Findings:
    """What `validate` found: problems (the files are invalid), warnings (they are valid, but
    say something worth a second look), and how many files of each kind it read."""

    problems: Sequence[Problem]
    warnings: Sequence[Problem]
    customer_files: int
    overlay_files: int
    config_files: int = 0  # reconciler.toml, when given as a PATH

    @property
    def files(self) -> int:
        return self.customer_files + self.overlay_files + self.config_files

    def valid(self) -> str:
        """What was found valid, as the last line says it."""
        if self.config_files and not self.customer_files:
            return "reconciler.toml valid."
        return f"{plural(self.customer_files, 'customer')} valid."


def report_problems(format_name: str, findings: Findings, out: TextIO) -> None:
    """What `validate` found, in FORMAT_NAME: text, json or github."""
    REPORTERS[format_name](findings, out)


def _report_text(findings: Findings, out: TextIO) -> None:
    # Warnings wait until the files are valid: problems first.
    for warning in findings.warnings if not findings.problems else ():
        print(f"warning: {warning}", file=out)
    for problem in findings.problems:
        print(problem, file=out)
    if findings.problems:
        files = len({problem.path for problem in findings.problems})
        print(f"{plural(len(findings.problems), 'problem')} in {plural(files, 'file')}.", file=out)
    else:
        print(findings.valid(), file=out)


def _as_json(problem: Problem) -> dict[str, object]:
    return {
        "file": str(problem.path), "line": problem.line, "column": problem.column,
        "field": problem.field, "message": problem.message,
    }


def _report_json(findings: Findings, out: TextIO) -> None:
    document = {
        "valid": not findings.problems,
        "files": findings.files,
        "problems": [_as_json(problem) for problem in findings.problems],
        "warnings": [_as_json(warning) for warning in findings.warnings],
    }
    write_json(document, out)


def _report_github(findings: Findings, out: TextIO) -> None:
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    for level, found in (("warning", findings.warnings), ("error", findings.problems)):
        for problem in found:
            properties = [f"file={_escape_property(str(problem.path))}"]
            if problem.line is not None:
                properties.append(f"line={problem.line}")
            if problem.column is not None:
                properties.append(f"col={problem.column}")
            if problem.field:
                properties.append(f"title={_escape_property(problem.field)}")
            print(f"::{level} {','.join(properties)}::{_escape_data(problem.message)}", file=out)
    if not findings.problems:
        print(findings.valid(), file=out)


def _escape_data(text: str) -> str:
    # The workflow command's own escapes, then what a terminal (and the job's log) would act on.
    return escaped(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


REPORTERS = {"text": _report_text, "json": _report_json, "github": _report_github}
