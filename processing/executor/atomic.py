"""Files that appear under their final name only when complete.

A shard is written to a temporary file in the same directory (so the rename never crosses a
file system), flushed and fsync'ed, then moved into place with `os.replace`, which is atomic
on POSIX; the directory is fsync'ed too so the rename itself survives a power cut. A process
killed at any point leaves either nothing or a temporary file under the final name, never a
partial file under it.

Temporary names start with a dot and end in `.tmp-<pid>-<random>`: hidden from globs of
`*.parquet`, unique per writer, and recognisable by `stale_temp_files`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: str
    sha256: str
    n_bytes: int


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def temp_name(path: str | os.PathLike[str]) -> Path:
    final = Path(path)
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def stale_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files a killed writer of `path` left behind."""
    final = Path(path)
    if not final.parent.is_dir():
        return []
    return sorted(final.parent.glob(f".{final.name}.tmp-*"))


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str]) -> WrittenFile:
    """Write `data` so that `path` holds either its old content or all of `data`."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        # An exception (not a kill) must not leave litter; a kill leaves the temp file, which
        # the next run removes with `stale_temp_files`.
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return WrittenFile(str(final), hashlib.sha256(data).hexdigest(), len(data))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
