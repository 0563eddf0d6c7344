"""Every path under the data root, in one place (docs/architecture.md, "The data root").

    <home>/catalog.db                                   the embedded SQLite catalog (default)
    <root>/shards/<source>/run-NNNNNN/docs-NNNNN.parquet document shards, per ingest run
    <root>/attributes/run-NNNNNN/<stage>/shard-NNNNNN.parquet
                                                        one attribute shard per document shard
    <root>/attributes/run-NNNNNN/dedup/dedup.parquet     dedup clusters of the whole run
    <root>/attributes/run-NNNNNN/spill/                  a run's working files (flat memory;
                                                         <home>/spill/run-NNNNNN/ for a store)
    <root>/decisions/run-NNNNNN/<stage>.parquet          the decision log of a run's stage
    <root>/dedup-index/                                  signatures of released documents
    <root>/decontam/<set>/<file sha>-<n>gram.npy         an evaluation set's hashed n-grams
    <root>/releases/<name>/<version>/                    a release (docs/release-format.md)
    <home>/cache/licences/                               scancode results by file hash
    <home>/locks/                                        lock files (SQLite catalogs only)
    <home>/web-secret.key                                signs the web sessions (0600)

Catalog rows store paths relative to the root (`Layout.relative`), so a data root can move.

The data root may be an object store (`--data-root s3://bucket/prefix`, a
`common.storage.RemotePath`; docs/object-storage.md). What only this machine uses stays in the
local home (`--home`): the SQLite catalog, logs, locks, the licence cache and the web secret.
With a local data root both are the same folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.storage import RemotePath, StorageError, relative_to


def _run(run_id: int) -> str:
    return f"run-{run_id:06d}"


@dataclass(frozen=True)
class Layout:
    root: Path | RemotePath
    home: Path | None = None  # local files; the root itself when None and the root is local

    @property
    def local(self) -> Path:
        if self.home is not None:
            return self.home
        if isinstance(self.root, RemotePath):
            raise StorageError(f"a data root on {self.root.protocol}:// needs a local home "
                               "(--home) for locks and caches")
        return self.root

    # ------------------------------------------------------------------ ingest
    def source_shards(self, slug: str) -> Path | RemotePath:
        return self.root / "shards" / slug

    def document_shard(self, slug: str, run_id: int, seq: int) -> Path:
        return self.source_shards(slug) / _run(run_id) / f"docs-{seq:05d}.parquet"

    # ------------------------------------------------------------------ processing
    def run_attributes(self, run_id: int) -> Path:
        return self.root / "attributes" / _run(run_id)

    def attribute_shard(self, run_id: int, stage: str, shard_id: int) -> Path:
        return self.run_attributes(run_id) / stage / f"shard-{shard_id:06d}.parquet"

    def dedup_attributes(self, run_id: int) -> Path:
        return self.run_attributes(run_id) / "dedup" / "dedup.parquet"

    def run_spill(self, run_id: int, name: str) -> Path:
        """A run's working files that keep its memory flat (per-shard decisions and survivors,
        dedup band partitions); rewritten when the run resumes. With the data root on a store
        they stay on the local home: streamed, merged and memory-mapped, never shared."""
        return self._spill_root(run_id) / name

    def _spill_root(self, run_id: int) -> Path:
        if isinstance(self.root, RemotePath):
            return self.local / "spill" / _run(run_id)
        return self.run_attributes(run_id) / "spill"

    def run_decisions(self, run_id: int) -> Path:
        return self.root / "decisions" / _run(run_id)

    def decision_log(self, run_id: int, stage: str) -> Path:
        return self.run_decisions(run_id) / f"{stage}.parquet"

    def run_dirs(self, run_id: int) -> tuple[Path | RemotePath, ...]:
        """Folders only this run writes into (its temporary files are cleaned up there)."""
        shards = self.root / "shards"
        ingest = tuple(sorted(shards.glob(f"*/{_run(run_id)}"))) if shards.is_dir() else ()
        local = (self._spill_root(run_id),) if isinstance(self.root, RemotePath) else ()
        return (self.run_attributes(run_id), self.run_decisions(run_id), *ingest, *local)

    @property
    def dedup_index(self) -> Path:
        return self.root / "dedup-index"

    def decontam_index(self, name: str, file_sha256: str, n: int) -> Path:
        """The hashed n-grams of an evaluation set (`govcat decontam add`), built once."""
        return self.root / "decontam" / name / f"{file_sha256[:16]}-{n}gram.npy"

    # ------------------------------------------------------------------ releases
    @property
    def releases(self) -> Path:
        return self.root / "releases"

    def release(self, name: str, version: str) -> Path:
        return self.releases / name / version

    def release_staging(self, name: str, version: str) -> Path:
        """Where a cut is written before it is renamed into place (hidden from listings)."""
        return self.releases / name / f".{version}.staging"

    # ------------------------------------------------------------------ caches and locks
    @property
    def licence_cache(self) -> Path:
        return self.local / "cache" / "licences"

    @property
    def locks(self) -> Path:
        return self.local / "locks"

    @property
    def web_secret(self) -> Path:
        return self.local / "web-secret.key"

    # ------------------------------------------------------------------ helpers
    def relative(self, path: Path | RemotePath) -> str:
        return relative_to(path, self.root)

    def absolute(self, relative: str) -> Path | RemotePath:
        return self.root / relative
