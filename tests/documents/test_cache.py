"""The document cache: an unchanged file is parsed once, and a bad cache is never trusted."""

from __future__ import annotations

import marshal
import os
import pickle
import sqlite3
import stat
from pathlib import Path

import pytest

from reconciler.commands.session import cache_dir
from reconciler.documents.cache import (
    LOADER_REVISION,
    DocumentCache,
    cache_file,
    cached_loading,
    content_id,
)
from reconciler.documents.loader import load_document
from reconciler.errors import InvalidInput


def _plant(file: Path, revision: str, entries: dict[str, dict[str, object]]) -> None:
    """A well-formed cache database holding ENTRIES (content id -> data) under REVISION."""
    with sqlite3.connect(file) as connection:
        connection.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        connection.execute("CREATE TABLE document (id TEXT PRIMARY KEY, data BLOB NOT NULL)")
        connection.execute("INSERT INTO meta VALUES ('revision', ?)", (marshal.dumps(revision),))
        connection.executemany(
            "INSERT INTO document VALUES (?, ?)", [(key, marshal.dumps(data)) for key, data in entries.items()]
        )
    connection.close()


def _planted(file: Path, identity: str) -> object:
    with sqlite3.connect(file) as connection:
        row = connection.execute("SELECT data FROM document WHERE id = ?", (identity,)).fetchone()
    connection.close()
    return marshal.loads(row[0]) if row else None


def _customer(tmp_path: Path, text: str = "currency: USD\nchannels: 10\n") -> Path:
    path = tmp_path / "repo" / "acme.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_warm_load_skips_the_parser_and_returns_the_same_document(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "cache" / "documents.sqlite"
    cold = DocumentCache(file)
    first = cold.load(path)
    cold.save()
    warm = DocumentCache(file)
    second = warm.load(path)
    assert (cold.misses, warm.misses, warm.hits) == (1, 0, 1)
    assert second == first == load_document(path)


def test_a_cache_holds_documents_once_one_is_written(tmp_path: Path) -> None:
    file = tmp_path / "cache" / "documents.sqlite"
    cache = DocumentCache(file)
    assert not cache.holds_documents()  # no file yet
    cache.put_meta("fleet", "kept")
    cache.save()
    assert not DocumentCache(file).holds_documents()  # a file, but no document in it
    cache = DocumentCache(file)
    cache.load(_customer(tmp_path))
    cache.save()
    assert DocumentCache(file).holds_documents()


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "cache" / "documents.sqlite"
    cache = DocumentCache(file)
    cache.load(path)
    cache.save()
    path.write_text("currency: USD\nchannels: 11\n")
    again = DocumentCache(file)
    assert again.load(path).data == {"currency": "USD", "channels": 11}
    assert again.misses == 1


def test_same_bytes_under_another_suffix_are_not_shared(tmp_path: Path) -> None:
    yaml_path = _customer(tmp_path, 'currency = "USD"\n')
    toml_path = yaml_path.with_suffix(".toml")
    toml_path.write_text('currency = "USD"\n')
    cache = DocumentCache(tmp_path / "cache" / "documents.sqlite")
    assert cache.load(toml_path).data == {"currency": "USD"}
    with pytest.raises(InvalidInput):
        cache.load(yaml_path)  # not a YAML mapping: a plain scalar


def test_a_corrupt_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "cache" / "documents.sqlite"
    file.parent.mkdir(mode=0o700)
    file.write_bytes(b"not a cache")
    assert DocumentCache(file).load(path).data["channels"] == 10
    file.unlink(missing_ok=True)
    _plant(file, "0.0.0/0", {content_id(".yaml", path.read_bytes()): {"channels": 99}})
    cache = DocumentCache(file)
    assert cache.load(path).data["channels"] == 10 and cache.misses == 1
    assert LOADER_REVISION != "0.0.0/0"
    file.unlink()
    _plant(file, LOADER_REVISION, {content_id(".yaml", path.read_bytes()): {"channels": ("x", "not a value")}})
    cache = DocumentCache(file)
    assert cache.load(path).data["channels"] == 10 and cache.misses == 1  # a value no document holds


class _Payload:
    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (Path(os.environ["PAYLOAD_MARK"]),))


def test_a_planted_pickle_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _customer(tmp_path)
    mark = tmp_path / "payload-ran"
    monkeypatch.setenv("PAYLOAD_MARK", str(mark))
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    planted = pickle.dumps(_Payload())
    for name in (cache_file(folder, path.parent).name, "documents.pickle"):
        (folder / name).write_bytes(planted)
    with cached_loading(folder, path.parent) as load:
        assert load(path).data["channels"] == 10
    assert not mark.exists()


def test_a_well_formed_planted_entry_in_a_folder_others_may_write_is_not_used(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    folder.chmod(0o777)  # as a careless RECONCILER_CACHE_DIR would be
    file = cache_file(folder, path.parent)
    identity = content_id(".yaml", path.read_bytes())
    _plant(file, LOADER_REVISION, {identity: {"currency": "USD", "channels": 99999}})
    warnings: list[str] = []
    with cached_loading(folder, path.parent, warn=warnings.append) as load:
        assert load(path).data["channels"] == 10
    assert warnings == [
        f"the document cache {folder} is not private to this user (another owner, writable by others, a link or "
        "not a file); it is not used: make it yours alone, or set RECONCILER_CACHE_DIR"
    ]
    assert _planted(file, identity) == {"currency": "USD", "channels": 99999}  # not written either


def test_a_planted_file_in_a_private_folder_that_others_may_write_is_not_used(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    file = cache_file(folder, path.parent)
    _plant(file, LOADER_REVISION, {})
    file.chmod(0o666)
    warnings: list[str] = []
    with cached_loading(folder, path.parent, warn=warnings.append) as load:
        load(path)
    assert len(warnings) == 1 and str(file) in warnings[0]


def test_the_cache_folder_is_created_private(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    folder = tmp_path / "new" / "cache"
    with cached_loading(folder, path.parent) as load:
        load(path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [entry.name for entry in folder.iterdir()] == [cache_file(folder, path.parent).name]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    cache_file(folder, path.parent).mkdir()  # os.replace onto a folder fails
    cache = DocumentCache(cache_file(folder, path.parent))
    cache.load(path)
    cache.save()
    assert [entry.name for entry in folder.iterdir()] == [cache_file(folder, path.parent).name]


def test_an_unwritable_cache_costs_nothing_but_speed(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with cached_loading(blocked / "sub", tmp_path) as load:
        assert load(path).data["channels"] == 10


def test_no_cache_dir_means_plain_loading(tmp_path: Path) -> None:
    with cached_loading(None, tmp_path) as load:
        assert load is load_document


def test_the_cache_lives_outside_the_repository() -> None:
    assert cache_dir({"HOME": "/home/ops"}) == Path("/home/ops/.cache/reconciler")
    assert cache_dir({"HOME": "/home/ops", "XDG_CACHE_HOME": "/var/cache/ci"}) == Path("/var/cache/ci/reconciler")
    assert cache_dir({"RECONCILER_CACHE_DIR": "/tmp/c", "HOME": "/home/ops"}) == Path("/tmp/c")
    assert cache_dir({"RECONCILER_CACHE_DIR": ""}) is None
    assert cache_dir({}) is None
    assert cache_file(Path("/c"), Path("/repo-a")) != cache_file(Path("/c"), Path("/repo-b"))


def test_a_batch_of_documents_is_written_in_one_transaction(tmp_path: Path) -> None:
    """The connection is in autocommit mode: without its BEGIN, each row of the batch was a
    transaction of its own (a journal file made and removed for each: four times the time
    of a cold run's writes). One transaction also writes all of a batch or none of it."""
    cache = DocumentCache(tmp_path / "cache" / "documents.sqlite")
    for number in range(20):
        cache.remember(f"yaml:{number:040x}", {"channels": number})
    connection = cache._open(create=True)
    assert connection is not None
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    cache.flush()
    assert [statement.split()[0] for statement in statements] == ["BEGIN", *["INSERT"] * 20, "COMMIT"]
    cache._new = {"yaml:a": marshal.dumps({}), "yaml:b": None}  # type: ignore[dict-item]  # NOT NULL refuses the second
    cache.flush()
    connection.set_trace_callback(None)
    cache.close()
    assert _planted(cache.file, f"yaml:{19:040x}") == {"channels": 19}
    assert _planted(cache.file, "yaml:a") is None  # rolled back with the row that failed


def test_a_cache_another_process_created_meanwhile_is_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes of one run (the workers of a cold parse) may both find no cache and
    create it: the one that comes second writes into the first's, and throws nothing away."""
    file = tmp_path / "cache/documents.sqlite"
    first, second = f"yaml:{1:040x}", f"yaml:{2:040x}"
    other = DocumentCache(file)
    real_open = os.open
    raced: list[bool] = []

    def created_meanwhile(path: object, flags: int, mode: int = 0o777) -> int:
        if not raced:  # the other process creates the file between our look and our open
            raced.append(True)
            other.remember(first, {"channels": 1})
            other.flush()
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", created_meanwhile)
    cache = DocumentCache(file)
    cache.remember(second, {"channels": 2})
    cache.flush()
    monkeypatch.undo()
    assert raced
    assert DocumentCache(file).stored([first, second]) == {first: {"channels": 1}, second: {"channels": 2}}


def test_a_cache_locked_past_the_busy_timeout_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache another process holds locked longer than the busy timeout is not used now,
    and not taken for a broken file and thrown away."""
    file = tmp_path / "cache/documents.sqlite"
    identity = f"yaml:{3:040x}"
    writer = DocumentCache(file)
    writer.remember(identity, {"channels": 3})
    writer.flush()
    writer.close()
    monkeypatch.setattr("reconciler.documents.cache.BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(file, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = DocumentCache(file)
        assert locked.stored([identity]) == {}
        locked.remember(f"yaml:{4:040x}", {"channels": 4})
        locked.flush()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert file.exists()
    assert DocumentCache(file).stored([identity]) == {identity: {"channels": 3}}
