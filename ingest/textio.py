"""Reading raw bytes safely: compressed streams, bounded lines, text decoding, sorted walks.

Shared by the line-oriented connectors (`reddit_v1`, `jsonl_v1`) and the file-oriented ones
(`gutenberg_v1`, `code_v1`). Nothing here holds more than one line (bounded by
`max_line_bytes`) or one file in memory, and every failure comes back as a `Quarantined`
item with a location rather than an exception, so one bad record never stops an ingest.

Exception tree (user errors: raised, never turned into items)::

    ValueError
    └── InputError            a path or option the user gave cannot be used
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ingest.types import Quarantined

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DecodedText",
    "InputError",
    "JsonRecord",
    "Line",
    "decode_text",
    "iter_files",
    "iter_json_lines",
    "iter_lines",
    "open_compressed",
    "outside_root",
    "parse_timestamp",
]

DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024
_DRAIN_CHUNK = 1024 * 1024
# Pushshift dumps were compressed with a 2 GiB window; the decoder refuses them by default.
_ZSTD_MAX_WINDOW = 2**31


class InputError(ValueError):
    """A path or option given to a connector cannot be used (missing, wrong kind, bad value)."""


# ---------------------------------------------------------------- files and streams


def iter_files(root: Path, suffixes: Iterable[str]) -> Iterator[tuple[Path, bool]]:
    """Yield `(file, matches)` for every regular file under `root`, sorted by relative path.

    `matches` tells whether the name ends with one of `suffixes` (case-insensitive), so the
    caller can count the others as skipped instead of losing them silently. A file `root`
    yields itself.
    """
    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    wanted = tuple(s.lower() for s in suffixes)
    if root.is_file():
        yield root, root.name.lower().endswith(wanted)
        return
    found: list[tuple[str, Path]] = []
    # Directory symlinks are not descended (loops, and a tree that changes under a resume);
    # file symlinks are listed, as dataset caches (e.g. Hugging Face's) are made of them, and
    # the connectors read only those that stay inside `root` (`outside_root`).
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in filenames:
            path = base / name
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    for _, path in sorted(found):
        yield path, path.name.lower().endswith(wanted)


def outside_root(file: Path, root: Path, *, location: str = "") -> Quarantined | None:
    """A `path-escape` quarantine when `file` resolves (through symlinks or `..`) outside
    `root`, the input the user named; None when it stays inside.

    Every connector that walks a folder asks this before it opens a file, so a link to
    /etc/passwd left in a dataset folder is never read. A dataset cache made of links into a
    sibling folder (Hugging Face's snapshots/ -> blobs/) is read by naming the folder that
    holds both.
    """
    resolved = file.resolve()
    base = root.resolve()
    if resolved.is_relative_to(base):
        return None
    return Quarantined("path-escape", str(file), location or file.name,
                       f"resolves outside the input {base} to {resolved}")


def open_compressed(path: Path) -> IO[bytes]:
    """Open `path` for binary reading, decompressing `.gz` and `.zst` transparently."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise InputError(
                f"{path}: reading .zst needs the optional package 'zstandard' "
                "(pip install zstandard)"
            ) from None
        raw = path.open("rb")
        reader = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW).stream_reader(
            raw, closefd=True
        )
        return io.BufferedReader(reader)  # type: ignore[arg-type]
    return path.open("rb")


def _stream_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [EOFError, OSError, zlib.error]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


def _stream_failure(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated-compressed"  # gzip: "Compressed file ended before the end-of-stream"
    return "corrupt-compressed"


@dataclass(slots=True, frozen=True)
class Line:
    """One physical line (without its newline), or a marker that it was too long to keep."""

    number: int  # 1-based
    data: bytes | None  # None when the line exceeded the limit and was skipped
    size: int  # bytes in the line, counted even when skipped


def iter_lines(
    stream: IO[bytes], *, file: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Line | Quarantined]:
    """Yield each line of `stream`, holding at most `max_line_bytes` (+1 MiB) in memory.

    A longer line is read through in chunks and dropped (`Line.data is None`); a stream that
    breaks off (truncated or corrupt compression, I/O error) ends with one `Quarantined`.
    """
    if max_line_bytes <= 0:
        raise InputError(f"{file}: max_line_bytes must be positive, got {max_line_bytes}")
    number = 0
    try:
        while True:
            chunk = stream.readline(max_line_bytes + 1)
            if not chunk:
                return
            number += 1
            if len(chunk) <= max_line_bytes or chunk.endswith(b"\n"):
                yield Line(number, chunk.rstrip(b"\r\n"), len(chunk))
                continue
            size = len(chunk)
            del chunk
            while True:
                rest = stream.readline(_DRAIN_CHUNK)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Line(number, None, size)
    except _stream_errors() as exc:
        yield Quarantined(
            reason=_stream_failure(exc),
            file=file,
            location=f"line {number + 1}",
            detail=f"stream ended: {exc}",
        )


# ---------------------------------------------------------------- JSON lines


@dataclass(slots=True, frozen=True)
class JsonRecord:
    line: int
    value: dict[str, Any]


def iter_json_lines(
    path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[JsonRecord | Quarantined]:
    """Yield each JSON object of a JSON-lines file (plain, .gz or .zst).

    Blank lines are not records and are passed over. Every other line is either a
    `JsonRecord` or a `Quarantined` with reason `line-too-long`, `invalid-utf8`, `bad-json`
    or `not-an-object`; a broken stream ends with `truncated-compressed` /
    `corrupt-compressed`.
    """
    file = str(path)
    with open_compressed(path) as stream:
        for item in iter_lines(stream, file=file, max_line_bytes=max_line_bytes):
            if isinstance(item, Quarantined):
                yield item
                return
            where = f"line {item.number}"
            if item.data is None:
                yield Quarantined(
                    "line-too-long",
                    file,
                    where,
                    f"{item.size} bytes > max_line_bytes={max_line_bytes}",
                )
                continue
            data = item.data
            if item.number == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            if not data.strip():
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Quarantined("invalid-utf8", file, where, f"byte {exc.start}: {exc.reason}")
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Quarantined("bad-json", file, where, f"column {exc.colno}: {exc.msg}")
                continue
            if not isinstance(value, dict):
                yield Quarantined("not-an-object", file, where, f"a JSON {type(value).__name__}")
                continue
            yield JsonRecord(item.number, value)


# ---------------------------------------------------------------- text decoding


@dataclass(slots=True, frozen=True)
class DecodedText:
    text: str
    encoding: str  # Python codec name: "utf-8", "utf-8-sig", "cp1252", "latin_1", ...


# When charset-normalizer finds several single-byte code pages equally plausible (cp1250,
# cp1252 and cp1257 share most printable bytes), the Western ones are by far the likeliest in
# the English-centric sources we read, and picking cp1250 would turn "naïve" into "naďve".
_PREFERRED_ON_TIE = ("cp1252", "latin_1", "iso8859_15")


def decode_text(data: bytes, *, detect: bool = True) -> DecodedText | None:
    """Decode bytes as UTF-8 (with or without BOM), else as charset-normalizer's best guess.

    Returns None when nothing decodes them (binary data). With `detect=False` only UTF-8 is
    tried.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return DecodedText(data[3:].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError:
            pass
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        if not detect:
            return None
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    tied = [m for m in results if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    for name in _PREFERRED_ON_TIE:
        if any(name in m.could_be_from_charset for m in tied):
            try:
                return DecodedText(data.decode(name), name)
            except UnicodeDecodeError:
                continue
    return DecodedText(str(best), best.encoding)


# ---------------------------------------------------------------- dates


def parse_timestamp(value: Any) -> datetime | None:
    """Read a date as Unix seconds (int, float or digits) or ISO 8601; naive means UTC.

    None and "" give None; anything else unreadable raises ValueError.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if not isinstance(value, str):
            raise ValueError(f"not a date: {value!r}")
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            pass
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"date out of range: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
