"""The data root on a local disk or on an object store (docs/object-storage.md).

A path under the data root is either a `pathlib.Path` (a local root: every call below is the
plain local call, no fsspec) or a `RemotePath` (an fsspec URL such as `s3://bucket/prefix`).
A `RemotePath` carries its store in its protocol, pickles as two strings and answers the
pathlib calls the code needs (`/`, `parent`, `name`, `exists`, `glob`, `unlink`, `stat`...),
so `catalog/layout.py` builds both kinds alike and a Ray worker given one writes to the same
store. It has no `__fspath__`: a builtin `open()` or `os.replace` on it fails at once instead
of writing a local file named `s3:/...`. File IO that must work on both goes through the
functions here and `common/atomic.py` (the one atomic writer).

The store's filesystem comes from fsspec (`s3fs`, `gcsfs`, `adlfs` when installed), with its
credentials from the environment or the store's usual config files (`AWS_*` variables,
`AWS_ENDPOINT_URL` for another endpoint): a URL with credentials in it is refused, and none
are ever printed or stored.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

# The fsspec package behind each protocol a data root may use.
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
            "abfs": "adlfs", "abfss": "adlfs"}
# The environment variables each store's fsspec package reads its endpoint and credentials
# from (what a worker on another machine must be handed to reach the same store).
ENVIRONMENT = {"s3": ("AWS_",), "s3a": ("AWS_",), "gs": ("GOOGLE_", "GCSFS_"),
               "gcs": ("GOOGLE_", "GCSFS_"), "az": ("AZURE_",), "abfs": ("AZURE_",),
               "abfss": ("AZURE_",)}
# Stores where one PUT of the finished bytes (or a multipart upload, completed at the end)
# is atomic per object: readers see the old object or the whole new one, never a part. On
# them a file is uploaded straight to its final key; elsewhere to a temporary key, then moved.
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class StorageError(ValueError):
    """A data root that cannot be used (one line for the user)."""


def is_url(value: object) -> bool:
    return isinstance(value, str) and "://" in value and not value.startswith("file://")


def as_path(value: str | os.PathLike[str] | RemotePath) -> Path | RemotePath:
    """A path or URL as given by a user or read from a row: a `RemotePath` for a store URL."""
    if isinstance(value, RemotePath | Path):
        return value
    text = os.fspath(value)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    return RemotePath.parse(text) if is_url(text) else Path(text)


def path_str(path: str | os.PathLike[str] | RemotePath) -> str:
    """A path as a string that `as_path` turns back into the same path (a URL for objects)."""
    return str(path) if isinstance(path, RemotePath) else os.fspath(path)


def is_remote(path: object) -> bool:
    return isinstance(path, RemotePath)


def filesystem(protocol: str) -> Any:
    """The fsspec filesystem of a protocol (fsspec caches instances; one per process)."""
    try:
        import fsspec
        from fsspec.registry import known_implementations
    except ImportError:  # pragma: no cover - fsspec comes with the dev and s3 extras
        raise StorageError(f"{protocol}:// data roots need the fsspec package "
                           "(pip install fsspec)") from None
    if protocol not in known_implementations and protocol not in PACKAGES:
        raise StorageError(f"unknown storage protocol {protocol}://")
    try:
        if protocol in PACKAGES:
            # No listings cache: other processes (Ray workers, a second machine) write too, and
            # a stale listing would hide their objects from `exists` and `glob`.
            return fsspec.filesystem(protocol, use_listings_cache=False)
        return fsspec.filesystem(protocol)
    except ImportError:
        package = PACKAGES.get(protocol) or known_implementations[protocol].get("err", "")
        raise StorageError(f"{protocol}:// data roots need the {package} package "
                           f"(pip install {package})") from None


class Stat(NamedTuple):
    st_size: int
    st_mtime: float


class RemotePath:
    """A key on an fsspec store, with the pathlib calls govcat uses."""

    __slots__ = ("key", "protocol")

    def __init__(self, protocol: str, key: str):
        self.protocol = protocol
        self.key = key.strip("/")

    @classmethod
    def parse(cls, url: str) -> RemotePath:
        protocol, _, rest = url.partition("://")
        netloc = rest.split("/", 1)[0]
        if "@" in netloc or ":" in netloc:
            raise StorageError(f"{protocol}:// data root: put credentials and endpoints in the "
                               "environment or the store's config, not in the URL")
        if not netloc:
            raise StorageError(f"{protocol}:// data root needs a bucket: {protocol}://BUCKET/PREFIX")
        filesystem(protocol)  # an unknown protocol or a missing package fails here, once
        return cls(protocol, rest)

    # ------------------------------------------------------------------ pure path
    def __str__(self) -> str:
        return f"{self.protocol}://{self.key}"

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and (self.protocol, self.key) == (
            other.protocol, other.key)

    def __hash__(self) -> int:
        return hash((self.protocol, self.key))

    def __lt__(self, other: RemotePath) -> bool:
        return (self.protocol, self.key) < (other.protocol, other.key)

    def __getstate__(self) -> tuple[str, str]:
        return self.protocol, self.key

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.protocol, self.key = state

    def __truediv__(self, other: str | os.PathLike[str]) -> RemotePath:
        return RemotePath(self.protocol, posixpath.join(self.key, os.fspath(other)))

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.key).stem

    @property
    def parent(self) -> RemotePath:
        parent = posixpath.dirname(self.key)
        return RemotePath(self.protocol, parent) if "/" in self.key else self

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def with_suffix(self, suffix: str) -> RemotePath:
        return self.parent / PurePosixPath(self.name).with_suffix(suffix).name

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        if not isinstance(other, RemotePath) or other.protocol != self.protocol or not (
                self.key == other.key or self.key.startswith(other.key + "/")):
            raise ValueError(f"{self} is not under {other}")
        return PurePosixPath(self.key[len(other.key):].lstrip("/") or ".")

    # ------------------------------------------------------------------ the store
    @property
    def fs(self) -> Any:
        return filesystem(self.protocol)

    def exists(self) -> bool:
        return bool(self.fs.exists(self.key))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.key))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.key))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no folders (a key's prefix is one); other stores make it."""
        if self.protocol not in ATOMIC_PUT:
            self.fs.makedirs(self.key, exist_ok=True)

    def iterdir(self) -> Iterator[RemotePath]:
        for key in sorted(self.fs.ls(self.key, detail=False)):
            yield RemotePath(self.protocol, key)

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        found = self.fs.glob(posixpath.join(self.key, pattern))
        for key in sorted(found):
            yield RemotePath(self.protocol, key)

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        """Files below this prefix whose name matches `pattern` (object stores list files)."""
        if not self.fs.isdir(self.key):
            return
        for key in sorted(self.fs.find(self.key)):
            if fnmatch.fnmatchcase(posixpath.basename(key), pattern):
                yield RemotePath(self.protocol, key)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.rm_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def stat(self) -> Stat:
        info = self.fs.info(self.key)
        mtime = info.get("LastModified") or info.get("mtime") or 0
        return Stat(int(info["size"]), mtime.timestamp() if hasattr(mtime, "timestamp")
                    else float(mtime))

    def open(self, mode: str = "rb", **kwargs: Any) -> Any:
        return self.fs.open(self.key, mode, **kwargs)

    def read_bytes(self) -> bytes:
        return bytes(self.fs.cat_file(self.key))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)


# --------------------------------------------------------------------------- file IO


def relative_to(path: Path | RemotePath, root: Path | RemotePath) -> str:
    """`path` relative to `root`, as catalog rows store it (POSIX separators on a store)."""
    if isinstance(root, RemotePath):
        return str(as_path(path).relative_to(root))  # type: ignore[arg-type]
    return str(Path(path).relative_to(root))  # type: ignore[arg-type]


def open_file(path: str | os.PathLike[str] | RemotePath, mode: str = "rb") -> Any:
    """A file to read (or, for stores, to stream to: not atomic — use common.atomic)."""
    p = as_path(path)
    return p.open(mode)


def arrow_filesystem(path: Path | RemotePath | str) -> tuple[Any, str]:
    """(pyarrow filesystem or None, path string) for pyarrow's readers and writers."""
    p = as_path(path)
    if not isinstance(p, RemotePath):
        return None, os.fspath(p)
    return _arrow_fs(p.protocol), p.key


_ARROW_FS: dict[tuple[int, str], Any] = {}


def _arrow_fs(protocol: str) -> Any:
    key = (os.getpid(), protocol)  # fsspec filesystems are per process (forked workers)
    if key not in _ARROW_FS:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        _ARROW_FS[key] = PyFileSystem(FSSpecHandler(filesystem(protocol)))
    return _ARROW_FS[key]


def read_table(path: Path | RemotePath | str, **kwargs: Any) -> pa.Table:
    """`pyarrow.parquet.read_table` of a local file or an object."""
    import pyarrow.parquet as pq

    fs, where = arrow_filesystem(path)
    return pq.read_table(where, filesystem=fs, **kwargs) if fs else pq.read_table(where, **kwargs)


def read_schema(path: Path | RemotePath | str) -> pa.Schema:
    import pyarrow.parquet as pq

    fs, where = arrow_filesystem(path)
    return pq.read_schema(where, filesystem=fs) if fs else pq.read_schema(where)


def parquet_file(path: Path | RemotePath | str, **kwargs: Any) -> pq.ParquetFile:
    import pyarrow.parquet as pq

    fs, where = arrow_filesystem(path)
    if fs is None:
        return pq.ParquetFile(where, **kwargs)
    return pq.ParquetFile(where, filesystem=fs, **kwargs)


def duckdb_files(con: Any, paths: Sequence[Path | RemotePath | str]) -> list[str]:
    """File names DuckDB's `read_parquet` reads: local paths as they are; for objects, the
    store's fsspec filesystem is registered on `con` (never the httpfs extension: offline)."""
    out = []
    for p in map(as_path, paths):
        if isinstance(p, RemotePath):
            fs = p.fs
            try:
                registered = set(con.list_filesystems())
            except AttributeError:  # pragma: no cover - older DuckDB
                registered = set()
            if fs.protocol[0] not in registered and str(fs.protocol) not in registered:
                con.register_filesystem(fs)
        out.append(str(p))
    return out


@contextmanager
def local_file(path: Path | RemotePath | str) -> Iterator[Path]:
    """A real local file with the content of `path`: the file itself when local; for an object,
    a downloaded temporary copy removed afterwards (for `numpy.load(mmap_mode=...)` and other
    readers that need a file descriptor)."""
    p = as_path(path)
    if not isinstance(p, RemotePath):
        yield p
        return
    import tempfile

    fd, name = tempfile.mkstemp(prefix="govcat-", suffix=f"-{p.name}")
    os.close(fd)
    try:
        p.fs.get_file(p.key, name)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def walk_files(root: Path | RemotePath | str) -> Iterator[str]:
    """Every file under `root`, as sorted POSIX paths relative to it (hidden files too)."""
    r = as_path(root)
    if isinstance(r, RemotePath):
        if r.fs.isdir(r.key):
            for key in sorted(r.fs.find(r.key)):
                yield key[len(r.key):].lstrip("/")
        return
    found = []
    for dirpath, _, files in os.walk(r):
        rel = Path(dirpath).relative_to(r)
        found += [(rel / f).as_posix() for f in files]
    yield from sorted(found)


def replace(src: Path | RemotePath, dst: Path | RemotePath) -> None:
    """Move `src` to `dst`: `os.replace` locally (atomic); a copy then delete on a store
    (each object lands whole, but a folder of them is not moved as one)."""
    if isinstance(src, RemotePath) or isinstance(dst, RemotePath):
        if not (isinstance(src, RemotePath) and isinstance(dst, RemotePath)):
            raise StorageError(f"cannot move {src} to {dst}: not on the same store")
        src.fs.mv(src.key, dst.key, recursive=True)
        return
    os.replace(src, dst)


def store_environment(root: Path | RemotePath) -> dict[str, str]:
    """This process's variables for the store `root` is on (AWS_* with AWS_ENDPOINT_URL, ...),
    for workers that do not inherit them; nothing for a local root. Never to be logged nor
    recorded."""
    if not isinstance(root, RemotePath):
        return {}
    prefixes = ENVIRONMENT.get(root.protocol, ())
    return {k: v for k, v in os.environ.items() if k.startswith(prefixes)}


def remove_tree(path: Path | RemotePath) -> None:
    """Remove a folder and everything under it; nothing if it is not there."""
    if isinstance(path, RemotePath):
        if path.fs.exists(path.key):
            path.fs.rm(path.key, recursive=True)
        return
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["ATOMIC_PUT", "ENVIRONMENT", "PACKAGES", "RemotePath", "StorageError",
           "arrow_filesystem",
           "as_path", "duckdb_files", "filesystem", "is_remote", "is_url", "local_file",
           "open_file", "parquet_file", "path_str", "read_schema", "read_table", "relative_to",
           "remove_tree", "replace", "store_environment", "walk_files"]
