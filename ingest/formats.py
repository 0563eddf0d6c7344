"""Which connector reads a path by default, from the source's kind and the file name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

DEFAULT_FORMATS: dict[str, Sequence[tuple[str, str]]] = {
    # source kind -> (file suffix, format); "" matches anything (directories too)
    "web-crawl": ((".wet", "warc_v1"), (".wet.gz", "warc_v1"), (".jsonl", "jsonl_v1"),
                  (".jsonl.gz", "jsonl_v1"), (".parquet", "parquet_v1"), ("", "warc_v1")),
    "books": ((".jsonl", "jsonl_v1"), (".parquet", "parquet_v1"), ("", "gutenberg_v1")),
    "code": ((".jsonl", "jsonl_v1"), (".parquet", "parquet_v1"), ("", "code_v1")),
    "forum": ((".xml", "stackexchange_v1"), (".jsonl", "reddit_v1"), (".jsonl.gz", "reddit_v1"),
              (".jsonl.zst", "reddit_v1"), ("", "stackexchange_v1")),
}


def default_format(kind: str, path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in DEFAULT_FORMATS.get(kind, ()):
        if not suffix or name.endswith(suffix):
            return fmt
    if name.endswith(".parquet"):
        return "parquet_v1"
    return "jsonl_v1"
