"""Parsed documents by content hash: a file whose bytes have not changed is never parsed again.

Parsing dominates a cold run (ARCHITECTURE.md, "What things cost"). The cache keeps what the
loader returned for each distinct content (suffix and bytes), so a warm `validate` or
`plan` of 100,000 customers reads and hashes the files and skips the YAML parser.

The cache is data and nothing else, and it is ours alone:

- it is `marshal` of plain values (strings, numbers, lists, maps, and tagged tuples for the
  decimals and times a document holds): loading it builds values, never runs code, unlike
  a pickle;
- it lives outside the repository, in a folder the tool creates readable by its user only
  (0700); a folder or a file that another user owns, or that others may write to, is not
  read or written (a one-line warning says why), so nobody can plant an entry that changes
  what a customer file says;
- a temporary file is removed whatever happens to the write, and a cache that cannot be
  read is ignored (it costs speed, never correctness).

Results are keyed by the loader's revision as well, so a release that changes what the
loader returns never sees old entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.documents.loader import Load, LoadedDocument, load_document, read_source
from reconciler.documents.writing import write_file
from reconciler.errors import UsageError
from reconciler.gc_pause import gc_paused

# Bump when the loader's output changes shape or meaning.
LOADER_REVISION = f"{__version__}/3"

Entry = dict[str, Any]  # a document's data: positions are found again from the file's bytes
Warn = Callable[[str], None]


class DocumentCache:
    def __init__(self, file: Path, warn: Warn = lambda message: None) -> None:
        self.file = file
        self.warn = warn
        self.usable = _private(file, warn)
        self._stored: dict[bytes, Any] = _read_cache(file) if self.usable else {}
        self._used: dict[bytes, Any] = {}
        self._parsed: set[bytes] = set()
        self.hits = 0
        self.misses = 0

    def load(self, path: Path) -> LoadedDocument:
        """`load_document(path)`, from the cache when this content was parsed before."""
        content = read_source(path)
        digest = hashlib.blake2b(path.suffix.lower().encode() + b"\0" + content, digest_size=20).digest()
        stored = self._used.get(digest) or self._stored.get(digest)
        entry = _decode(stored) if stored is not None else None
        if entry is None:
            self.misses += 1
            self._parsed.add(digest)
            entry = load_document(path, content).data
            stored = _encode(entry)
        else:
            self.hits += 1
        self._used[digest] = stored
        return LoadedDocument(path, entry, content)

    def save(self) -> None:
        """Keep what this run used, and what earlier runs stored while the cache stays small."""
        if not self._parsed or not self.usable:
            return
        with gc_paused():
            self._write()

    def _write(self) -> None:
        entries = {**self._stored, **self._used} if len(self._stored) < 2 * len(self._used) + 1000 else self._used
        # A read-only or full disk costs speed next time, nothing else.
        with suppress(UsageError, ValueError):
            write_file(self.file, marshal.dumps((LOADER_REVISION, entries)), mode=0o600, durable=False)


def _private(file: Path, warn: Warn) -> bool:
    """Whether the cache at FILE is the user's alone: its folder created 0700 if missing, owned
    by the user and writable by nobody else, and so is the file when it exists."""
    folder = file.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        checked = [folder, file] if file.exists() else [folder]
        for path in checked:
            status = path.lstat()
            if status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or stat.S_ISLNK(status.st_mode):
                warn(
                    f"the document cache {path} is not private to this user (another owner, writable by "
                    "others, or a link); it is not used: make it yours alone, or set RECONCILER_CACHE_DIR"
                )
                return False
    except OSError as exc:
        warn(f"the document cache {folder} cannot be used ({exc.strerror or exc}); documents are parsed afresh")
        return False
    return True


def _read_cache(file: Path) -> dict[bytes, Any]:
    try:
        with file.open("rb") as stream, gc_paused():
            revision, entries = marshal.load(stream)
    except Exception:  # missing, truncated by a crash, or from another version: start empty
        return {}
    return entries if revision == LOADER_REVISION and isinstance(entries, dict) else {}


# --- a document's data as marshal's plain values -------------------------------------------

# A document holds no tuple, so a tuple is a tag: (tag, text) for each value marshal lacks.
_DECIMAL, _DATE, _TIME, _DATETIME = "d", "D", "t", "T"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _encode(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, Decimal):
        return (_DECIMAL, str(value))
    if isinstance(value, dt.datetime):
        return (_DATETIME, value.isoformat())
    if isinstance(value, dt.date):
        return (_DATE, value.isoformat())
    if isinstance(value, dt.time):
        return (_TIME, value.isoformat())
    return value


def _decode(value: Any) -> Any:
    """The data an entry holds; None for anything a document cannot hold (then it is parsed afresh)."""
    try:
        decoded = _decoded(value)
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


_SCALARS = (str, int, bool, type(None))
_TAGS: dict[str, Callable[[str], Any]] = {
    _DECIMAL: Decimal, _DATE: dt.date.fromisoformat, _TIME: dt.time.fromisoformat, _DATETIME: dt.datetime.fromisoformat,
}


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(name): _decoded(item) for name, item in value.items() if isinstance(name, str)}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if isinstance(value, tuple) and len(value) == 2 and value[0] in _TAGS and isinstance(value[1], str):
        return _TAGS[value[0]](value[1])
    if isinstance(value, _SCALARS):
        return value
    raise TypeError(f"a document holds no {type(value).__name__}")


def cache_file(cache_dir: Path, root: Path) -> Path:
    """One cache per repository checkout."""
    checkout = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"documents-{checkout}.marshal"


@contextmanager
def cached_loading(cache_dir: Path | None, root: Path, warn: Warn = lambda message: None) -> Iterator[Load]:
    """Yields a `load(path) -> LoadedDocument`: cached when `cache_dir` is given, saved at the end."""
    if cache_dir is None:
        yield load_document
        return
    cache = DocumentCache(cache_file(cache_dir, root), warn)
    yield cache.load
    cache.save()
