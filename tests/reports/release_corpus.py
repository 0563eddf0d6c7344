"""Small release folders for the release-library tests: rows, shards, manifest, side files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.atomic import write_table_atomic
from reports.manifest import DECISIONS_NAME, EXCLUDED_NAME, FORMAT, write_manifest
from reports.release_files import ReleaseFile, ReleaseFiles, ReleaseShardWriter

WORDS = ["data", "catalog", "licence", "naïve", "Grüße", "東京", "consent", "shard", "🙂", "x"]


def make_rows(n: int = 40, *, prefix: str = "web") -> list[dict[str, Any]]:
    rows = []
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    for i in range(n):
        words = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(5 + (i * 13) % 40)]
        rows.append({
            "id": f"{prefix}/{i:05d}",
            "text": " ".join(words) + f" #{i}",
            "source": prefix if i % 3 else "code",
            "url": f"https://example.org/{prefix}/{i}",
            "license": ["CC-BY-4.0", "MIT", "Apache-2.0"][i % 3],
            "language": "en" if i % 4 else "de",
            "n_tokens": len(words) + 1,
            "collected_at": None if i % 11 == 0 else start + timedelta(minutes=i),
            "metadata": {"rank": i, "tags": ["a", "b"][: i % 3]},
        })
    return rows


def _side_file(release: Path, name: str, kind: str) -> ReleaseFile:
    table = pa.table({"id": ["web/00001"], "reason": [kind]})
    written = write_table_atomic(table, release / name)
    return ReleaseFile(path=name, kind=kind, sha256=written.sha256, bytes=written.n_bytes,
                       documents=1, tokens=0)


def cut_release(release: Path, rows: list[dict[str, Any]] | None = None, *,
                shard_bytes: int = 1500, row_group_rows: int = 8) -> tuple[ReleaseFiles, dict]:
    """Write a complete release folder as the catalog would; returns its files and manifest."""
    rows = make_rows() if rows is None else rows
    with ReleaseShardWriter(release, shard_bytes=shard_bytes,
                            row_group_rows=row_group_rows) as writer:
        for row in rows:
            writer.add(row)
        files = writer.finish()
    entries = [*files.files, _side_file(release, DECISIONS_NAME, "decisions"),
               _side_file(release, EXCLUDED_NAME, "excluded")]
    manifest = {
        "format": FORMAT,
        "name": "demo",
        "version": "1.0.0",
        "description": "a test release",
        "files": [e.to_dict() for e in entries],
        "documents": files.documents,
        "tokens": files.tokens,
        "bytes": files.text_bytes,
        "merkle": files.merkle(),
    }
    write_manifest(release, manifest)
    return files, manifest
