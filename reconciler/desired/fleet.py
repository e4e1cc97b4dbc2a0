"""customers.d/ as one fleet, known by content: an unchanged file costs a lookup, not a parse.

`load_customers` reads, parses and validates every file. A fleet of 100,000 customers
planned every few minutes is nearly all unchanged files, so `load_fleet` asks first what
it already knows:

- git names each file's content without reading it: the blob id of every file its index
  holds, for the files it finds unchanged since (`documents.gitindex`); any other file
  is read and named by the blob id of its bytes (`documents.cache.content_id`);
- the document cache keeps, from the last run, the fleet it found valid: each file's name,
  content id and `Summary` (the customer's canonical digest, and what the rules across
  customers need: its name, its earlier keys, its catalog values). Where names and ids are
  the same, the fleet is that one, and nothing is read, parsed or validated;
- a file whose content is new is parsed and validated (across the cores, when there are
  many), and the rules across customers run on the summaries: where the folder holds the
  files kept, on the kept names and claims patched with the new (`_patch`), no summary of
  the others made.

A customer's `CustomerFile` is loaded when something asks for it (the customers a plan
must diff, those overlays touch), from the cached document when there is one.

Only a valid fleet is kept and answered this way. When anything is wrong, `load_customers`
reads the folder as it always has, so every problem is the one it reports, at its line.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

from reconciler.config import Catalogs, Settings
from reconciler.desired.customers import (
    CatalogValues,
    CustomerFile,
    catalog_values,
    customer_file,
    load_customers,
    unset_fields,
    violations_of,
)
from reconciler.documents.cache import DocumentCache, blob_content_id, content_id, encoded
from reconciler.documents.gitindex import CleanIndex, WorkTree, clean_index
from reconciler.documents.loader import (
    SUFFIXES,
    LoadedDocument,
    document_names,
    load_document,
    read_source,
)
from reconciler.errors import InvalidInput, Problem
from reconciler.gc_pause import gc_paused
from reconciler.model.customer import Customer
from reconciler.model.fields import (
    Digests,
    Glance,
    Packed,
    digest,
    digest_of,
    glance_of,
    remember_digest,
    unpacked_document,
)
from reconciler.model.types import KEY_PATTERN

# Bump when what a summary holds, or what makes a file valid, changes meaning.
FLEET_REVISION = 8
# Below this many files to parse, worker processes cost more than they save.
PARALLEL_FROM = 2000
# Up to this many files edited since git's index, a kept fleet is patched with them on every
# run (`_patched`); past it, the kept fleet is renewed with them (`_renewed`), and kept as that.
PATCH_AT_MOST = 1000
# Chunks of the files to parse for each worker process (`_summarise`).
CHUNKS_PER_WORKER = 16
# Files loaded at once from which a fleet learns every file's id (`Fleet._known_ids`).
REMEMBER_FROM = 2000


class Summary(NamedTuple):
    """What the fleet keeps of one valid customer file. A tuple, for a fleet keeps one per
    customer: `marshal` keeps it as plain values, and it is made again at C speed."""

    digest: str  # `model.fields.digest` of the customer
    name: str  # its name (the key when the file gives none)
    renamed_from: tuple[str, ...]
    catalog: CatalogValues
    unset: tuple[str, ...]  # of UNDOCUMENTED_ZERO, the fields the file leaves unset

    def plain(self) -> tuple[Any, ...]:
        return tuple(self)


def summarise(key: str, customer: Customer, data: Mapping[str, Any]) -> Summary:
    return Summary(
        digest(customer), customer.name or key, tuple(customer.renamed_from), catalog_values(customer),
        unset_fields(data),
    )


class Fleet(Mapping[str, CustomerFile]):
    """The valid customer files of a folder by key, in file name order; each one's
    `CustomerFile` loaded when first asked for."""

    def __init__(
        self,
        directory: Path,
        names: Mapping[str, str],
        ids: Mapping[str, str] | Callable[[], Mapping[str, str]],
        summaries: Mapping[str, Summary] | Callable[[], Mapping[str, Summary] | None],
        cache: DocumentCache | None,
        loaded: Mapping[str, CustomerFile] | None = None,
        digests: Mapping[str, str] | None = None,
        fingerprint: str | None = None,
        edited: Mapping[str, str] | None = None,
        folded: list[str] | None = None,
        unset: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.directory = directory
        # What names every file's content at once, when git's index does (see `_from_index`),
        # but the files EDITED since it: key -> content id.
        self.fingerprint = fingerprint
        self.edited: Mapping[str, str] = edited or {}
        self._folded = folded  # each customer's name, case folded, in key order (as kept)
        self._unset = unset  # key -> the fields its file leaves unset, of those that leave any (as kept)
        self.names = names  # key -> file name
        self._ids = ids  # key -> content id, or how to know them
        self._cache = cache
        self._loaded: dict[str, CustomerFile] = dict(loaded or {})
        # Each customer this run parsed, as a plan of its create holds it (`load_fleet`'s
        # DOCUMENTS), until `canonical` gives it.
        self.made: dict[str, Packed] = {}
        if callable(summaries):  # as kept: read when first needed
            assert digests is not None
            self._load_summaries: Callable[[], Mapping[str, Summary] | None] | None = summaries
            self._summaries: Mapping[str, Summary] | None = None
            self.digests: Mapping[str, str] = digests
        else:
            self._load_summaries, self._summaries = None, summaries
            self.digests = {key: summary.digest for key, summary in summaries.items()}

    @property
    def ids(self) -> Mapping[str, str]:
        """Each file's content id, by key."""
        if callable(self._ids):
            self._ids = self._ids()
        return self._ids

    @property
    def summaries(self) -> Mapping[str, Summary]:
        if self._summaries is None:
            assert self._load_summaries is not None
            found = self._load_summaries()
            if found is None:  # the kept summaries are gone: made again from the files
                loaded = self.load(list(self.names))
                found = {key: summarise(key, file.customer, file.document.data) for key, file in loaded.items()}
            self._summaries = found
        return self._summaries

    def folded_names(self) -> Iterator[tuple[str, str]]:
        """(key, its customer's name case folded) of every customer: from the kept fleet's
        names where it holds them, without a summary made for each."""
        if self._folded is not None and len(self._folded) == len(self.names):
            return zip(self.names, self._folded, strict=True)
        return ((key, summary.name.casefold()) for key, summary in self.summaries.items())

    def unset_fields(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """(key, the fields of UNDOCUMENTED_ZERO its file leaves unset) of each customer that
        leaves any: from the kept fleet where it holds them."""
        if self._unset is not None:
            return iter(self._unset.items())
        return ((key, summary.unset) for key, summary in self.summaries.items() if summary.unset)

    def __getitem__(self, key: str) -> CustomerFile:
        found = self._loaded.get(key)
        if found is None:
            if key not in self.names:
                raise KeyError(key)
            found = self.load([key])[key]
        return found

    def __contains__(self, key: object) -> bool:
        return key in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def digest(self, key: str) -> str:
        return self.digests[key]

    def canonical(self, keys: Sequence[str]) -> dict[str, Packed]:
        """Each customer of KEYS as a plan of its create holds it: as this run parsed it
        (`made`, given up to the caller), or as the cache holds it for the content the fleet
        knows (`canonical_name`, kept by a run before), checked against the fleet's digest
        (`_opened`). A create needs nothing more: a plan of 100,000 creates need not read,
        validate and encode each customer again after the workers did (~12 s). The others
        of KEYS are not given."""
        found = {key: self.made.pop(key) for key in keys if key in self.made}
        keys = [key for key in keys if key not in found]
        ids = self._known_ids(len(keys))
        if not keys or self._cache is None or ids is None:
            return found
        names = {canonical_name(ids[key], key): key for key in keys if key in ids}
        entries = self._cache.derived(names)
        with gc_paused():
            while entries:  # each entry let go once opened: never 100,000 held twice (~300 MB)
                name, entry = entries.popitem()
                key = names[name]
                packed = _opened(entry, self.digests[key])
                if packed is not None:
                    found[key] = packed
        return found

    def _known_ids(self, loading: int) -> Mapping[str, str] | None:
        """Each file's content id when the fleet knows them, or when LOADING is many files:
        then knowing them all (from git's listing, a pass over 100,000 in 0.1 s) costs less
        than the digests they spare (encoding a customer costs ~0.05 ms)."""
        if callable(self._ids) and loading < REMEMBER_FROM:
            return None
        return self.ids

    def load(self, keys: list[str], *, keep: bool = True, of: int = 0) -> dict[str, CustomerFile]:
        """The `CustomerFile`s of KEYS, read together (their documents from the cache); kept
        for the next to ask, unless not KEEP: a plan of 100,000 creates needs each file's
        customer, and its bytes and document (a third of what it holds) only until it is
        validated. OF: how many the caller loads in all, where KEYS are a slice of them."""
        found = {key: self._loaded[key] for key in keys if key in self._loaded}
        wanted = [key for key in keys if key not in found]
        # Each file is read, and named by its bytes (the ids of a whole fleet need not be known).
        paths = {key: self.directory / self.names[key] for key in wanted}
        contents = {key: read_source(path) for key, path in paths.items()}
        identities = {key: content_id(paths[key].suffix, content) for key, content in contents.items()}
        stored = self._cache.stored(identities.values(), keep=keep) if self._cache is not None else {}
        known = self._known_ids(max(len(wanted), of))
        with gc_paused():
            for key in wanted:
                path, content = paths[key], contents[key]
                data = stored.get(identities[key])
                document = LoadedDocument(path, data, content) if data is not None else load_document(path, content)
                loaded = customer_file(key, document)
                if isinstance(loaded, list):  # the file changed under us since it was found valid
                    raise InvalidInput(loaded)
                if known is not None and known.get(key) == identities[key]:
                    # The content the fleet's digest was taken of: the plan's id and the
                    # apply need not encode the customer again to know it.
                    remember_digest(loaded.customer, self.digests[key])
                found[key] = loaded
                if keep:
                    self._loaded[key] = loaded
        return {key: found[key] for key in keys}


Index = Callable[[], CleanIndex | None]


def fleet_index(root: Path, directory: Path, work_tree: WorkTree | None = None) -> Index:
    """Start asking git about the customer files of DIRECTORY: the function returned waits
    for the answer, once (see `documents.gitindex`). Started early, git lists the files on
    another core while Python goes on. WORK_TREE: git's status, when the caller started it
    for the plan's revision too."""
    return functools.cache(clean_index(root, os.path.relpath(directory, root), SUFFIXES, work_tree))


def load_fleet(
    root: Path,
    settings: Settings,
    directory: Path,
    cache: DocumentCache | None,
    workers: int | None = None,
    index: Index | None = None,
    meanwhile: Callable[[Mapping[str, str]], None] | None = None,
    *,
    documents: Callable[[str], bool] | None = None,
) -> Fleet:
    """The customer files of DIRECTORY (an existing folder inside ROOT), valid and checked
    together; InvalidInput as `load_customers` raises it when they are not. INDEX: git's
    listing of the folder, when the caller started it (`fleet_index`). MEANWHILE is called
    with the digests of each chunk of files worker processes parse, by key, as the chunk
    comes back while they parse the next: this process has time then. WORKERS: how many
    worker processes (default: one a core, at most 4). DOCUMENTS: the fleet keeps each
    customer parsed of a key it says yes to as a plan of its create holds it, for
    `canonical` (a plan's of the keys the live store lacks: ~3 KB a customer)."""
    with _Workers(workers if workers is not None else min(os.cpu_count() or 1, 4), documents=documents) as pool:
        fleet = _load_fleet(root, settings, directory, cache, pool, index, meanwhile)
        fleet.made = pool.made
        return fleet


def _load_fleet(
    root: Path,
    settings: Settings,
    directory: Path,
    cache: DocumentCache | None,
    pool: _Workers,
    index: Index | None,
    meanwhile: Callable[[Mapping[str, str]], None] | None,
) -> Fleet:
    """`load_fleet`, its worker processes POOL started as soon as it is known they will parse."""
    if cache is None:
        index = None
    elif index is None:
        index = fleet_index(root, directory)
    slot = _slot(settings, directory, root)
    kept = cache.get_meta(slot) if cache is not None else None
    if cache is not None and index is not None and _is_kept(kept):
        from_index = _from_index(directory, index, cache, slot, kept, settings.catalogs)
        if from_index is not None:
            return from_index
        found = index()
        if found is not None and kept[3] and len(found.changed) >= PARALLEL_FROM + PATCH_AT_MOST:
            # The fleet was kept with git's index, and more files differ from the index now
            # than were edited then, by the thousand: those will be parsed.
            pool.start()
    names, problems = document_names(directory, root)
    if problems or cache is None:
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    if len(names) >= PARALLEL_FROM and not cache.holds_documents():
        pool.start()  # a cold cache: every file will be parsed
    keys = [_key(name) for name in names]
    by_key = dict(zip(keys, names, strict=True))
    if len(by_key) != len(names) or not _ALL_KEYS.fullmatch("".join(f"{key}\n" for key in keys)):
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    found = index() if index is not None else None
    blobs = found.blobs if found is not None else {}
    contents: dict[str, bytes] = {}
    ids: dict[str, str] = {}
    for key, name in by_key.items():
        blob = blobs.get(name)
        if blob is not None:
            ids[key] = blob_content_id(_suffix(name), blob)
        else:
            content = contents[key] = _read(directory / name)
            ids[key] = content_id(_suffix(name), content)
    joined_names, joined_ids = "\0".join(names), "\0".join(ids.values())
    if not _is_kept(kept):
        kept = (FLEET_REVISION, "", "", "", "", (), (), "")
    kept_ids = cache.get_meta(slot + ":ids") if kept[1] else None
    if not isinstance(kept_ids, str):
        kept_ids = None
    if kept_ids is not None and kept[1] == joined_names and (digests := _kept_digests(kept, keys)) is not None:
        if kept_ids == joined_ids:
            return Fleet(directory, by_key, ids, lambda: _kept_summaries(cache, slot, keys), cache, digests=digests)
        parts = _Kept.of(kept, keys)
        plain = cache.get_meta(slot + ":summaries") if parts is not None else None
        if parts is not None and isinstance(plain, list) and len(plain) == len(keys):
            # The files kept, some of them edited since (a pull, a bulk edit): the kept fleet
            # patched with those, no summary made for the others.
            renewed = _renewed(
                directory, found, by_key, keys, joined_names, ids, contents, kept_ids.split("\0"), (digests, parts, plain),
                cache, slot, settings.catalogs, pool, meanwhile,
            )
            return renewed if renewed is not None else _read_whole(root, directory, names, problems, settings.catalogs, cache)
    known: dict[str, tuple[str, Summary]] = {}
    if kept_ids is not None:
        kept_names, kept_id_list = kept[1].split("\0"), kept_ids.split("\0")
        kept_summaries = _kept_summaries(cache, slot, _keys(kept[1]))
        if kept_summaries is not None and len(kept_id_list) == len(kept_names):
            known = {
                name: (identity, kept_summaries[_key(name)]) for name, identity in zip(kept_names, kept_id_list, strict=True)
            }
    summaries: dict[str, Summary] = {}
    new: list[str] = []
    for key, name in by_key.items():
        previous = known.get(name)
        if previous is not None and previous[0] == ids[key]:
            summaries[key] = previous[1]
        else:
            new.append(key)
    loaded: dict[str, CustomerFile] = {}
    parsed = _summarise(directory, {key: by_key[key] for key in new}, ids, contents, cache, loaded, pool, meanwhile)
    if parsed is None:
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    # A file git converts on checkout (line ends) is named by its bytes from now on.
    ids.update((key, identity) for key, (identity, _) in parsed.items())
    summaries.update((key, summary) for key, (_, summary) in parsed.items())
    summaries = {key: summaries[key] for key in by_key}
    if not _agree(summaries, settings.catalogs):
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    _keep(
        cache, slot, found, by_key, contents, joined_names,
        digests="\0".join(summary.digest for summary in summaries.values()),
        folded="\0".join(summary.name.casefold() for summary in summaries.values()),
        claims=tuple((key, summary.renamed_from) for key, summary in summaries.items() if summary.renamed_from),
        unset=tuple((key, summary.unset) for key, summary in summaries.items() if summary.unset),
        ids=ids, summaries=[summary.plain() for summary in summaries.values()],
    )
    return Fleet(directory, by_key, ids, summaries, cache, loaded)


def _renewed(
    directory: Path,
    found: CleanIndex | None,
    by_key: dict[str, str],
    keys: list[str],
    joined_names: str,
    ids: dict[str, str],
    contents: Mapping[str, bytes],
    kept_ids: list[str],
    kept: tuple[Digests, _Kept, list[Any]],
    cache: DocumentCache,
    slot: str,
    catalogs: Catalogs,
    pool: _Workers,
    meanwhile: Callable[[Mapping[str, str]], None] | None,
) -> Fleet | None:
    """The kept fleet of the files of BY_KEY (their names JOINED_NAMES), each of them one it
    kept (KEPT: their digests, the parts of `_Kept`, their summaries as plain values;
    KEPT_IDS their content ids then), with those whose content changed since read anew
    (across the cores when many, telling MEANWHILE their digests), and kept as that; None
    when one is not a valid customer file or the rules across customers break with them,
    for the whole reading to report."""
    digests, parts, plain = kept
    edited = {key: by_key[key] for key, before in zip(keys, kept_ids, strict=True) if ids[key] != before}
    loaded: dict[str, CustomerFile] = {}
    parsed = _summarise(directory, edited, ids, contents, cache, loaded, pool, meanwhile)
    if parsed is None:
        return None
    # A file git converts on checkout (line ends) is named by its bytes from now on.
    ids.update((key, identity) for key, (identity, _) in parsed.items())
    new = {key: summary for key, (_, summary) in parsed.items()}
    patched = _patch(parts, keys, by_key, digests, new, catalogs)
    if patched is None:
        return None
    summaries = list(plain)
    for position, key in enumerate(keys):
        if key in new:
            summaries[position] = new[key].plain()
    unset = parts.unset_in_order(keys)
    _keep(
        cache, slot, found, by_key, contents, joined_names,
        digests=patched.separated(), folded="\0".join(parts.folded), claims=parts.claims_in_order(keys),
        unset=tuple(unset.items()), ids=ids, summaries=summaries,
    )
    return Fleet(
        directory, by_key, ids, lambda: _summaries_of(keys, summaries), cache, loaded, digests=patched,
        folded=parts.folded, unset=unset,
    )


def _keep(
    cache: DocumentCache,
    slot: str,
    found: CleanIndex | None,
    by_key: Mapping[str, str],
    contents: Mapping[str, bytes],
    joined_names: str,
    *,
    digests: str,
    folded: str,
    claims: tuple[tuple[str, tuple[str, ...]], ...],
    unset: tuple[tuple[str, tuple[str, ...]], ...],
    ids: Mapping[str, str],
    summaries: list[Any],
) -> None:
    """Keep in CACHE the valid fleet of JOINED_NAMES (as `_is_kept` reads it), for the next run.

    Where every file is one git's index holds and the work tree changed a few at most, the
    index's listing and the names say it all: the next run that finds them the same knows
    the fleet from them, and reads again the files changed then (`dirty`: kept as read, not
    as the index holds them; CONTENTS are the files read) and those changed since."""
    knowable = (
        found is not None and not found.converts and len(found.changed) <= PATCH_AT_MOST
        and all(by_key[key] in found.changed for key in contents)
    )
    fingerprint = _fingerprint(found.listing, joined_names) if knowable and found is not None else ""
    dirty = "\0".join(by_key[key] for key in contents) if knowable else ""
    cache.put_meta(slot, (FLEET_REVISION, joined_names, digests, fingerprint, folded, claims, unset, dirty))
    # The ids apart: only a fleet that git's index does not name at once needs them.
    cache.put_meta(slot + ":ids", "\0".join(ids.values()))
    cache.put_meta(slot + ":summaries", summaries)


_ALL_KEYS = re.compile(f"(?:{KEY_PATTERN.strip('^$')}\n)*")  # every key valid, a line each


def _is_kept(value: object) -> TypeGuard[tuple[Any, ...]]:
    """Whether VALUE is a fleet as `load_fleet` keeps it: (revision, names, digests,
    fingerprint, folded names, claims, unset, dirty); the names, the digests and the names
    each customer gives (case folded) as strings joined by NUL, in key order; the claims a
    tuple of (key, the earlier keys it claims) of the customers that claim any, the unset a
    tuple of (key, the fields it leaves unset) of those that leave any; dirty the names of
    the files the work tree had changed since git's index then, joined by NUL (their
    summaries are of what was read, not of the index's blobs)."""
    return (
        isinstance(value, tuple) and len(value) == 8 and value[0] == FLEET_REVISION
        and all(isinstance(part, str) for part in (*value[1:5], value[7]))
        and all(isinstance(part, tuple) for part in value[5:7])
    )


def _fingerprint(listing: bytes, joined_names: str) -> str:
    return hashlib.sha256(listing + b"\1" + joined_names.encode("utf-8", "surrogateescape")).hexdigest()


def _from_index(
    directory: Path, index: Index, cache: DocumentCache, slot: str, kept: tuple[Any, ...], catalogs: Catalogs
) -> Fleet | None:
    """The kept fleet, when git's index lists the files it listed then and the folder holds
    those files and no other: known from one listing of the folder and one of the index.
    Files the work tree changed since the index (an edit not yet committed; a few), and
    those it had changed when the fleet was kept, are read and the kept fleet patched with
    them (`_patched`); the rest are not looked at.

    The kept names are the folder's: they were every file then, each one git's index held
    (so the index's listing, the same now, still holds them, and git finds none missing
    that it does not name as changed); a folder holding as many entries now holds no other.
    git's status, which names the files changed, is waited for last: a walk of the work
    tree, it runs while the rest is checked."""
    found = index()
    if found is None or found.converts or not kept[3] or len(found.changed) > PATCH_AT_MOST:
        return None  # (past PATCH_AT_MOST edits, the kept fleet is renewed: nothing here is of use)
    try:
        entries = os.listdir(directory)
    except OSError:
        return None
    joined_entries = "\0" + "\0".join(entries)
    entries_read = len(entries) - joined_entries.count("\0.")  # names that start with '.' are not read
    names = kept[1].split("\0") if kept[1] else []
    if len(names) != entries_read or kept[3] != _fingerprint(found.listing, kept[1]):
        return None
    keys = _keys(kept[1])
    by_key = dict(zip(keys, names, strict=True))
    digests = _kept_digests(kept, keys)
    changed = found.changed | frozenset(kept[7].split("\0") if kept[7] else ())
    if digests is None or len(changed) > PATCH_AT_MOST:
        return None
    if changed:
        return _patched(directory, found, changed, cache, slot, kept, keys, by_key, digests, catalogs)

    def ids() -> dict[str, str]:
        blobs = found.blobs
        return {key: blob_content_id(_suffix(name), blobs[name]) for key, name in by_key.items()}

    return Fleet(
        directory, by_key, ids, lambda: _kept_summaries(cache, slot, keys), cache, digests=digests, fingerprint=kept[3],
        folded=kept[4].split("\0") if kept[4] else [], unset=_kept_pairs(kept[6]),
    )


def _patched(
    directory: Path,
    found: CleanIndex,
    edited: frozenset[str],
    cache: DocumentCache,
    slot: str,
    kept: tuple[Any, ...],
    keys: list[str],
    by_key: dict[str, str],
    digests: Digests,
    catalogs: Catalogs,
) -> Fleet | None:
    """The kept fleet with the files of EDITED (those git names as changed, and those that
    were when the fleet was kept) read anew, when each is still a valid customer file and
    the rules across customers hold with them (as `_agree` checks them, on the names and
    claims the kept fleet keeps for the others); None otherwise, for the whole reading to
    report. Nothing is kept: the next run patches the same kept fleet again, until git's
    index changes."""
    changed = {_key(name): name for name in edited}
    if any(by_key.get(key) != name for key, name in changed.items()):
        return None  # not one of the kept files
    contents = {key: _read(directory / name) for key, name in changed.items()}
    ids = {key: content_id(_suffix(name), contents[key]) for key, name in changed.items()}
    loaded: dict[str, CustomerFile] = {}
    parsed = _summarise(directory, changed, ids, contents, cache, loaded)
    if parsed is None:
        return None
    new = {key: summary for key, (_, summary) in parsed.items()}
    parts = _Kept.of(kept, keys)
    patched = _patch(parts, keys, by_key, digests, new, catalogs) if parts is not None else None
    if parts is None or patched is None:
        return None
    digests = patched

    def all_ids() -> dict[str, str]:
        blobs = found.blobs  # without the changed files
        return {key: ids[key] if key in ids else blob_content_id(_suffix(name), blobs[name]) for key, name in by_key.items()}

    def summaries() -> dict[str, Summary] | None:
        base = _kept_summaries(cache, slot, keys)
        return None if base is None else {**base, **new}

    return Fleet(
        directory, by_key, all_ids, summaries, cache, loaded, digests=digests, fingerprint=kept[3], edited=ids,
        folded=parts.folded, unset=parts.unset_in_order(keys),
    )


class _Kept(NamedTuple):
    """What a kept fleet holds of its customers beside their digests, to patch: each one's
    name case folded (in key order), the earlier keys each claims and the fields each
    leaves unset (of those that do)."""

    folded: list[str]
    claims: dict[str, tuple[str, ...]]
    unset: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, kept: tuple[Any, ...], keys: list[str]) -> _Kept | None:
        """KEPT's (`_is_kept`), for its KEYS; None when it does not hold them so."""
        folded = kept[4].split("\0") if kept[4] else []
        claims, unset = _kept_pairs(kept[5]), _kept_pairs(kept[6])
        if claims is None or unset is None or len(folded) != len(keys):
            return None
        return cls(folded, claims, unset)

    def claims_in_order(self, keys: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((key, self.claims[key]) for key in keys if key in self.claims)

    def unset_in_order(self, keys: list[str]) -> dict[str, tuple[str, ...]]:
        return {key: self.unset[key] for key in keys if key in self.unset}


def _patch(
    parts: _Kept, keys: list[str], by_key: Mapping[str, str], digests: Digests, new: Mapping[str, Summary], catalogs: Catalogs
) -> Digests | None:
    """The DIGESTS of KEYS with those of the summaries NEW in place of theirs, PARTS patched
    with NEW likewise (in place); None when the rules across customers break with them, as
    `_agree` checks them (the others were valid together, under the same catalogs: the
    fleet's slot is theirs)."""
    at = {key: position for position, key in enumerate(keys) if key in new}
    for key, summary in new.items():
        parts.folded[at[key]] = summary.name.casefold()
        parts.claims.pop(key, None)
        if summary.renamed_from:
            parts.claims[key] = summary.renamed_from
        parts.unset.pop(key, None)
        if summary.unset:
            parts.unset[key] = summary.unset
    claimed = [old_key for old_keys in parts.claims.values() for old_key in old_keys]
    if (
        len(set(parts.folded)) != len(parts.folded) or len(set(claimed)) != len(claimed)
        or any(old_key in by_key for old_key in claimed)
        or any(violations_of(summary.catalog, catalogs) for summary in new.values())
    ):
        return None
    return digests.replaced({key: summary.digest for key, summary in new.items()})


def _kept_pairs(kept: Any) -> dict[str, tuple[str, ...]] | None:
    """A kept fleet's (key, names) pairs (the earlier keys each customer claims, the fields
    each leaves unset) by key; None when KEPT holds anything but strings in that shape."""
    try:
        pairs = {key: tuple(names) for key, names in kept}
    except (TypeError, ValueError):
        return None
    if not all(isinstance(key, str) and all(isinstance(name, str) for name in names) for key, names in pairs.items()):
        return None
    return pairs


def _kept_digests(kept: tuple[Any, ...], keys: list[str]) -> Digests | None:
    """The digest of each of KEYS, as a kept fleet holds them (in key order, joined by NUL);
    None when it holds another number of them, or one of another length."""
    return Digests.parse(keys, kept[2])


def _kept_summaries(cache: DocumentCache, slot: str, keys: list[str]) -> dict[str, Summary] | None:
    """The summaries kept with the fleet of KEYS; None when what is kept is not that."""
    return _summaries_of(keys, cache.get_meta(slot + ":summaries"))


def _summaries_of(keys: list[str], plain: Any) -> dict[str, Summary] | None:
    """The summaries of KEYS from PLAIN, as a fleet keeps them; None when it is not that."""
    try:
        if len(plain) != len(keys):
            return None
        return dict(zip(keys, map(Summary._make, plain), strict=True))
    except (TypeError, ValueError):
        return None


def canonical_name(identity: str, key: str) -> str:
    """Where the cache keeps the canonical document of the customer that the file of KEY
    defines with the content IDENTITY: by both (a file that gives no name is named by its
    key), and by what a summary means (`FLEET_REVISION`)."""
    return f"canonical:{FLEET_REVISION}:{identity}:{key}"


def _keep_canonical(cache: DocumentCache, identity: str, key: str, customer: Customer) -> Packed:
    """Keep in CACHE, for a later run, the canonical document (packed) of the customer of the
    file of KEY with content IDENTITY; the customer as a plan of its create holds it."""
    packed = Packed.of(customer)
    cache.put_derived(canonical_name(identity, key), packed.document)
    return packed


def _opened(entry: bytes, known: str) -> Packed | None:
    """The customer of digest KNOWN as the cache's ENTRY holds it (`_keep_canonical`): kept
    by a run before, or by anyone who can write the cache, so taken once its document gives
    KNOWN; None when it holds another, or anything else."""
    try:
        document = unpacked_document(entry)
        if digest_of(document) == known:
            return Packed(entry, known, glance_of(document))
    except (EOFError, ValueError, TypeError, KeyError, RecursionError):
        pass
    return None


def _key(name: str) -> str:
    """A customer file's key: its name without the suffix."""
    return name[:name.rfind(".")]


def _keys(joined_names: str) -> list[str]:
    """The keys of the file names JOINED_NAMES (joined by NUL), in their order: a pass over
    the text for each suffix, where a fleet has a hundred thousand names."""
    if not joined_names:
        return []
    joined = joined_names + "\0"
    for suffix in SUFFIXES:
        joined = joined.replace(suffix + "\0", "\0")
    return joined[:-1].split("\0")


def _suffix(name: str) -> str:
    return name[name.rfind("."):]


def _read(path: Path) -> bytes:
    try:
        return read_source(path)
    except InvalidInput:
        return b""  # read again, and reported, by the whole reading


def _slot(settings: Settings, directory: Path, root: Path) -> str:
    """Where the fleet of DIRECTORY is kept: by everything besides content that decides
    whether a fleet is valid (the catalogs)."""
    said = json.dumps([FLEET_REVISION, str(directory.relative_to(root)), settings.catalogs.model_dump()], sort_keys=True)
    return "fleet:" + hashlib.sha256(said.encode()).hexdigest()[:32]


def _summarise(
    directory: Path,
    names: dict[str, str],
    ids: Mapping[str, str],
    contents: Mapping[str, bytes],
    cache: DocumentCache,
    loaded: dict[str, CustomerFile],
    pool: _Workers | None = None,
    meanwhile: Callable[[Mapping[str, str]], None] | None = None,
) -> dict[str, tuple[str, Summary]] | None:
    """(content id, summary) of each file of NAMES (key -> file name, content id in IDS);
    None when one is not a valid customer. Documents the cache holds are validated here;
    the rest are parsed too, by the POOL's worker processes when there are many (else
    here), and MEANWHILE is given the digests of each of their chunks as it comes back,
    while they parse the next."""
    if not names:
        return {}
    stored = cache.stored(ids[key] for key in names)
    found: dict[str, tuple[str, Summary]] = {}
    to_parse: list[tuple[str, str]] = []
    with gc_paused():
        for key, name in names.items():
            data = stored.get(ids[key])
            if data is None:
                to_parse.append((key, name))
                continue
            # Kept loaded only with its bytes, which place its errors: a file git named
            # without reading is read now (a read costs a tenth of a validation).
            source = contents.get(key) or _read(directory / name)
            document = LoadedDocument(directory / name, data, source)
            result = customer_file(key, document)
            if isinstance(result, list):
                return None
            if content_id(_suffix(name), source) == ids[key]:
                loaded[key] = result
            found[key] = (ids[key], summarise(key, result.customer, data))
    if pool is not None and len(to_parse) >= PARALLEL_FROM and pool.processes > 1:
        # Many chunks: each one back is one MEANWHILE has while the workers parse the others.
        count = pool.processes * CHUNKS_PER_WORKER
        chunks = [to_parse[start::count] for start in range(count)]
        # The workers write the documents they parse to the cache themselves: ~3 KB a file
        # (300 MB of a cold 100,000) neither crosses a pipe nor waits for this process to
        # write it. This process lets go of its connection meanwhile; the cache opens again
        # when next asked.
        cache.close()
        shared = str(cache.file) if cache.usable else None
        work = [(str(directory), chunk, shared, WRITE_EVERY, pool.documents is not None) for chunk in chunks]
        for results in pool.start().map(_parse_chunk, work):
            if results is None:
                return None
            for key, identity, plain, kept in results:
                summary = found[key] = (identity, Summary._make(plain))
                if kept is not None:
                    pool.keep(key, Packed(kept[0], summary[1].digest, kept[1]))
            if meanwhile is not None:
                meanwhile({key: found[key][1].digest for key, _, _, _ in results})
        return found
    for key, name in to_parse:
        path = directory / name
        try:
            document = cache.load(path)
        except InvalidInput:
            return None
        result = customer_file(key, document)
        if isinstance(result, list):
            return None
        loaded[key] = result
        identity = content_id(path.suffix, document.source)
        found[key] = (identity, summarise(key, result.customer, document.data))
        packed = _keep_canonical(cache, identity, key, result.customer)
        if pool is not None:
            pool.keep(key, packed)
    return found


class _Workers:
    """The worker processes that parse files (`_parse_chunk`), started when first asked for,
    or sooner (`start`) by a caller that knows early that many files will be parsed: each
    is a new interpreter that loads this module and builds the customer model's validator
    (~0.4 s, the two at once), which then happens while this process goes on reading the
    folder. Shut down, whether used or not, when the fleet is loaded.

    New interpreters, not forks of this process: a fork holds in its resident set every
    page of this one (the kept fleet, the live rows read ahead: ~400 MiB of the sum over the
    processes of an apply of 10,000 updates of 100,000), and would be made while other
    threads of this one work (the store's scan, git's status)."""

    def __init__(self, processes: int, *, documents: Callable[[str], bool] | None = None) -> None:
        self.processes = processes
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        # Each customer parsed of a key DOCUMENTS says yes to, as a plan of its create holds it.
        self.documents = documents
        self.made: dict[str, Packed] = {}

    def keep(self, key: str, packed: Packed) -> None:
        if self.documents is not None and self.documents(key):
            self.made[key] = packed

    def start(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # Loaded here, on first use: a warm plan starts no worker (multiprocessing alone
            # is ~6 ms of a start).
            import multiprocessing

            spawn = multiprocessing.get_context("spawn")
            self._executor = concurrent.futures.ProcessPoolExecutor(max_workers=self.processes, mp_context=spawn)
            for _ in range(self.processes):  # each worker started now, not when first sent a chunk
                self._executor.submit(_ready)
        return self._executor

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None


def _ready() -> None:
    """In a worker process, before its first chunk: the customer model's validator built."""
    Customer.model_rebuild()


# Documents a worker writes to the cache at once: a short transaction, so that another
# worker writing waits for it (the cache's busy timeout) a few milliseconds, not seconds.
WRITE_EVERY = 500


def _parse_chunk(
    work: tuple[str, list[tuple[str, str]], str | None, int, bool],
) -> list[_Parsed] | None:
    """In a worker process: `_parse_one` of each file of the chunk, its document written to
    the cache at the path given (if any) as it goes, so many at a time (`WRITE_EVERY`, as
    the process that made the work says: a worker is a new interpreter); None when one is
    not a valid customer."""
    folder, chunk, cache_file, write_every, documents = work
    directory = Path(folder)
    cache = DocumentCache(Path(cache_file)) if cache_file is not None else None
    results = []
    try:
        with gc_paused():
            for index, (key, name) in enumerate(chunk, 1):
                result = _parse_one(directory, key, name, cache, documents=documents)
                if result is None:
                    return None
                results.append(result)
                if cache is not None and index % write_every == 0:
                    cache.flush()
        if cache is not None:
            cache.flush()
    finally:
        if cache is not None:
            cache.close()
    return results


# What a worker hands back of a file (`_parse_one`).
_Parsed = tuple[str, str, tuple[Any, ...], tuple[bytes, Glance] | None]


def _parse_one(directory: Path, key: str, name: str, cache: DocumentCache | None, *, documents: bool) -> _Parsed | None:
    """`_parse_chunk` of one file: its key, content id and summary, and when DOCUMENTS its
    customer's canonical document packed and its glance (what a plan of its create holds:
    the process that asked has it without reading it back from the cache and checking it,
    ~1.3 s of 100,000 creates); its document kept in CACHE to write, and its customer's
    for a later run. None when it is not a valid customer."""
    path = directory / name
    try:
        content = read_source(path)
        document = load_document(path, content)
    except InvalidInput:
        return None
    result = customer_file(key, document)
    if isinstance(result, list):
        return None
    identity = content_id(path.suffix, content)
    summary = summarise(key, result.customer, document.data)
    packed = None
    if cache is not None:
        cache.remember_encoded(identity, encoded(document.data))
        packed = _keep_canonical(cache, identity, key, result.customer)
    if documents:
        packed = packed or Packed.of(result.customer)
        return key, identity, summary.plain(), (packed.document, packed.glance)
    return key, identity, summary.plain(), None


def _agree(summaries: Mapping[str, Summary], catalogs: Catalogs) -> bool:
    """Whether the rules across customer files hold (`customers._cross_check` and
    `check_catalogs` would find nothing): unique names, ignoring case; renames that name
    no customer file and are claimed once; values from their catalogs."""
    names = {summary.name.casefold() for summary in summaries.values()}
    if len(names) != len(summaries):
        return False
    claimed: set[str] = set()
    for summary in summaries.values():
        for old_key in summary.renamed_from:
            if old_key in summaries or old_key in claimed:
                return False
            claimed.add(old_key)
    checked: dict[CatalogValues, bool] = {}
    for summary in summaries.values():
        verdict = checked.get(summary.catalog)
        if verdict is None:
            verdict = checked[summary.catalog] = not violations_of(summary.catalog, catalogs)
        if not verdict:
            return False
    return True


def _read_whole(
    root: Path, directory: Path, names: list[str], problems: list[Problem], catalogs: Catalogs, cache: DocumentCache | None
) -> Fleet:
    """The folder read file by file, as `load_customers` reads it: every problem, at its line."""
    load = cache.load if cache is not None else load_document
    try:
        loaded = load_customers([directory / name for name in names], catalogs, load=load)
    except InvalidInput as exc:
        raise InvalidInput([*problems, *exc.problems]) from None
    if problems:
        raise InvalidInput(problems)
    by_key = {customer_file.key: customer_file.document.path.name for customer_file in loaded.values()}
    ids = {key: content_id(file.document.path.suffix, file.document.source) for key, file in loaded.items()}
    summaries = {key: summarise(key, file.customer, file.document.data) for key, file in loaded.items()}
    return Fleet(directory, by_key, ids, summaries, cache, loaded)


