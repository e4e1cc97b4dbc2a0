"""customers.d/ as one fleet, known by content: an unchanged file costs a lookup, not a parse.

`load_customers` reads, parses and validates every file. A fleet of 100,000 customers
planned every few minutes is nearly all unchanged files, so `load_fleet` asks first what
it already knows:

- git names each file's content without reading it: the blob id of every file its index
  holds, for the files it finds unchanged since (`history.git.clean_blobs`); any other file
  is read and named by the blob id of its bytes (`documents.cache.content_id`);
- the document cache keeps, from the last run, the fleet it found valid: each file's name,
  content id and `Summary` (the customer's canonical digest, and what the rules across
  customers need: its name, its earlier keys, its catalog values). Where names and ids are
  the same, the fleet is that one, and nothing is read, parsed or validated;
- a file whose content is new is parsed and validated (across the cores, when there are
  many), and the rules across customers run on the summaries.

A customer's `CustomerFile` is loaded when something asks for it (the customers a plan
must diff, those overlays touch), from the cached document when there is one.

Only a valid fleet is kept and answered this way. When anything is wrong, `load_customers`
reads the folder as it always has, so every problem is the one it reports, at its line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import Catalogs, Settings
from reconciler.desired.customers import (
    UNDOCUMENTED_ZERO,
    CatalogValues,
    CustomerFile,
    catalog_values,
    load_customers,
    violations_of,
)
from reconciler.documents.cache import DocumentCache, blob_content_id, content_id
from reconciler.documents.loader import LoadedDocument, document_names, load_document, read_source
from reconciler.documents.validation import validate
from reconciler.errors import InvalidInput, Problem
from reconciler.gc_pause import gc_paused
from reconciler.history.git import clean_blobs
from reconciler.model.customer import Customer
from reconciler.model.fields import digest
from reconciler.model.types import KEY_RE

# Bump when what a summary holds, or what makes a file valid, changes meaning.
FLEET_REVISION = 1
# Below this many files to parse, worker processes cost more than they save.
PARALLEL_FROM = 2000


@dataclass(frozen=True)
class Summary:
    """What the fleet keeps of one valid customer file."""

    digest: str  # `model.fields.digest` of the customer
    name: str  # its name (the key when the file gives none)
    renamed_from: tuple[str, ...]
    catalog: CatalogValues
    unset: tuple[str, ...]  # of UNDOCUMENTED_ZERO, the fields the file leaves unset

    def plain(self) -> tuple[Any, ...]:
        return (self.digest, self.name, self.renamed_from, self.catalog, self.unset)


def summarise(key: str, customer: Customer, data: Mapping[str, Any]) -> Summary:
    return Summary(
        digest(customer), customer.name or key, tuple(customer.renamed_from), catalog_values(customer),
        tuple(name for name in UNDOCUMENTED_ZERO if name not in data),
    )


class Fleet(Mapping[str, CustomerFile]):
    """The valid customer files of a folder by key, in file name order; each one's
    `CustomerFile` loaded when first asked for."""

    def __init__(
        self,
        directory: Path,
        names: Mapping[str, str],
        ids: Mapping[str, str],
        summaries: Mapping[str, Summary] | list[tuple[Any, ...]],
        cache: DocumentCache | None,
        loaded: Mapping[str, CustomerFile] | None = None,
    ) -> None:
        self.directory = directory
        self.names = names  # key -> file name
        self.ids = ids  # key -> content id
        self._cache = cache
        self._loaded: dict[str, CustomerFile] = dict(loaded or {})
        if isinstance(summaries, list):  # as kept: built when first needed
            self._plain: list[tuple[Any, ...]] | None = summaries
            self._summaries: dict[str, Summary] | None = None
            self.digests: dict[str, str] = dict(zip(names, (plain[0] for plain in summaries), strict=True))
        else:
            self._plain, self._summaries = None, dict(summaries)
            self.digests = {key: summary.digest for key, summary in summaries.items()}

    @property
    def summaries(self) -> Mapping[str, Summary]:
        if self._summaries is None:
            assert self._plain is not None
            self._summaries = dict(zip(self.names, map(_summary, self._plain), strict=True))
        return self._summaries

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

    def load(self, keys: list[str]) -> dict[str, CustomerFile]:
        """The `CustomerFile`s of KEYS, read together (their documents from the cache)."""
        wanted = [key for key in keys if key not in self._loaded]
        stored = self._cache.stored(self.ids[key] for key in wanted) if self._cache is not None else {}
        with gc_paused():
            for key in wanted:
                path = self.directory / self.names[key]
                content = read_source(path)
                identity = content_id(path.suffix, content)
                data = stored.get(identity)
                document = LoadedDocument(path, data, content) if data is not None else load_document(path, content)
                customer = validate(Customer, document)
                if isinstance(customer, list):  # the file changed under us since it was found valid
                    raise InvalidInput(customer)
                if customer.name is None:
                    customer = customer.model_copy(update={"name": key})
                self._loaded[key] = CustomerFile(key, customer, document)
        return {key: self._loaded[key] for key in keys}


def load_fleet(
    root: Path, settings: Settings, directory: Path, cache: DocumentCache | None, workers: int | None = None
) -> Fleet:
    """The customer files of DIRECTORY (an existing folder inside ROOT), valid and checked
    together; InvalidInput as `load_customers` raises it when they are not."""
    names, problems = document_names(directory, root)
    if problems or cache is None:
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    by_key = {_key(name): name for name in names}
    if len(by_key) != len(names) or not all(KEY_RE.match(key) for key in by_key):
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    blobs = clean_blobs(root, os.path.relpath(directory, root), (".yaml", ".yml", ".toml"))
    contents: dict[str, bytes] = {}
    ids: dict[str, str] = {}
    for key, name in by_key.items():
        blob = blobs.get(name) if blobs is not None else None
        suffix = name[name.rfind("."):]
        if blob is not None:
            ids[key] = blob_content_id(suffix, blob)
        else:
            content = contents[key] = _read(directory / name)
            ids[key] = content_id(suffix, content)
    slot = _slot(settings, directory, root)
    kept = _kept(cache.get_meta(slot))
    if kept is not None and kept[0] == names and kept[1] == list(ids.values()):
        return Fleet(directory, by_key, ids, kept[2], cache)
    known = dict(zip(kept[0], zip(kept[1], kept[2], strict=True), strict=True)) if kept is not None else {}
    summaries: dict[str, Summary] = {}
    new: list[str] = []
    for key, name in by_key.items():
        previous = known.get(name)
        if previous is not None and previous[0] == ids[key]:
            summaries[key] = _summary(previous[1])
        else:
            new.append(key)
    loaded: dict[str, CustomerFile] = {}
    parsed = _summarise(directory, {key: by_key[key] for key in new}, ids, contents, cache, loaded, workers)
    if parsed is None:
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    # A file git converts on checkout (line ends) is named by its bytes from now on.
    ids.update((key, identity) for key, (identity, _) in parsed.items())
    summaries.update((key, summary) for key, (_, summary) in parsed.items())
    summaries = {key: summaries[key] for key in by_key}
    if not _agree(summaries, settings.catalogs):
        return _read_whole(root, directory, names, problems, settings.catalogs, cache)
    cache.put_meta(slot, (FLEET_REVISION, names, list(ids.values()), [summary.plain() for summary in summaries.values()]))
    return Fleet(directory, by_key, ids, summaries, cache, loaded)


def _key(name: str) -> str:
    return name.rsplit(".", 1)[0]


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


def _kept(value: Any) -> tuple[list[str], list[str], list[tuple[Any, ...]]] | None:
    """A kept fleet as (file names, content ids, summaries as plain tuples); None for
    anything else."""
    try:
        revision, names, ids, plain = value
        if revision != FLEET_REVISION or not (len(names) == len(ids) == len(plain)):
            return None
        if not all(isinstance(item, tuple) and len(item) == 5 and isinstance(item[0], str) for item in plain):
            return None
        return names, ids, plain
    except (TypeError, ValueError):
        return None


def _summary(plain: tuple[Any, ...]) -> Summary:
    digest_, name, renamed_from, catalog, unset = plain
    return Summary(digest_, name, tuple(renamed_from), (catalog[0], catalog[1], catalog[2], catalog[3], tuple(catalog[4])), tuple(unset))


def _summarise(
    directory: Path,
    names: dict[str, str],
    ids: Mapping[str, str],
    contents: Mapping[str, bytes],
    cache: DocumentCache,
    loaded: dict[str, CustomerFile],
    workers: int | None,
) -> dict[str, tuple[str, Summary]] | None:
    """(content id, summary) of each file of NAMES (key -> file name, content id in IDS);
    None when one is not a valid customer. Documents the cache holds are validated here;
    the rest are parsed too, in worker processes when there are many."""
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
            document = LoadedDocument(directory / name, data, contents.get(key, b""))
            result = _customer_file(key, document)
            if result is None:
                return None
            if document.source:  # kept only with its bytes, which place its errors
                loaded[key] = result
            found[key] = (ids[key], summarise(key, result.customer, data))
    processes = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if len(to_parse) >= PARALLEL_FROM and processes > 1:
        chunks = [to_parse[start::processes * 4] for start in range(processes * 4)]
        with ProcessPoolExecutor(max_workers=processes) as pool:
            for results in pool.map(_parse_chunk, [(str(directory), chunk) for chunk in chunks]):
                if results is None:
                    return None
                for key, identity, blob, plain in results:
                    cache.remember_encoded(identity, blob)
                    found[key] = (identity, Summary(*plain))
                cache.flush()
        return found
    for key, name in to_parse:
        path = directory / name
        try:
            document = cache.load(path)
        except InvalidInput:
            return None
        result = _customer_file(key, document)
        if result is None:
            return None
        loaded[key] = result
        found[key] = (content_id(path.suffix, document.source), summarise(key, result.customer, document.data))
    return found


def _customer_file(key: str, document: LoadedDocument) -> CustomerFile | None:
    customer = validate(Customer, document)
    if isinstance(customer, list):
        return None
    if customer.name is None:
        customer = customer.model_copy(update={"name": key})
    return CustomerFile(key, customer, document)


def _parse_chunk(work: tuple[str, list[tuple[str, str]]]) -> list[tuple[str, str, bytes, tuple[Any, ...]]] | None:
    """In a worker process: (key, content id, the document as the cache keeps it, the
    summary) of each file of the chunk; None when one is not a valid customer."""
    from reconciler.documents.cache import encoded

    folder, chunk = work
    directory = Path(folder)
    results = []
    with gc_paused():
        for key, name in chunk:
            path = directory / name
            try:
                content = read_source(path)
                document = load_document(path, content)
            except InvalidInput:
                return None
            result = _customer_file(key, document)
            if result is None:
                return None
            summary = summarise(key, result.customer, document.data)
            results.append((key, content_id(path.suffix, content), encoded(document.data), summary.plain()))
    return results


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


