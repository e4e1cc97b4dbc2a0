"""Writing a file the user named, one way everywhere: atomically, and over regular files only.

The content goes to a temporary file beside the target, is flushed to disk, and replaces the
target in one rename, so a crash leaves the old file or the new one, never half of either.
A target that is not a regular file (a device, a FIFO, a folder, a link) is refused rather
than replaced: `--out /dev/null` must not turn the device into a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reconciler.errors import UsageError

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def write_file(path: Path, data: bytes | Iterable[bytes], *, mode: int = 0o644, durable: bool = True) -> None:
    """Put DATA (bytes, or bytes in parts) at PATH atomically; UsageError (nothing written)
    when PATH cannot be a file.

    `durable=False` skips the flush to disk, for a file that costs only time when lost (a cache).
    """
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist; create it first")
    try:
        status = path.lstat()
    except FileNotFoundError:
        status = None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    if status is not None and not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise UsageError(f"cannot write {path}: it is {kind}; name a regular file")
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            if isinstance(data, bytes):
                stream.write(data)
            else:
                stream.writelines(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, status.st_mode & 0o7777 if status is not None else mode & ~_UMASK)
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _read_umask() -> int:
    # The umask can only be read by setting it; done once, at import, before any thread runs.
    current = os.umask(0)
    os.umask(current)
    return current


_UMASK = _read_umask()
