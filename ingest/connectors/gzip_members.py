"""Record-per-member gzip files (.warc.gz, .arc.gz): finding members, checking the file's end.

Web archives compress each record as its own gzip member, so a reader that loses its place
(bad bytes) resumes at the next member, and a file cut short shows as a last member that
never ends. Both web-archive readers (`ingest.connectors.warc`, `ingest.connectors.arc`)
use these, with their own test of what a member must inflate to.
"""

from __future__ import annotations

import mmap
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.types import Quarantined

GZIP_MAGIC = b"\x1f\x8b\x08"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(3) == GZIP_MAGIC


def inflate_head(data: bytes, size: int) -> bytes | None:
    """The first `size` inflated bytes of the gzip member `data` starts with, or None."""
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(data, size)
    except zlib.error:
        return None


def next_member(
    mm: mmap.mmap, position: int, accept: Callable[[bytes], bool] | None = None
) -> int | None:
    """Offset of the next gzip member at or after `position`.

    With `accept`, only a member whose inflated start it accepts counts (a record header,
    not gzip magic bytes that happen to sit inside compressed data).
    """
    while True:
        found = mm.find(GZIP_MAGIC, position)
        if found < 0:
            return None
        if accept is None:
            return found
        head = inflate_head(mm[found : found + 8192], 2048)
        if head is not None and accept(head):
            return found
        position = found + 1


def check_end(path: Path, member_start: int, *, corrupt: str) -> Iterator[Quarantined]:
    """Check what a reader passes over without complaint at the end of a gzip file.

    A last member that lost its trailer, or a member cut so short that it holds no complete
    record header, ends the readers' iteration silently; inflate the tail to see.
    `member_start` is the offset of the last member the reader read a record from.
    """
    file = str(path)
    with path.open("rb") as fh:
        fh.seek(member_start)
        if fh.read(3) != GZIP_MAGIC:
            return  # whole-file gzip: offsets are not member starts, nothing cheap to do
        fh.seek(member_start)
        position, fed = member_start, 0  # current member's start, bytes fed to it
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        data = b""
        while True:
            if not data:
                data = fh.read(1 << 20)
                if not data:
                    break
            try:
                inflater.decompress(data, 1 << 20)  # only whether it ends matters
            except zlib.error as exc:
                yield Quarantined(corrupt, file, str(position), f"{type(exc).__name__}: {exc}")
                return
            if inflater.eof:
                position += fed + len(data) - len(inflater.unused_data)
                data, fed = inflater.unused_data, 0
                inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:
                fed += len(data) - len(inflater.unconsumed_tail)
                data = inflater.unconsumed_tail
    if fed:
        detail = (
            "the last gzip member ends without its trailer (file cut short)"
            if position == member_start
            else "a gzip member at the end of the file is cut short"
        )
        yield Quarantined("truncated-gzip", file, str(position), detail)
