"""Turn a loaded document into a typed model, or into problems that point at file, line and field.

pydantic knows *what* is wrong and *where in the document*; the loader knows where in the
*file* each value stands. This module joins the two and rewrites pydantic's generic
sentences into ones that say what to write instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.documents.loader import LoadedDocument, Mark
from reconciler.errors import Problem
from reconciler.model.fields import field_path
from reconciler.model.messages import error_message

ModelT = TypeVar("ModelT", bound=BaseModel)

Loc = tuple[str | int, ...]

def validate(model: type[ModelT], document: LoadedDocument, *, base: Loc = ()) -> ModelT | list[Problem]:
    """Validate `document.data` (or the part of it at `base`) as `model`."""
    data: Any = document.data
    for part in base:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return problems_from(exc, document, model, base=base)


def problems_from(
    exc: ValidationError, document: LoadedDocument, model: type[BaseModel], *, base: Loc = ()
) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = base + _document_loc(error["loc"])
        is_key = error["type"] == "extra_forbidden" or "[key]" in error["loc"]
        mark = document.locate(loc, key=is_key)
        line, column = _position(mark, error, document, loc)
        message = error_message(error, model, loc[len(base):])
        problems.append(Problem(document.path, line, column, field_path(loc), message))
    return problems


def _document_loc(loc: Sequence[str | int]) -> Loc:
    # pydantic appends '[key]' when a mapping key (not its value) failed.
    return tuple(part for part in loc if part != "[key]")


def _position(
    mark: Mark | None, error: ErrorDetails, document: LoadedDocument, loc: Loc
) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    ctx = error.get("ctx") or {}
    toml_line = ctx.get("toml_line")
    if isinstance(toml_line, int):
        # A line inside an embedded TOML text: a block scalar starts on the next line.
        line = mark.line + toml_line + (0 if loc in document.block_scalars else -1)
        return line, _column_in_file(document, line, error.get("input"), toml_line, ctx.get("toml_column"))
    return mark.line, mark.column


def _column_in_file(document: LoadedDocument, line: int, text: Any, toml_line: int, toml_column: Any) -> int | None:
    """Where column TOML_COLUMN of line TOML_LINE of the embedded TEXT stands on LINE of the
    file: found when the file's line ends with that line of the text (a block scalar, or a
    TOML multi-line string), else unknown."""
    if not isinstance(text, str) or not isinstance(toml_column, int):
        return None
    file_lines = document.source.decode("utf-8", "replace").splitlines()
    text_lines = text.splitlines()
    if not (0 < line <= len(file_lines) and 0 < toml_line <= len(text_lines)):
        return None
    in_file, in_text = file_lines[line - 1], text_lines[toml_line - 1]
    if not in_file.endswith(in_text):
        return None
    return len(in_file) - len(in_text) + toml_column
