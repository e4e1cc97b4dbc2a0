"""Loading one file (`documents.loader`): dispatch by suffix, the size limit, UTF-8 and its BOM,
a document that must be a mapping, and the positions a loaded document finds again to place
an error. What YAML and TOML read is in test_yaml12.py and test_toml.py."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from document_files import load, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.documents.loader import (
    MAX_FILE_BYTES,
    LoadedDocument,
    Mark,
    load_document,
    parse_yaml,
    read_source,
)
from reconciler.errors import InvalidInput, Problem


def test_document_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", "- name: Acme\n") == [
        "FILE:1:1: the document is a sequence, not a mapping; write it as 'key: value' lines"
    ]


@pytest.mark.parametrize("name", ["acme.yaml", "acme.toml"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert problems(tmp_path, name, "\n  \n") == ["FILE: the file is empty; write the document in it"]


def test_invalid_utf8(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.yaml", b"name: Acme\ncity: M\xfcnchen\n") == [
        "FILE:2:8: the file is not valid UTF-8: byte 0xfc at offset 18 cannot be decoded; save the file as UTF-8"
    ]


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    content = b"name: Acme\n" + b"# padding\n" * (MAX_FILE_BYTES // 10)
    assert problems(tmp_path, "acme.yaml", content) == [
        f"FILE: the file is {len(content)} bytes, more than the 1048576 (1 MiB) allowed; split it or trim it"
    ]
    with pytest.raises(InvalidInput, match="more than the 1048576"):
        load_document(Path("acme.yaml"), content)


def test_a_file_is_read_whole_even_when_its_size_says_less() -> None:
    """The read asks for the size fstat gives and a byte more; a file that has more (it grew
    since, or says it has none, as /proc's do) is read on, up to the limit, and refused past it."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    content = read_source(status)
    assert content.startswith(b"Name:") and b"\nPid:" in content
    with pytest.raises(InvalidInput) as caught:
        read_source(status, limit=100)
    assert str(caught.value) == f"{status}: the file is 101 bytes, more than the 100 allowed; split it or trim it"


def test_unknown_suffix(tmp_path: Path) -> None:
    assert problems(tmp_path, "acme.json", "{}") == [
        "FILE: '.json' files are not read; write the document as .yaml, .yml or .toml"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_document(tmp_path / "acme.yaml")
    assert str(caught.value) == f"{tmp_path / 'acme.yaml'}: cannot read the file: No such file or directory"


def test_positions_are_found_again_and_locate_falls_back(tmp_path: Path) -> None:
    text = "# schema\nname: Acme\nconfig:\n  tags:\n    - wholesale\n    - tier-1\n  invoice: {due_days: 30}\n"
    document = load(tmp_path, "acme.yaml", text)
    # Positions are not kept with the data: the document reads its source again (the
    # composer's marks, test_yaml12.py) the first time an error needs one.
    assert "positions" not in document.__dict__
    _, marks, key_marks, blocks = parse_yaml(text, tmp_path / "acme.yaml")
    assert (document.marks, document.key_marks, document.block_scalars) == (marks, key_marks, blocks)
    assert document.locate(("config", "tags", 1)) == Mark(6, 7)
    assert document.locate(("config", "invoice", "schedule")) == Mark(7, 12)
    assert document.locate(("config", "tags"), key=True) == Mark(4, 3)
    assert document.locate(("config", "tags", 1), key=True) == Mark(6, 7)
    assert document.locate(("unknown",)) == Mark(2, 1)
    assert document.problem(("config", "invoice", "schedule"), "wrong") == Problem(
        tmp_path / "acme.yaml", 7, 12, "config.invoice.schedule", "wrong"
    )
    assert LoadedDocument(Path("x.yaml"), {"a": 1}).locate(("a",)) is None


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    document = load(tmp_path, "acme.yaml", b"\xef\xbb\xbfname: Acme\n")
    assert document.data == {"name": "Acme"}
    assert document.marks[("name",)] == Mark(1, 7)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-?[]{},&*!|>'\"#\n\t .=01%<~\\")), max_size=60))
def test_no_yaml_or_toml_input_crashes(text: str) -> None:
    for name in ("fuzz.yaml", "fuzz.toml"):
        with contextlib.suppress(InvalidInput):
            load_document(Path(name), text.encode("utf-8"))


def test_a_read_that_gives_fewer_bytes_than_asked_reads_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read of the descriptor may give fewer bytes than asked short of the end: the file is
    read on until it has given them all, and each descriptor is closed, read or refused."""
    from reconciler.documents import loader

    path = tmp_path / "acme.yaml"
    path.write_bytes(b"name: Acme\nchannels: 30\n" * 40)
    read = os.read
    monkeypatch.setattr(loader.os, "read", lambda handle, size: read(handle, min(size, 7)))
    opened = len(os.listdir("/proc/self/fd"))
    assert read_source(path) == path.read_bytes()
    with pytest.raises(InvalidInput, match="more than the 100 allowed"):
        read_source(path, limit=100)
    with pytest.raises(InvalidInput, match="cannot read the file: Is a directory"):
        read_source(tmp_path)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_source(fifo)
    assert len(os.listdir("/proc/self/fd")) == opened
