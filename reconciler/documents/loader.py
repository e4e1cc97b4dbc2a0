"""Read one YAML or TOML file into plain data, with the line and column of every value.

YAML goes through `documents.yaml12` (YAML 1.2 core schema on PyYAML's C parser), TOML
through `documents.toml` (TOML 1.0 with floats as `Decimal`; its local dates and times
stay the `datetime.date` / `datetime.time` objects the parser returns, which the model
converts itself). This module dispatches by suffix, reads files within their size limit,
and keeps what a loaded document needs to place an error.

Whatever the input, the loader returns a `LoadedDocument` or raises `InvalidInput`.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from reconciler.documents.toml import TomlScan, load_toml
from reconciler.documents.yaml12 import KeyPath, Mark, parse_yaml, parse_yaml_bytes, parse_yaml_data
from reconciler.errors import InvalidInput, Problem
from reconciler.model.fields import field_path

__all__ = [
    "MAX_FILE_BYTES", "SUFFIXES", "Listing", "Load", "LoadedDocument", "Mark",
    "document_names", "document_paths", "load_document", "parse_yaml", "read_source",
]

MAX_FILE_BYTES = 1024 * 1024
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
TOML_SUFFIXES = frozenset({".toml"})
SUFFIXES = (".yaml", ".yml", ".toml")


class Positions(NamedTuple):
    """Where the parts of a document start: values and keys by key path, and which values
    are block scalars (their content starts on the line after the mark)."""

    marks: Mapping[KeyPath, tuple[int, int]]
    key_marks: Mapping[KeyPath, tuple[int, int]]
    block_scalars: frozenset[KeyPath]


NO_POSITIONS = Positions({}, {}, frozenset())


@dataclass(frozen=True)
class LoadedDocument:
    """A file's top-level mapping, and the bytes it was read from.

    Positions are needed only to report an error, so they are not kept: the first call
    that needs one reads `source` again. That keeps 100,000 loaded customers small, and
    the document cache fast (it stores `data` alone).
    """

    path: Path
    data: dict[str, Any]
    source: bytes = b""

    @cached_property
    def positions(self) -> Positions:
        return positions_of(self.path, self.source) if self.source else NO_POSITIONS

    @property
    def marks(self) -> Mapping[KeyPath, tuple[int, int]]:
        return self.positions.marks

    @property
    def key_marks(self) -> Mapping[KeyPath, tuple[int, int]]:
        return self.positions.key_marks

    @property
    def block_scalars(self) -> frozenset[KeyPath]:
        return self.positions.block_scalars

    def locate(self, loc: Sequence[str | int], *, key: bool = False) -> Mark | None:
        """The mark of the longest prefix of LOC that has one; its key's mark when KEY and known."""
        marks, key_marks, _ = self.positions
        for end in range(len(loc), -1, -1):
            prefix = tuple(loc[:end])
            if key:
                key_mark = key_marks.get(prefix)
                if key_mark is not None:
                    return Mark(*key_mark)
            mark = marks.get(prefix)
            if mark is not None:
                return Mark(*mark)
        return None

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        """A problem with the field at LOC, placed as precisely as `locate` can."""
        mark = self.locate(loc, key=key)
        line, column = (mark.line, mark.column) if mark else (None, None)
        return Problem(self.path, line, column, field_path(tuple(loc)), message)


def positions_of(path: Path, source: bytes) -> Positions:
    """Positions in SOURCE, which `load_document` has already read without error."""
    if source.startswith(codecs.BOM_UTF8):
        source = source[len(codecs.BOM_UTF8) :]
    if path.suffix.lower() in TOML_SUFFIXES:
        scan = TomlScan(source.decode("utf-8"), path)
        return Positions(scan.marks, scan.key_marks, frozenset(scan.block_scalars))
    _, marks, key_marks, block_scalars = parse_yaml_bytes(source, path)
    return Positions(marks, key_marks, block_scalars)


Load = Callable[[Path], "LoadedDocument"]
"""How callers read a document: `load_document`, or a cache in front of it (`doccache`)."""


class Listing(NamedTuple):
    """The documents of a folder, and every other entry in it, each a problem."""

    paths: list[Path]
    problems: list[Problem]


def document_paths(directory: Path, root: Path | None = None) -> Listing:
    """The YAML and TOML files in `directory`, sorted by name; dotfiles are not documents.

    Anything else in the folder is a problem that names it, never a silent skip (a
    `kiwi-link.TOML` skipped would read as a customer removed): a suffix we do not read, an
    entry that is not a regular file (a FIFO would hang the reader), and a symbolic link
    that leads out of the repository at `root` (not read: its lines would end up in messages).
    """
    names, problems = document_names(directory, root)
    return Listing([directory / name for name in names], problems)


def document_names(directory: Path, root: Path | None = None) -> tuple[list[str], list[Problem]]:
    """`document_paths` as file names: one directory scan, and a `stat` only for a link (the
    type of every other entry comes with the scan), so 100,000 files list in a few hundredths
    of a second."""
    names: list[str] = []
    others: list[tuple[str, os.DirEntry[str]]] = []
    try:
        with os.scandir(directory) as scan:
            for entry in scan:
                name = entry.name
                if name.endswith(SUFFIXES) and entry.is_file(follow_symlinks=False) and not name.startswith("."):
                    names.append(name)  # the common case, decided without a Path (and not a link)
                elif not name.startswith("."):
                    others.append((name, entry))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    problems: list[Problem] = []
    for name, entry in sorted(others, key=lambda other: other[0]):
        path = directory / name
        problem = _not_a_document(path, root, entry)
        if problem is None:
            names.append(name)
        else:
            problems.append(Problem(path, None, None, "", problem))
    names.sort()
    return names, problems


def _not_a_document(path: Path, root: Path | None, entry: os.DirEntry[str]) -> str | None:
    if path.suffix not in SUFFIXES:
        wanted = path.with_suffix(path.suffix.lower()).name if path.suffix.lower() in SUFFIXES else None
        rename = f"; rename it {wanted}" if wanted else "; move it out of the folder"
        return f"'{path.name}' is not read here: only .yaml, .yml and .toml files are documents{rename}"
    if entry.is_symlink() and root is not None and not path.resolve().is_relative_to(root.resolve()):
        return "a symbolic link to a file outside the repository; it is not read: copy the file in instead"
    if not entry.is_file():
        return "not a regular file (a folder, FIFO or device); it is not read"
    return None


def load_document(path: Path, content: bytes | None = None) -> LoadedDocument:
    """Load PATH (or CONTENT, as read from PATH) by its suffix: .yaml/.yml or .toml."""
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES and suffix not in TOML_SUFFIXES:
        raise _invalid(path, f"'{path.suffix}' files are not read; write the document as .yaml, .yml or .toml")
    if content is None:
        content = read_source(path)
    elif len(content) > MAX_FILE_BYTES:
        raise _oversize(path, len(content))
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    if not content.strip():
        raise _invalid(path, "the file is empty; write the document in it")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        column = len(content[content.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        message = (
            f"the file is not valid UTF-8: byte 0x{content[exc.start]:02x} at offset {exc.start} "
            "cannot be decoded; save the file as UTF-8"
        )
        raise InvalidInput([Problem(path, line, column, "", message)]) from None
    if suffix in TOML_SUFFIXES:
        return LoadedDocument(path, load_toml(path, text), content)
    data = parse_yaml_data(content, path)
    if type(data) is not dict:
        mark = parse_yaml_bytes(content, path)[1][()]
        kind = "a sequence" if type(data) is list else "null" if data is None else "a single value"
        message = f"the document is {kind}, not a mapping; write it as 'key: value' lines"
        raise InvalidInput([Problem(path, mark.line, mark.column, "", message)])
    return LoadedDocument(path, data, content)


def read_source(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of PATH, a regular file, refusing one over LIMIT bytes before reading it whole."""
    try:
        # Non-blocking, and a regular file only: a FIFO or device named *.yaml must not hang us.
        # Read through the descriptor itself: a file object for each is half the time of a
        # read (~3.5 µs of ~7.5; ~0.35 s of CPU over a cold 100,000).
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            status = os.fstat(handle)
            if stat.S_ISDIR(status.st_mode):  # what a file object would have said of it
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            if not stat.S_ISREG(status.st_mode):
                raise _invalid(path, "not a regular file (a folder, FIFO or device); it is not read")
            if status.st_size > limit:
                raise _oversize(path, status.st_size, limit)
            # As many bytes as the file has, and one more to see it grew since: a read of
            # the limit itself allocates a megabyte for each file (three times the read's time).
            content = _read_up_to(handle, status.st_size + 1)
            if len(content) > status.st_size:  # it grew, or says it has none (/proc): read on, up to the limit
                content += _read_up_to(handle, limit + 1 - len(content))
        finally:
            os.close(handle)
    except OSError as exc:
        raise _invalid(path, f"cannot read the file: {exc.strerror or exc}") from None
    if len(content) > limit:
        raise _oversize(path, len(content), limit)
    return content


def _read_up_to(handle: int, size: int) -> bytes:
    """SIZE bytes of the file open as HANDLE, or as many as it has left (a read may give
    fewer than asked without being at the end)."""
    parts = []
    while size > 0:
        part = os.read(handle, size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _oversize(path: Path, size: int, limit: int = MAX_FILE_BYTES) -> InvalidInput:
    allowed = f"{limit} (1 MiB)" if limit == MAX_FILE_BYTES else str(limit)
    return _invalid(path, f"the file is {size} bytes, more than the {allowed} allowed; split it or trim it")


def _invalid(path: Path, message: str) -> InvalidInput:
    return InvalidInput([Problem(path, None, None, "", message)])
