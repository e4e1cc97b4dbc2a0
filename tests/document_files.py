"""Writing a file into tmp_path and loading it: the helpers of the loader, TOML and YAML tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.documents.loader import LoadedDocument, load_document
from reconciler.errors import InvalidInput


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load(tmp_path: Path, name: str, content: str | bytes) -> LoadedDocument:
    return load_document(write(tmp_path, name, content))


def problems(tmp_path: Path, name: str, content: str | bytes) -> list[str]:
    """The problems loading CONTENT gives, each with its path written FILE."""
    path = write(tmp_path, name, content)
    with pytest.raises(InvalidInput) as caught:
        load_document(path)
    return [str(problem).replace(f"{path}:", "FILE:", 1) for problem in caught.value.problems]
