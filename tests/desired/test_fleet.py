"""customers.d/ as a fleet known by content: what is read, what is not, and that every way of
knowing a customer gives the same customer."""

from __future__ import annotations

import datetime as dt
import gc
import marshal
import multiprocessing
import shutil
import sqlite3
import weakref
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from git_repos import GitRepo

from reconciler.config import Settings
from reconciler.desired import customers as customers_module
from reconciler.desired import fleet as fleet_module
from reconciler.desired.customers import CustomerFile, load_customers, unset_fields
from reconciler.desired.fleet import Fleet, canonical_name, load_fleet
from reconciler.desired.state import Slices, desired_at
from reconciler.documents.cache import DocumentCache, content_id
from reconciler.documents.loader import load_document
from reconciler.errors import InvalidInput
from reconciler.model.fields import Packed, canonical_document, digest, glance_of, unpacked_document
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.providers.base import ProviderInfo


def _repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    shutil.copytree(EXAMPLES, root / "customers.d")
    repo.write(".gitignore", "customers.d/ignored-*\n")
    repo.commit("Examples")
    return repo


def _kept(tmp_path: Path, settings: Settings | None = None) -> tuple[Path, Path, Fleet]:
    """The examples in a repository, loaded twice through one cache, so that the second run
    knows the fleet by git's listing alone: the root, the cache file, that run's fleet."""
    root, cache_file = tmp_path / "repo", tmp_path / "cache/documents.sqlite"
    _repo(root)
    for _ in range(2):
        cache = DocumentCache(cache_file)
        fleet = load_fleet(root, settings or Settings(), root / "customers.d", cache)
        cache.save()
    return root, cache_file, fleet


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the customer files read from here on."""
    read: list[str] = []
    original = fleet_module.read_source

    def counting(path: Path, *args: object) -> bytes:
        read.append(path.name)
        return original(path)

    monkeypatch.setattr(fleet_module, "read_source", counting)
    return read


def test_an_unchanged_fleet_is_known_without_reading_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _repo(root)
    cache = DocumentCache(tmp_path / "cache/documents.sqlite")
    first = load_fleet(root, Settings(), root / "customers.d", cache)
    cache.save()
    reads = _reads(monkeypatch)
    again = load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "cache/documents.sqlite"))
    assert reads == []
    assert again.digests == first.digests
    expected = load_customers(sorted((root / "customers.d").iterdir()))
    assert again.digests == {key: digest(file.customer) for key, file in expected.items()}
    assert again["acme-telecom"].customer == expected["acme-telecom"].customer
    assert list(again.folded_names()) == list(first.folded_names())
    assert list(again.unset_fields()) == list(first.unset_fields())


def test_edited_new_and_ignored_files_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _repo(root)
    cache_file = tmp_path / "cache/documents.sqlite"
    cache = DocumentCache(cache_file)
    load_fleet(root, Settings(), root / "customers.d", cache)
    cache.save()
    acme = root / "customers.d/acme-telecom.yaml"
    acme.write_text(acme.read_text().replace("channels: 300", "channels: 301"))
    shutil.copy(root / "customers.d/kiwi-link.toml", root / "customers.d/kiwi-two.toml")
    shutil.copy(root / "customers.d/fjord-connect.yaml", root / "customers.d/ignored-fjord.yaml")
    for name in ("kiwi-two.toml", "ignored-fjord.yaml"):
        path = root / "customers.d" / name
        path.write_text(path.read_text().replace("name", "# name", 1))
    reads = _reads(monkeypatch)
    fleet = load_fleet(root, Settings(), root / "customers.d", DocumentCache(cache_file))
    assert sorted(set(reads)) == ["acme-telecom.yaml", "ignored-fjord.yaml", "kiwi-two.toml"]
    assert fleet["acme-telecom"].customer.channels == 301
    assert {"kiwi-two", "ignored-fjord"} <= set(fleet)


def test_worker_processes_find_the_same_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    cache = DocumentCache(tmp_path / "parallel/documents.sqlite")
    parallel = load_fleet(root, Settings(), root / "customers.d", cache, workers=2)
    cache.save()
    alone = load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "alone/documents.sqlite"), workers=1)
    assert parallel.digests == alone.digests
    assert dict(parallel.summaries) == dict(alone.summaries)
    assert parallel["globex-carrier"].customer == alone["globex-carrier"].customer


def test_while_workers_parse_the_caller_is_given_the_digests_of_each_chunk_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MEANWHILE is given the digests of each chunk of files the workers parsed, as it comes
    back: every file parsed, once, with its customer's digest; nothing where no worker runs."""
    root, cache_file, _ = _kept(tmp_path)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(fleet_module, "PATCH_AT_MOST", 0)  # the edits read past the patching
    shutil.copy(root / "customers.d/fjord-connect.yaml", root / "customers.d/new-fjord.yaml")
    for name, old, new in [
        ("acme-telecom.yaml", "channels: 300", "channels: 301"),
        ("kiwi-link.toml", "channels = ", "channels = 1"),
        ("new-fjord.yaml", "name: ", "name: New "),
    ]:
        path = root / "customers.d" / name
        path.write_text(path.read_text().replace(old, new, 1))
    told: list[dict[str, str]] = []
    fleet = load_fleet(
        root, Settings(), root / "customers.d", DocumentCache(cache_file), workers=2, meanwhile=lambda chunk: told.append(dict(chunk))
    )
    given = [key for chunk in told for key in chunk]
    assert sorted(given) == ["acme-telecom", "kiwi-link", "new-fjord"]
    assert {key: digest for chunk in told for key, digest in chunk.items()} == {key: fleet.digests[key] for key in given}
    alone: list[dict[str, str]] = []
    load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "other.sqlite"), workers=1, meanwhile=alone.append)
    assert alone == []


def _starts(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each start of the worker processes from here on: whether the files to parse had
    been handed to them yet (`_summarise` entered)."""
    starts: list[bool] = []
    summarising: list[bool] = []
    start, summarise = fleet_module._Workers.start, fleet_module._summarise

    def starting(self: fleet_module._Workers) -> object:
        if self._executor is None:
            starts.append(bool(summarising))
        return start(self)

    def summarised(*args: Any, **kwargs: Any) -> Any:
        summarising.append(True)
        return summarise(*args, **kwargs)

    monkeypatch.setattr(fleet_module._Workers, "start", starting)
    monkeypatch.setattr(fleet_module, "_summarise", summarised)
    return starts


def test_a_cold_cache_starts_the_workers_before_the_files_are_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no document in the cache, every file will be parsed: the workers are started as
    soon as the folder is listed, and load while this process learns the files' ids."""
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 2)
    starts = _starts(monkeypatch)
    fleet = load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "cold/documents.sqlite"), workers=2)
    assert starts == [False]
    assert set(fleet) == {path.stem for path in (root / "customers.d").iterdir()}


@pytest.mark.parametrize(("edits", "early"), [(3, True), (2, False)])
def test_many_edits_since_git_s_index_start_the_workers_before_the_files_are_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits: int, early: bool
) -> None:
    """A fleet kept with git's index, and PARALLEL_FROM + PATCH_AT_MOST files or more edited
    since: the workers are started as soon as git's status says so. With fewer, when the
    files to parse are handed to them (if they are PARALLEL_FROM or more)."""
    root, cache_file, _ = _kept(tmp_path)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 2)
    monkeypatch.setattr(fleet_module, "PATCH_AT_MOST", 1)
    starts = _starts(monkeypatch)
    for path in sorted((root / "customers.d").glob("*.yaml"))[:edits]:
        path.write_text(path.read_text().replace("channels: ", "channels: 1", 1))
    fleet = load_fleet(root, Settings(), root / "customers.d", DocumentCache(cache_file), workers=2)
    assert starts == [not early]
    alone = load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "alone.sqlite"), workers=1)
    assert fleet.digests == alone.digests


def test_workers_started_for_nothing_are_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started early for a cold cache, then not used (a file that is not a valid
    customer sends the folder to the full reading): stopped when the fleet is given up."""
    root = tmp_path / "repo"
    _repo(root)
    (root / "customers.d/broken.yaml").write_text("name: [\n")
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 2)
    starts = _starts(monkeypatch)
    with pytest.raises(InvalidInput, match=r"broken\.yaml"):
        load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "cold/documents.sqlite"), workers=2)
    assert starts == [False]
    assert multiprocessing.active_children() == []


def test_worker_processes_write_what_they_parse_to_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents the workers parsed are in the cache once the fleet is loaded (each
    worker writing a few at a time), and the cache this process holds is still usable: what
    it keeps is written, and the next run reads no file."""
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(fleet_module, "WRITE_EVERY", 2)
    file = tmp_path / "cache/documents.sqlite"
    cache = DocumentCache(file)
    fleet = load_fleet(root, Settings(), root / "customers.d", cache, workers=2)
    paths = sorted((root / "customers.d").iterdir())
    ids = {path.name: content_id(path.suffix, path.read_bytes()) for path in paths}
    written = DocumentCache(file).stored(ids.values())
    assert set(written) == set(ids.values())
    assert all(written[ids[path.name]] == load_document(path).data for path in paths)
    cache.save()
    reads = _reads(monkeypatch)
    again = load_fleet(root, Settings(), root / "customers.d", DocumentCache(file), workers=2)
    assert reads == []
    assert again.digests == fleet.digests


def test_worker_processes_leave_a_cache_that_is_not_the_users_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # writable by others: the cache is not used
    warnings: list[str] = []
    cache = DocumentCache(folder / "documents.sqlite", warnings.append)
    fleet = load_fleet(root, Settings(), root / "customers.d", cache, workers=2)
    assert warnings and not cache.usable
    assert not (folder / "documents.sqlite").exists()
    assert set(fleet) == {path.stem for path in (root / "customers.d").iterdir()}


def test_a_fleet_with_a_problem_is_reported_as_the_files_say(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _repo(root)
    acme = root / "customers.d/acme-telecom.yaml"
    acme.write_text(acme.read_text().replace("channels: 300", "channels: -1"))
    with pytest.raises(InvalidInput) as fast:
        load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "cache/documents.sqlite"))
    with pytest.raises(InvalidInput) as full:
        load_customers(sorted((root / "customers.d").iterdir()))
    assert str(fast.value) == str(full.value)


def test_line_ends_git_converts_name_a_file_by_its_bytes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    repo = _repo(root)
    repo.git("config", "core.autocrlf", "true")
    for path in (root / "customers.d").iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    cache = DocumentCache(tmp_path / "cache/documents.sqlite")
    first = load_fleet(root, Settings(), root / "customers.d", cache)
    cache.save()
    again = load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "cache/documents.sqlite"))
    expected = load_customers(sorted((root / "customers.d").iterdir()))
    assert first.digests == again.digests == {key: digest(file.customer) for key, file in expected.items()}


def test_a_customer_summarised_from_the_cache_is_validated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Content the cache holds but the kept fleet does not (an edit undone) is validated to be
    summarised, and that validation is the customer a plan then asks for."""
    root = tmp_path / "repo"
    repo = _repo(root)
    cache_file = tmp_path / "cache/documents.sqlite"
    acme = root / "customers.d/acme-telecom.yaml"
    original = acme.read_text()
    for text in (original, original.replace("channels: 300", "channels: 301")):
        acme.write_text(text)
        cache = DocumentCache(cache_file)
        load_fleet(root, Settings(), root / "customers.d", cache)
        cache.save()
    repo.git("checkout", "--", "customers.d/acme-telecom.yaml")
    validated: list[str] = []
    original_validate = customers_module.validate

    def counting(model: type, document: object) -> object:
        validated.append(getattr(document, "path", Path()).name)
        return original_validate(model, document)  # type: ignore[arg-type]

    monkeypatch.setattr(customers_module, "validate", counting)
    fleet = load_fleet(root, Settings(), root / "customers.d", DocumentCache(cache_file))
    assert fleet["acme-telecom"].customer.channels == 300
    assert validated == ["acme-telecom.yaml"]


@pytest.mark.parametrize("change", ["a new file", "a file removed", "a file renamed"])
def test_a_clean_fleet_with_one_file_more_or_less_is_not_the_kept_one(tmp_path: Path, change: str) -> None:
    """Nothing edited, so git's index and its listing say what they said: the folder's own
    listing tells a new, removed or renamed file."""
    root, cache_file, _ = _kept(tmp_path)
    folder = root / "customers.d"
    expected = {path.stem for path in folder.iterdir()}
    if change == "a new file":
        (folder / "kiwi-two.toml").write_text((folder / "kiwi-link.toml").read_text().replace('name = "', 'name = "Two ', 1))
        expected.add("kiwi-two")
    elif change == "a file removed":
        (folder / "kiwi-link.toml").unlink()
        expected.discard("kiwi-link")
    else:
        (folder / "kiwi-link.toml").rename(folder / "kiwi-new.toml")
        expected = (expected - {"kiwi-link"}) | {"kiwi-new"}
    fleet = load_fleet(root, Settings(), folder, DocumentCache(cache_file))
    assert set(fleet) == expected
    assert fleet.digests == {key: digest(file.customer) for key, file in load_customers(sorted(folder.iterdir())).items()}


# Edits not yet committed, each a list of (file, old text, new text): the kept fleet is
# patched with the edited files when the rules across customers still hold, read whole when not.
EDITS = {
    "a value changed": [("acme-telecom.yaml", "channels: 300", "channels: 301")],
    "a name another customer has, in other case": [("acme-telecom.yaml", "name: Acme Telecom", "name: KIWI LINK LTD")],
    "a name given up and taken": [
        ("kiwi-link.toml", 'name = "Kiwi Link Ltd"', 'name = "Kiwi"'),
        ("acme-telecom.yaml", "name: Acme Telecom", "name: Kiwi Link Ltd"),
    ],
    "an earlier key that is a customer's key": [
        ("acme-telecom.yaml", "name: Acme Telecom", "name: Acme Telecom\nrenamed_from: [kiwi-link]"),
    ],
    "an earlier key another customer claims": [
        ("acme-telecom.yaml", "name: Acme Telecom", "name: Acme Telecom\nrenamed_from: [sunbeam-telecom]"),
    ],
    "an earlier key given up and claimed": [
        ("sunrise-mobile.yaml", "renamed_from: [sunbeam-telecom]\n", ""),
        ("acme-telecom.yaml", "name: Acme Telecom", "name: Acme Telecom\nrenamed_from: [sunbeam-telecom]"),
    ],
    "a reseller outside the catalog": [("acme-telecom.yaml", "reseller: direct", "reseller: elsewhere")],
    "fields left unset": [
        ("acme-telecom.yaml", "flow_speed: 30\n", ""),
        ("kiwi-link.toml", "flow_speed = 1\n", ""),
    ],
    "a value the model refuses": [("kiwi-link.toml", "channels = ", "channels = -")],
    "a syntax error": [("kiwi-link.toml", 'name = "Kiwi Link Ltd"', 'name = "Kiwi Link Ltd')],
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_kept_fleet_patched_with_an_edit_is_the_fleet_the_files_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    settings = Settings.model_validate({"catalogs": {"resellers": ["direct", "nordic-partners"]}})
    root, cache_file, _ = _kept(tmp_path, settings)
    folder = root / "customers.d"
    for name, old, new in EDITS[edit]:
        text = (folder / name).read_text()
        assert old in text
        (folder / name).write_text(text.replace(old, new, 1))
    reads = _reads(monkeypatch)
    try:
        expected = load_customers(sorted(folder.iterdir()), settings.catalogs)
    except InvalidInput as full:
        with pytest.raises(InvalidInput) as fast:
            load_fleet(root, settings, folder, DocumentCache(cache_file))
        assert str(fast.value) == str(full)
        return
    fleet = load_fleet(root, settings, folder, DocumentCache(cache_file))
    assert sorted(reads) == sorted(name for name, _, _ in EDITS[edit])  # the edited files, and no other
    _assert_made_by(fleet, expected)


def _assert_made_by(fleet: Fleet, expected: dict[str, CustomerFile]) -> None:
    """FLEET is the one the files of EXPECTED make, in every way it is asked."""
    assert fleet.digests == {key: digest(file.customer) for key, file in expected.items()}
    assert fleet.summaries == {
        key: fleet_module.summarise(key, file.customer, file.document.data) for key, file in expected.items()
    }
    assert fleet.ids == {
        key: fleet_module.content_id(file.document.path.suffix, file.document.source) for key, file in expected.items()
    }
    assert list(fleet.unset_fields()) == [
        (key, unset) for key, file in expected.items() if (unset := unset_fields(file.document.data))
    ]
    assert list(fleet.folded_names()) == [(key, (file.customer.name or key).casefold()) for key, file in expected.items()]


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_kept_fleet_renewed_with_its_edited_files_is_the_fleet_the_files_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    """Past PATCH_AT_MOST edits (or once git's index moved on), a folder of the files kept
    is the kept fleet renewed: the files whose content changed are read, the others known
    by what was kept. The fleet, and what it keeps for the next run, are those of the
    folder read with nothing kept."""
    settings = Settings.model_validate({"catalogs": {"resellers": ["direct", "nordic-partners"]}})
    root, cache_file, _ = _kept(tmp_path, settings)
    monkeypatch.setattr(fleet_module, "PATCH_AT_MOST", 0)
    folder = root / "customers.d"
    for name, old, new in EDITS[edit]:
        (folder / name).write_text((folder / name).read_text().replace(old, new, 1))
    reads = _reads(monkeypatch)
    cache = DocumentCache(cache_file)
    try:
        expected = load_customers(sorted(folder.iterdir()), settings.catalogs)
    except InvalidInput as full:
        with pytest.raises(InvalidInput) as fast:
            load_fleet(root, settings, folder, cache)
        assert str(fast.value) == str(full)
        return
    fleet = load_fleet(root, settings, folder, cache)
    assert sorted(reads) == sorted(name for name, _, _ in EDITS[edit])
    _assert_made_by(fleet, expected)
    fresh_file = tmp_path / "fresh/documents.sqlite"
    fresh = DocumentCache(fresh_file)
    load_fleet(root, settings, folder, fresh)
    cache.save()
    fresh.save()
    slot = fleet_module._slot(settings, folder, root)
    for part in ("", ":ids", ":summaries"):
        assert DocumentCache(cache_file).get_meta(slot + part) == DocumentCache(fresh_file).get_meta(slot + part)


def test_more_edits_than_a_kept_fleet_is_patched_with_make_a_new_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PATCH_AT_MOST files edited since git's index, the folder is read as a new fleet
    (the unchanged files by their kept summaries), never patched; and kept as that."""
    root, cache_file, _ = _kept(tmp_path)
    folder = root / "customers.d"
    for name, old, new in [("acme-telecom.yaml", "channels: ", "channels: 1"), ("kiwi-link.toml", "channels = ", "channels = 1")]:
        (folder / name).write_text((folder / name).read_text().replace(old, new, 1))
    monkeypatch.setattr(fleet_module, "PATCH_AT_MOST", 1)
    patched: list[object] = []
    monkeypatch.setattr(fleet_module, "_patched", lambda *args: patched.append(args))
    reads = _reads(monkeypatch)
    fleet = load_fleet(root, Settings(), folder, DocumentCache(cache_file))
    expected = load_customers(sorted(folder.iterdir()))
    assert fleet.digests == {key: digest(file.customer) for key, file in expected.items()}
    assert (patched, sorted(reads)) == ([], ["acme-telecom.yaml", "kiwi-link.toml"])


def test_a_kept_fleet_with_an_edited_file_removed_is_read_whole(tmp_path: Path) -> None:
    root, cache_file, _ = _kept(tmp_path)
    folder = root / "customers.d"
    (folder / "kiwi-link.toml").unlink()
    (folder / "kiwi-two.yaml").write_text((folder / "acme-telecom.yaml").read_text().replace("name: Acme", "name: Two"))
    fleet = load_fleet(root, Settings(), folder, DocumentCache(cache_file))
    expected = load_customers(sorted(folder.iterdir()))
    assert fleet.digests == {key: digest(file.customer) for key, file in expected.items()}


@pytest.mark.parametrize("part", [5, 6], ids=["claims", "unset"])
def test_a_kept_fleet_of_another_shape_is_read_whole_not_trusted(tmp_path: Path, part: int) -> None:
    """The earlier keys claimed and the fields left unset, as kept, are checked like every
    other value of the cache: a list where a key should be is a fleet to read whole."""
    root, cache_file, _ = _kept(tmp_path)
    folder = root / "customers.d"
    cache = DocumentCache(cache_file)
    slot = fleet_module._slot(Settings(), folder, root)
    kept = list(cache.get_meta(slot))
    kept[part] = (("kiwi-link", (["not", "a", "key"],)),)  # not the file edited below
    cache.put_meta(slot, tuple(kept))
    cache.save()
    acme = folder / "acme-telecom.yaml"
    acme.write_text(acme.read_text().replace("channels: 300", "channels: 301"))
    fleet = load_fleet(root, Settings(), folder, DocumentCache(cache_file))
    expected = load_customers(sorted(folder.iterdir()))
    assert fleet.digests == {key: digest(file.customer) for key, file in expected.items()}
    assert list(fleet.unset_fields()) == [(key, unset) for key, file in expected.items() if (unset := unset_fields(file.document.data))]


def test_the_customers_a_plan_asks_for_are_had_and_their_files_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan asks the fleet for the customers it plans (a plan of 100,000 creates, all of
    them): it gets each as its file says, and the fleet keeps neither the file's bytes nor
    its document after (half of what a loaded customer holds); a file loaded to be kept is."""
    root, _, fleet = _kept(tmp_path)
    keys = [key for key in fleet if key != "globex-carrier"]
    expected = load_customers(sorted((root / "customers.d").glob("*.*")))
    customers = desired_at(fleet, [], dt.datetime(2026, 11, 27, tzinfo=dt.UTC)).subset(set(keys))
    assert list(customers) == keys
    assert customers == {key: expected[key].customer for key in keys}
    read = _reads(monkeypatch)
    assert fleet[keys[0]].customer == customers[keys[0]]
    assert read == [fleet.names[keys[0]]]  # not kept: read again when asked
    fleet.load([keys[1]])
    fleet[keys[1]]
    assert read == [fleet.names[keys[0]], fleet.names[keys[1]]]  # kept: read once


def test_the_customers_a_plan_asks_for_are_loaded_a_slice_at_a_time_and_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked for in order, the customers of a subset are read a slice at a time, and a
    slice is let go when the next is loaded: a plan of 100,000 creates never holds them all.
    One asked for again after its slice is read again, with those after it."""
    root, _, fleet = _kept(tmp_path)
    keys = list(fleet)
    monkeypatch.setattr(Slices, "SLICE", 2)
    customers = desired_at(fleet, [], dt.datetime(2026, 11, 27, tzinfo=dt.UTC)).subset(set(keys))
    read = _reads(monkeypatch)
    first = weakref.ref(customers[keys[0]])
    assert customers[keys[1]] is not None
    assert read == [fleet.names[key] for key in keys[:2]]
    assert first() is not None
    customers[keys[2]]
    gc.collect()
    assert first() is None  # the first slice is let go
    assert read == [fleet.names[key] for key in keys[:4]]
    assert customers[keys[0]] == load_customers([root / "customers.d" / fleet.names[keys[0]]])[keys[0]].customer
    assert read[4:] == [fleet.names[key] for key in keys[:2]]


def test_a_slice_of_many_customers_knows_their_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether the customers loaded learn the fleet's digests (`REMEMBER_FROM`) goes by how
    many a plan loads in all, not by each slice of them: a plan of 100,000 creates would
    otherwise encode every customer again."""
    from reconciler.model.fields import kept_digest

    _, _, fleet = _kept(tmp_path)  # known from git's index: nothing loaded
    monkeypatch.setattr(fleet_module, "REMEMBER_FROM", 4)
    monkeypatch.setattr(Slices, "SLICE", 2)
    customers = desired_at(fleet, [], dt.datetime(2026, 11, 27, tzinfo=dt.UTC)).subset(set(fleet))
    assert {key: kept_digest(customers[key]) for key in customers} == dict(fleet.digests)


@pytest.mark.parametrize("workers", [1, 2])
def test_each_customer_s_canonical_document_is_kept_where_its_file_was_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A file parsed (in a worker process, or here) leaves its customer in the cache as a
    plan of its create holds it (canonical document, digest, glance), by its content and
    key, for a plan of creates to take as it is: in that run and the next, no file is read
    again, no customer made again."""
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(fleet_module, "REMEMBER_FROM", 1)
    file = tmp_path / "cache/documents.sqlite"
    expected = {
        key: (canonical_document(found.customer), digest(found.customer), glance_of(canonical_document(found.customer)))
        for key, found in load_customers(sorted((root / "customers.d").glob("*.*"))).items()
    }
    cache = DocumentCache(file)
    fleet = load_fleet(root, Settings(), root / "customers.d", cache, workers=workers)
    cache.save()
    reads = _reads(monkeypatch)
    for run in (fleet, load_fleet(root, Settings(), root / "customers.d", DocumentCache(file), workers=workers)):
        given = run.canonical(list(run))
        assert {key: (unpacked_document(packed.document), packed.digest, packed.glance) for key, packed in given.items()} == expected
    assert reads == []


def _digests_taken(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The documents whose digest the fleet takes from here on."""
    taken: list[dict[str, Any]] = []
    original = fleet_module.digest_of

    def counting(document: dict[str, Any]) -> str:
        taken.append(document)
        return original(document)

    monkeypatch.setattr(fleet_module, "digest_of", counting)
    return taken


def _held(given: dict[str, Packed]) -> dict[str, tuple[Any, str, Any]]:
    return {key: (unpacked_document(packed.document), packed.digest, packed.glance) for key, packed in given.items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_customer_this_run_parsed_is_given_as_parsed_and_one_kept_before_once_it_gives_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A plan's fleet keeps each customer its run parsed (in a worker process, or here), of
    the keys it is asked to (those the live store lacks), as a plan of its create holds
    it, and gives it as it is, once; one kept in the cache by a run before is given once
    its document gives the fleet's digest: the same customers either way. A validation's
    fleet keeps none."""
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(fleet_module, "REMEMBER_FROM", 1)
    file = tmp_path / "cache/documents.sqlite"
    assert load_fleet(root, Settings(), root / "customers.d", DocumentCache(tmp_path / "other.sqlite"), workers=workers).made == {}
    cache = DocumentCache(file)
    fleet = load_fleet(root, Settings(), root / "customers.d", cache, workers=workers, documents=lambda key: key != "acme-telecom")
    cache.save()
    keys = list(fleet)
    assert set(fleet.made) == set(keys) - {"acme-telecom"}  # of the keys it was asked to keep
    taken = _digests_taken(monkeypatch)
    made = fleet.canonical([key for key in keys if key != "acme-telecom"])
    assert (set(made), taken, fleet.made) == (set(keys) - {"acme-telecom"}, [], {})
    made.update(fleet.canonical(["acme-telecom"]))  # from the cache, checked
    assert len(taken) == 1
    taken.clear()
    again = load_fleet(root, Settings(), root / "customers.d", DocumentCache(file), workers=workers, documents=lambda key: True)
    assert again.made == {}  # known by the kept fleet: nothing parsed
    kept = again.canonical(keys)
    assert len(taken) == len(keys)
    assert _held(kept) == _held(made)


def test_a_kept_canonical_document_that_does_not_give_the_fleet_s_digest_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry that is not the customer of the digest the fleet holds for that key
    (another customer's entry, not marshal's bytes, not a map) is as none: that customer is
    made from its file, and the plan is the one the files make."""
    root, file, fleet = _kept(tmp_path)
    monkeypatch.setattr(fleet_module, "REMEMBER_FROM", 1)
    keys = list(fleet)
    names = [canonical_name(fleet.ids[key], key) for key in keys]
    with sqlite3.connect(file) as connection:
        entries = dict(connection.execute(f"SELECT name, data FROM derived WHERE name IN ({','.join('?' * len(names))})", names))
    planted = {keys[1]: entries[names[0]], keys[2]: b"\x00not marshal", keys[3]: marshal.dumps(["a", "list"])}
    with sqlite3.connect(file) as connection:
        connection.executemany(
            "UPDATE derived SET data = ? WHERE name = ?",
            [(blob, canonical_name(fleet.ids[key], key)) for key, blob in planted.items()],
        )
    assert set(fleet.canonical(keys)) == set(keys) - set(planted)
    at = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    context = PlanContext(at=at, commit=None, dirty=False, provider=ProviderInfo("sqlite", "sqlite x", frozenset()))
    plan = compute_plan(desired_at(fleet, [], at).subset(set(keys)), {}, context)
    customers = load_customers(sorted((root / "customers.d").glob("*.*")))
    expected = compute_plan({key: found.customer for key, found in customers.items()}, {}, context)
    assert plan == expected
    assert plan.plan_id == expected.plan_id


def test_a_customer_loaded_from_the_fleet_knows_its_digest_without_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet's digest of each file is handed to the customer loaded from that same
    content (the plan's id and the apply need it), and to no other: a file changed since
    the fleet was made is encoded afresh."""
    from reconciler.model import fields

    root, _, fleet = _kept(tmp_path)  # known from git's index: nothing loaded
    monkeypatch.setattr(fleet_module, "REMEMBER_FROM", 1)
    acme = root / "customers.d/acme-telecom.yaml"
    acme.write_text(acme.read_text().replace("channels: 300", "channels: 301"))
    encoded: list[str] = []
    digest_of = fields.digest_of

    def counting(document: dict[str, object]) -> str:
        encoded.append(str(document["name"]))
        return digest_of(document)

    monkeypatch.setattr(fields, "digest_of", counting)
    loaded = fleet.load(list(fleet))
    digests = {key: digest(file.customer) for key, file in loaded.items()}
    assert encoded == [loaded["acme-telecom"].customer.name]
    assert digests == {key: digest_of(fields.canonical_document(file.customer)) for key, file in loaded.items()}
    assert digests["acme-telecom"] != fleet.digests["acme-telecom"]


@pytest.mark.parametrize("then", ["kept as edited", "undone", "edited again", "committed"])
def test_a_fleet_kept_while_a_file_was_edited_is_known_from_the_index_and_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    """A fleet read whole while the work tree had a file edited (one commit made while
    another edit waits, say) is kept against git's index with that file named: the next
    run reads it again, and the files edited since, and no other, whatever became of the
    edit."""
    root = tmp_path / "repo"
    repo = _repo(root)
    folder, cache_file = root / "customers.d", tmp_path / "cache/documents.sqlite"
    kiwi, acme = folder / "kiwi-link.toml", folder / "acme-telecom.yaml"
    original = kiwi.read_text()
    kiwi.write_text(original.replace("channels = ", "channels = 1"))  # waits, not committed
    acme.write_text(acme.read_text().replace("channels: ", "channels: 1"))
    repo.git("add", "customers.d/acme-telecom.yaml")
    repo.git("commit", "-q", "-m", "Acme only")  # the index changed: this run reads the fleet whole
    cache = DocumentCache(cache_file)
    load_fleet(root, Settings(), folder, cache)
    cache.save()
    if then == "undone":
        kiwi.write_text(original)
    elif then == "edited again":
        kiwi.write_text(original.replace("channels = ", "channels = 2"))
    elif then == "committed":
        repo.commit("Kiwi")
    reads = _reads(monkeypatch)
    fleet = load_fleet(root, Settings(), folder, DocumentCache(cache_file))
    expected = load_customers(sorted(folder.iterdir()))
    assert fleet.digests == {key: digest(file.customer) for key, file in expected.items()}
    assert fleet.summaries == {
        key: fleet_module.summarise(key, file.customer, file.document.data) for key, file in expected.items()
    }
    # Committed, every file is one the index names, its summary kept by its id: none is read.
    assert reads == ([] if then == "committed" else ["kiwi-link.toml"])


def test_a_plan_s_workers_hand_back_their_customers_without_a_cache_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache that cannot be used (its folder writable by others) keeps nothing, and the
    workers hand back each customer a plan may create all the same."""
    root = tmp_path / "repo"
    _repo(root)
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    cache = DocumentCache(folder / "documents.sqlite")
    assert not cache.usable
    fleet = load_fleet(root, Settings(), root / "customers.d", cache, workers=2, documents=lambda key: True)
    expected = {key: Packed.of(found.customer) for key, found in load_customers(sorted((root / "customers.d").glob("*.*"))).items()}
    assert _held(fleet.canonical(list(fleet))) == _held(expected)
