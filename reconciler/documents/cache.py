"""Parsed documents by content hash: a file whose bytes have not changed is never parsed again.

Parsing dominates a cold run (ARCHITECTURE.md, "What things cost"). The cache keeps what the
loader returned for each distinct content (suffix and bytes), so a warm `validate` or
`plan` of 100,000 customers reads and hashes the files and skips the YAML parser.

The cache is a pickle, so it lives outside the repository (in the user's cache folder,
chosen by the CLI): a file in the repository, which a pull request could change, is
never unpickled. A cache that cannot be read is ignored; one that cannot be written is
not written. Results are keyed by the loader's revision as well, so a release that
changes what the loader returns never sees old entries.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.documents.loader import Load, LoadedDocument, load_document, read_source
from reconciler.gc_pause import gc_paused

# Bump when the loader's output changes shape or meaning.
LOADER_REVISION = f"{__version__}/2"

Entry = dict[str, Any]  # a document's data: positions are found again from the file's bytes


class DocumentCache:
    def __init__(self, file: Path) -> None:
        self.file = file
        self._stored: dict[bytes, Entry] = _read_cache(file)
        self._used: dict[bytes, Entry] = {}
        self._parsed: set[bytes] = set()
        self.hits = 0
        self.misses = 0

    def load(self, path: Path) -> LoadedDocument:
        """`load_document(path)`, from the cache when this content was parsed before."""
        content = read_source(path)
        digest = hashlib.blake2b(path.suffix.lower().encode() + b"\0" + content, digest_size=20).digest()
        entry = self._used.get(digest) or self._stored.get(digest)
        if entry is None:
            self.misses += 1
            self._parsed.add(digest)
            document = load_document(path, content)
            entry = document.data
        else:
            self.hits += 1
        self._used[digest] = entry
        return LoadedDocument(path, entry, content)

    def save(self) -> None:
        """Keep what this run used, and what earlier runs stored while the cache stays small."""
        if not self._parsed:
            return
        with gc_paused():
            self._write()

    def _write(self) -> None:
        entries = {**self._stored, **self._used} if len(self._stored) < 2 * len(self._used) + 1000 else self._used
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=".documents.", suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                pickle.dump((LOADER_REVISION, entries), stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.file)
        except OSError:
            return  # a read-only or full disk costs speed next time, nothing else


def _read_cache(file: Path) -> dict[bytes, Entry]:
    try:
        with file.open("rb") as stream, gc_paused():
            revision, entries = pickle.load(stream)
    except Exception:  # missing, truncated by a crash, or from another version: start empty
        return {}
    return entries if revision == LOADER_REVISION and isinstance(entries, dict) else {}


def cache_file(cache_dir: Path, root: Path) -> Path:
    """One cache per repository checkout."""
    checkout = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"documents-{checkout}.pickle"


@contextmanager
def cached_loading(cache_dir: Path | None, root: Path) -> Iterator[Load]:
    """Yields a `load(path) -> LoadedDocument`: cached when `cache_dir` is given, saved at the end."""
    if cache_dir is None:
        yield load_document
        return
    cache = DocumentCache(cache_file(cache_dir, root))
    yield cache.load
    cache.save()
