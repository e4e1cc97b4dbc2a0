"""Parsed documents by content, and what else a run may keep for the next: a file whose bytes
have not changed is never parsed again.

Parsing dominates a cold run (ARCHITECTURE.md, "What things cost"). The cache keeps what the
loader returned for each distinct content (suffix and bytes, named by git's blob id of the
bytes), so a warm `validate` or `plan` skips the YAML parser; `desired.fleet` keeps in it,
beside the documents, what it knows of the whole fleet (`get_meta`/`put_meta`), so a warm
plan of 100,000 unchanged customers reads neither the files nor the documents, and what it
worked out from each document (`put_derived`/`derived`: the canonical form of the customer a
file defines, which a plan of creates takes as it is).

It is one SQLite database per checkout: read by key, never whole, so a run that needs a
thousand documents reads a thousand. The cache is data and nothing else, and it is ours alone:

- every value in it is `marshal` of plain values (strings, numbers, lists, maps, and tagged
  tuples for the decimals and times a document holds), checked as it is decoded: loading it
  builds values, never runs code, unlike a pickle;
- it lives outside the repository, in a folder the tool creates readable by its user only
  (0700); a folder or a file that another user owns, or that others may write to, is not
  read or written (a one-line warning says why), so nobody can plant an entry that changes
  what a customer file says;
- a cache that cannot be read or written (corrupt, locked, a full disk) is ignored: it
  costs speed, never correctness.

Entries are keyed by the loader's revision as well, so a release that changes what the
loader returns never sees old entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from reconciler import __version__
from reconciler.documents.loader import Load, LoadedDocument, load_document, read_source
from reconciler.gc_pause import gc_paused

# Bump when the loader's output changes shape or meaning.
LOADER_REVISION = f"{__version__}/4"

Warn = Callable[[str], None]
T = TypeVar("T")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS document (id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS derived (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
)
_CHUNK = 500  # ids per query, under SQLite's bound-parameter limit
BUSY_SECONDS = 2.0  # how long a write waits for another process's transaction to end
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})  # primary result codes of a lock held


def content_id(suffix: str, content: bytes) -> str:
    """What names a document's content: git's blob id of its bytes (so a file git finds
    unchanged is named without reading it), and its kind, for the same bytes read as YAML
    and as TOML are different documents."""
    blob = hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
    return f"{_kind(suffix)}:{blob}"


def blob_content_id(suffix: str, blob: str) -> str:
    """`content_id` of a file whose git blob id is BLOB."""
    return f"{_kind(suffix)}:{blob}"


def _kind(suffix: str) -> str:
    return "toml" if suffix.lower() == ".toml" else "yaml"


class DocumentCache:
    def __init__(self, file: Path, warn: Warn = lambda message: None) -> None:
        self.file = file
        self.warn = warn
        self.usable = _private(file, warn)
        self._connection: sqlite3.Connection | None = None
        self._opened = False
        self._known: dict[str, Any] = {}  # id -> data, read or parsed this run
        self._new: dict[str, bytes] = {}  # id -> encoded data, to write
        self._new_meta: dict[str, bytes] = {}
        self._new_derived: dict[str, bytes] = {}
        self.hits = 0
        self.misses = 0

    # --- documents ----------------------------------------------------------------------

    def load(self, path: Path) -> LoadedDocument:
        """`load_document(path)`, from the cache when this content was parsed before."""
        content = read_source(path)
        return self.load_content(path, content, content_id(path.suffix, content))

    def load_content(self, path: Path, content: bytes, identity: str) -> LoadedDocument:
        """The document PATH holds, CONTENT (named IDENTITY, see `content_id`)."""
        data = self.stored([identity]).get(identity)
        if data is None:
            self.misses += 1
            data = load_document(path, content).data
            self.remember(identity, data)
        else:
            self.hits += 1
        return LoadedDocument(path, data, content)

    def stored(self, identities: Iterable[str], *, keep: bool = True) -> dict[str, Any]:
        """The data of each document of IDENTITIES the cache holds; kept for the rest of the
        run, unless not KEEP (a caller that asks for each once)."""
        found, wanted = _apart(identities, self._known)
        connection = self._open()
        if connection is None or not wanted:
            return found
        with suppress(sqlite3.Error), gc_paused():
            for identity, blob in _by_key(connection, "SELECT id, data FROM document WHERE id IN ({})", wanted):
                data = _decode(_unmarshal(blob))
                if data is not None:
                    found[identity] = data
                    if keep:
                        self._known[identity] = data
        return found

    def holds_documents(self) -> bool:
        """Whether the cache holds any document at all (a cold cache holds none)."""
        connection = self._open()
        if connection is None:
            return False
        with suppress(sqlite3.Error):
            return connection.execute("SELECT 1 FROM document LIMIT 1").fetchone() is not None
        return False

    def remember(self, identity: str, data: dict[str, Any]) -> None:
        """Keep DATA as what the content IDENTITY parses to."""
        self._known[identity] = data
        self._new[identity] = encoded(data)

    def remember_encoded(self, identity: str, blob: bytes) -> None:
        """`remember` for data already `encoded` (by a worker process)."""
        self._new[identity] = blob

    def flush(self) -> None:
        """Write the documents (and what was derived from them) kept so far now, and forget
        them (a cold run of a large fleet holds only a batch at a time)."""
        if (self._new or self._new_derived) and self.usable:
            connection = self._open(create=True)
            if connection is not None:
                with suppress(sqlite3.Error), _transaction(connection):
                    self._write(connection)
        self._new.clear()
        self._new_derived.clear()

    # --- what a document's content gives ---------------------------------------------------

    def put_derived(self, name: str, blob: bytes) -> None:
        """Keep BLOB (`marshal` of plain values) under NAME: what a caller worked out from a
        document's content, named by that content and by all else it depends on."""
        self._new_derived[name] = blob

    def derived(self, names: Iterable[str]) -> dict[str, bytes]:
        """What the cache holds under each of NAMES (`put_derived`), as it was kept: marshal's
        bytes, which the caller reads and checks."""
        found, wanted = _apart(names, self._new_derived)  # kept this run, not yet written
        connection = self._open()
        if connection is None or not wanted:
            return found
        with suppress(sqlite3.Error):
            for name, blob in _by_key(connection, "SELECT name, data FROM derived WHERE name IN ({})", wanted):
                if isinstance(blob, bytes):
                    found[name] = blob
        return found

    # --- what else a run keeps ------------------------------------------------------------

    def get_meta(self, name: str) -> Any:
        """The plain value kept under NAME, or None."""
        connection = self._open()
        if connection is None:
            return None
        with suppress(sqlite3.Error):
            row = connection.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            if row is not None:
                with gc_paused():
                    return _unmarshal(row[0])
        return None

    def put_meta(self, name: str, value: Any) -> None:
        """Keep VALUE (plain values only: marshal's) under NAME, written by `save`."""
        self._new_meta[name] = marshal.dumps(value)

    def save(self) -> None:
        """Write what this run parsed and kept; drop entries of earlier releases."""
        if not (self._new or self._new_meta or self._new_derived) or not self.usable:
            self.close()
            return
        connection = self._open(create=True)
        if connection is None:
            return
        # A read-only, locked or full disk costs speed next time, nothing else.
        with suppress(sqlite3.Error), gc_paused():
            with _transaction(connection):
                self._write(connection)
                connection.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", self._new_meta.items())
            self._new.clear()
            self._new_derived.clear()
            self._new_meta.clear()
        self.close()

    def _write(self, connection: sqlite3.Connection) -> None:
        connection.executemany("INSERT OR REPLACE INTO document VALUES (?, ?)", self._new.items())
        connection.executemany("INSERT OR REPLACE INTO derived VALUES (?, ?)", self._new_derived.items())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._opened = None, False

    def _open(self, *, create: bool = False) -> sqlite3.Connection | None:
        if self._connection is not None or not self.usable:
            return self._connection
        if self._opened and not create:
            return None
        self._opened = True
        if not create and not self.file.exists():
            return None
        connection: sqlite3.Connection | None = None
        try:
            if create and not self.file.exists():
                # Created private, before SQLite opens it; by another process of ours in the
                # meantime (a worker: see `desired.fleet`), it is the same cache, to share.
                with suppress(FileExistsError):
                    os.close(os.open(self.file, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
            connection = sqlite3.connect(self.file, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA synchronous = OFF")
            with _transaction(connection):
                for statement in _SCHEMA:
                    connection.execute(statement)
                found = connection.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()
                if found is None or _unmarshal(found[0]) != LOADER_REVISION:
                    connection.execute("DELETE FROM document")
                    connection.execute("DELETE FROM derived")
                    connection.execute("DELETE FROM meta")
                    connection.execute("INSERT INTO meta VALUES ('revision', ?)", (marshal.dumps(LOADER_REVISION),))
        except (sqlite3.Error, OSError, ValueError) as exc:
            if connection is not None:
                connection.close()
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY:
                # Locked by another process past the busy timeout: a cache another run is
                # using is not thrown away, only not used now.
                return None
            # Not a database (a planted file, one truncated by a crash), of another release
            # and not writable: start again empty.
            with suppress(OSError):
                self.file.unlink()
            if create:
                return self._retry()
            return None
        self._connection = connection
        return connection

    def _retry(self) -> sqlite3.Connection | None:
        self.usable = _private(self.file, self.warn)
        self._opened = False
        if not self.usable or self.file.exists():
            return None
        with suppress(sqlite3.Error, OSError, ValueError):
            return self._open(create=True)
        return None


def _apart(keys: Iterable[str], held: Mapping[str, T]) -> tuple[dict[str, T], list[str]]:
    """Those of KEYS HELD in memory, by key, and the others, to read from the database."""
    found: dict[str, T] = {}
    wanted = []
    for key in keys:
        if key in held:
            found[key] = held[key]
        else:
            wanted.append(key)
    return found, wanted


def _by_key(connection: sqlite3.Connection, query: str, keys: list[str]) -> Iterator[tuple[Any, Any]]:
    """The rows QUERY finds for KEYS, its `IN ({})` filled with a mark for each of `_CHUNK`
    of them at a time (under SQLite's bound-parameter limit)."""
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        yield from connection.execute(query.format(",".join("?" * len(chunk))), chunk)


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One transaction, committed at the end or rolled back on an error. The connection is
    in autocommit mode (`isolation_level=None`), where each row of an executemany outside
    BEGIN is a transaction of its own: a journal file made and removed for each, four
    times the time of the rows' writes (100,000 documents: 6.1 s against 1.6 s)."""
    connection.execute("BEGIN")
    with connection:
        yield


def encoded(data: dict[str, Any]) -> bytes:
    """A document's data as the cache keeps it."""
    return marshal.dumps(_encode(data))


def _unmarshal(blob: Any) -> Any:
    if not isinstance(blob, bytes):
        raise ValueError("not a cache entry")
    try:
        return marshal.loads(blob)
    except (EOFError, ValueError, TypeError) as exc:
        raise ValueError("not a cache entry") from exc


def _private(file: Path, warn: Warn) -> bool:
    """Whether the cache at FILE is the user's alone: its folder created 0700 if missing, owned
    by the user and writable by nobody else, and so is the file when it exists."""
    folder = file.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        checked = [folder, file] if file.exists() or file.is_symlink() else [folder]
        for path in checked:
            status = path.lstat()
            if (
                status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                or stat.S_ISLNK(status.st_mode) or (path is file and not stat.S_ISREG(status.st_mode))
            ):
                warn(
                    f"the document cache {path} is not private to this user (another owner, writable by "
                    "others, a link or not a file); it is not used: make it yours alone, or set RECONCILER_CACHE_DIR"
                )
                return False
    except OSError as exc:
        warn(f"the document cache {folder} cannot be used ({exc.strerror or exc}); documents are parsed afresh")
        return False
    return True


# --- a document's data as marshal's plain values -------------------------------------------

# A document holds no tuple, so a tuple is a tag: (tag, text) for each value marshal lacks.
_DECIMAL, _DATE, _TIME, _DATETIME = "d", "D", "t", "T"
_SCALARS = (str, int, bool, type(None))
_PLAIN = frozenset(_SCALARS)


def _encode(value: Any) -> Any:
    if type(value) in _PLAIN:  # most values, told by identity first
        return value
    # A branch's plain values taken as they are, without a call each (as `_decoded` reads them).
    if isinstance(value, dict):
        return {name: item if type(item) in _PLAIN else _encode(item) for name, item in value.items()}
    if isinstance(value, list):
        return [item if type(item) in _PLAIN else _encode(item) for item in value]
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


_TAGS: dict[str, Callable[[str], Any]] = {
    _DECIMAL: Decimal, _DATE: dt.date.fromisoformat, _TIME: dt.time.fromisoformat, _DATETIME: dt.datetime.fromisoformat,
}


def _decoded(value: Any) -> Any:
    if type(value) in _PLAIN:  # most values, told by identity first
        return value
    if isinstance(value, dict):
        # A branch's plain values (most of a document's) taken as they are, without a call each.
        return {
            str(name): item if type(item) in _PLAIN else _decoded(item)
            for name, item in value.items() if isinstance(name, str)
        }
    if isinstance(value, list):
        return [item if type(item) in _PLAIN else _decoded(item) for item in value]
    if isinstance(value, tuple) and len(value) == 2 and value[0] in _TAGS and isinstance(value[1], str):
        return _TAGS[value[0]](value[1])
    if isinstance(value, _SCALARS):
        return value
    raise TypeError(f"a document holds no {type(value).__name__}")


def cache_file(cache_dir: Path, root: Path) -> Path:
    """One cache per repository checkout."""
    checkout = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"documents-{checkout}.sqlite"


@contextmanager
def open_cache(cache_dir: Path | None, root: Path, warn: Warn = lambda message: None) -> Iterator[DocumentCache | None]:
    """The cache of the checkout at ROOT (None without a `cache_dir`), saved at the end."""
    if cache_dir is None:
        yield None
        return
    cache = DocumentCache(cache_file(cache_dir, root), warn)
    try:
        yield cache
    except BaseException:
        cache.close()
        raise
    cache.save()


def cache_of(load: Load) -> DocumentCache | None:
    """The document cache whose `load` LOAD is (as `cached_loading` yields it); None for any
    other loader."""
    bound = getattr(load, "__self__", None)
    return bound if isinstance(bound, DocumentCache) else None


@contextmanager
def cached_loading(cache_dir: Path | None, root: Path, warn: Warn = lambda message: None) -> Iterator[Load]:
    """Yields a `load(path) -> LoadedDocument`: cached when `cache_dir` is given, saved at the end."""
    with open_cache(cache_dir, root, warn) as cache:
        yield load_document if cache is None else cache.load


