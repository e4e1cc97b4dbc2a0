"""The document cache: an unchanged file is parsed once, and a bad cache is never trusted."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from reconciler.commands.session import cache_dir
from reconciler.documents.cache import LOADER_REVISION, DocumentCache, cache_file, cached_loading
from reconciler.documents.loader import load_document
from reconciler.errors import InvalidInput


def _customer(tmp_path: Path, text: str = "currency: USD\nchannels: 10\n") -> Path:
    path = tmp_path / "repo" / "acme.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_warm_load_skips_the_parser_and_returns_the_same_document(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "cache" / "documents.pickle"
    cold = DocumentCache(file)
    first = cold.load(path)
    cold.save()
    warm = DocumentCache(file)
    second = warm.load(path)
    assert (cold.misses, warm.misses, warm.hits) == (1, 0, 1)
    assert second == first == load_document(path)


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "cache" / "documents.pickle"
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
    cache = DocumentCache(tmp_path / "documents.pickle")
    assert cache.load(toml_path).data == {"currency": "USD"}
    with pytest.raises(InvalidInput):
        cache.load(yaml_path)  # not a YAML mapping: a plain scalar


def test_a_corrupt_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    path = _customer(tmp_path)
    file = tmp_path / "documents.pickle"
    file.write_bytes(b"not a pickle")
    assert DocumentCache(file).load(path).data["channels"] == 10
    file.write_bytes(pickle.dumps(("0.0.0/0", {b"x": ({"channels": 99}, {}, {}, frozenset())})))
    cache = DocumentCache(file)
    assert cache.load(path).data["channels"] == 10 and cache.misses == 1
    assert LOADER_REVISION != "0.0.0/0"


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
