"""Files that appear under their final name only when complete — the one atomic writer.

Every file govcat writes under the data root (document, attribute and decision shards,
release files, caches) goes through here. A file is written to a temporary name in the same
directory (so the rename never crosses a file system), flushed and fsync'ed, then moved into
place with `os.replace`, which is atomic on POSIX; the directory is fsync'ed too so the
rename itself survives a power cut. A process killed at any point leaves either nothing or a
temporary file, never a partial file under the final name.

On an object store (a `common.storage.RemotePath`) the file is written to a local temporary
file first, then uploaded in one PUT to its final key (multipart uploads, for large files,
complete only at the end): S3, GCS and Azure make an object visible whole or not at all, so
there is no rename to do (docs/object-storage.md). Stores without that guarantee get the
upload under a temporary key, then a move.

Temporary names start with a dot and end in `.tmp-<pid>-<random>`: hidden from globs of
`*.parquet`, unique per writer, and recognisable by `stale_temp_files`. The pid lets the run
lifecycle remove only the temporary files of processes that are gone (docs/architecture.md,
"How a run resumes").
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.storage import ATOMIC_PUT, RemotePath, as_path

if TYPE_CHECKING:  # pyarrow loads where a table is written, not when this module is imported
    import pyarrow as pa

_CHUNK = 1 << 20
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: str
    sha256: str
    n_bytes: int
    n_rows: int = 0


def file_sha256(path: str | os.PathLike[str] | RemotePath) -> str:
    """sha256 of a file (or an object), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    p = as_path(path)
    with (p.open("rb") if isinstance(p, RemotePath) else open(p, "rb")) as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """sha256 of a document's UTF-8 text: the catalog's content hash."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def temp_name(path: str | os.PathLike[str] | RemotePath) -> Path:
    """Where a writer of `path` writes first: beside it locally; for an object, a local
    staging folder (the object is uploaded from there by `publish`)."""
    final = as_path(path)
    if isinstance(final, RemotePath):
        return _staging_dir() / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def _staging_dir() -> Path:
    """Local files bound for a store (GOVCAT_STAGING, else the system's temporary folder)."""
    import tempfile

    staging = Path(os.environ.get("GOVCAT_STAGING") or tempfile.gettempdir()) / "govcat-upload"
    staging.mkdir(parents=True, exist_ok=True)
    return staging


def temp_owner(path: str | os.PathLike[str]) -> int | None:
    """The pid of the writer that made a temporary file, or None if it is not one of ours."""
    name = as_path(path).name
    if not name.startswith(".") or ".tmp-" not in name:
        return None
    try:
        return int(name.rsplit(".tmp-", 1)[1].split("-", 1)[0])
    except ValueError:
        return None


def stale_temp_files(path: str | os.PathLike[str] | RemotePath) -> list[Path]:
    """Temporary files a killed writer of `path` left behind."""
    final = as_path(path)
    if not final.parent.is_dir():
        return []
    return sorted(final.parent.glob(f".{final.name}.tmp-*"))


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


@contextmanager
def atomic_path(path: str | os.PathLike[str] | RemotePath) -> Iterator[Path]:
    """Yield a temporary local path to write; on success it is fsync'ed and renamed to
    `path` (uploaded, for an object).

    For writers that stream into a file of their own (a `pyarrow.parquet.ParquetWriter`).
    An exception removes the temporary file; a kill leaves it for `stale_temp_files`.
    """
    final = as_path(path)
    if not isinstance(final, RemotePath):
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    try:
        yield tmp
        publish(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str] | RemotePath) -> None:
    """Move a complete temporary file (from `temp_name`) to its final name: fsync the file,
    rename, fsync the directory; for an object, upload it and remove the local file. For
    writers whose file outlives one `with` block."""
    final = as_path(path)
    if isinstance(final, RemotePath):
        _upload(Path(tmp), final)
        return
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(Path(path).parent)


def _upload(tmp: Path, final: RemotePath) -> None:
    fs = final.fs
    if final.protocol in ATOMIC_PUT:
        fs.put_file(str(tmp), final.key)
    else:  # a store that may show a partial object: upload aside, then move
        aside = final.with_name(tmp.name)
        fs.put_file(str(tmp), aside.key)
        fs.mv(aside.key, final.key)
    tmp.unlink(missing_ok=True)


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str] | RemotePath) -> WrittenFile:
    """Write `data` so that `path` holds either its old content or all of `data`."""
    final = as_path(path)
    if isinstance(final, RemotePath) and final.protocol in ATOMIC_PUT:
        final.fs.pipe_file(final.key, data)  # one PUT of the finished bytes
        return WrittenFile(str(final), bytes_sha256(data), len(data))
    with atomic_path(final) as tmp:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
    return WrittenFile(str(final), bytes_sha256(data), len(data))


def write_table_atomic(table: pa.Table, path: str | os.PathLike[str] | RemotePath, *,
                       row_group_size: int | None = None) -> WrittenFile:
    """Write a Parquet table (zstd level 3) atomically; returns its sha256 and size."""
    import pyarrow.parquet as pq

    final = as_path(path)
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression=PARQUET_COMPRESSION,
                       compression_level=PARQUET_COMPRESSION_LEVEL,
                       row_group_size=row_group_size)
        # hashed before it moves: the same bytes, and an object is not read back
        digest, size = file_sha256(tmp), tmp.stat().st_size
    return WrittenFile(str(final), digest, size, table.num_rows)
