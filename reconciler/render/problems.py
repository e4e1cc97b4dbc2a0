"""`validate` output: every problem as file:line:column: field: message, as text, JSON, or
GitHub workflow annotations (shown inline on a pull request)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from reconciler.errors import Problem
from reconciler.render import write_json


def report_problems(format_name: str, problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    """The problems found (none: the count of valid customers) in FORMAT_NAME."""
    REPORTERS[format_name](problems, file_count, out)


def _report_text(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)
    if problems:
        files = len({problem.path for problem in problems})
        print(f"{plural(len(problems), 'problem')} in {plural(files, 'file')}.", file=out)
    else:
        print(f"{plural(file_count, 'customer')} valid.", file=out)


def _report_json(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    document = {
        "valid": not problems,
        "files": file_count,
        "problems": [
            {
                "file": str(problem.path),
                "line": problem.line,
                "column": problem.column,
                "field": problem.field,
                "message": problem.message,
            }
            for problem in problems
        ],
    }
    write_json(document, out)


def _report_github(problems: Sequence[Problem], file_count: int, out: TextIO) -> None:
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    for problem in problems:
        properties = [f"file={_escape_property(str(problem.path))}"]
        if problem.line is not None:
            properties.append(f"line={problem.line}")
        if problem.column is not None:
            properties.append(f"col={problem.column}")
        if problem.field:
            properties.append(f"title={_escape_property(problem.field)}")
        print(f"::error {','.join(properties)}::{_escape_data(problem.message)}", file=out)
    if not problems:
        _report_text(problems, file_count, out)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


REPORTERS = {"text": _report_text, "json": _report_json, "github": _report_github}
