"""Cutting a release: the documents a completed processing run keeps, as a verifiable folder.

    cut(catalog, run_id=12, name="web-en", version="1.0.0")

1. the kept documents are those the run's last stage (pii) let pass — keep or redact;
2. opt-out requests received up to the cut leave out the documents they match (listed in
   `excluded.parquet` with the request ids; the manifest says up to when they were honoured);
3. the text is read from the document shards, each checked against the sha256 the catalog
   recorded, joined in id order by DuckDB; the spans the pii stage decided to redact are
   replaced with their placeholders;
4. reports/release_files.py writes the text shards and index (deterministic), the run's
   decision log and the exclusions are copied in, and the manifest is written last;
5. the folder, built under a hidden staging name, is renamed into place, and only then are the
   release, its files and its members recorded in the catalog (one transaction, COPY on
   Postgres) and its documents added to the dedup index.

A `kill -9` anywhere leaves no release: before the rename there is only the staging folder;
after it, a folder the catalog does not know, which the next cut of the same name and version
removes and writes again — byte for byte the same, because the cut time and audit head are
kept in the cut's run record and reused. See docs/release-format.md.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from catalog.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound
from catalog.index_writer import copy_rows
from catalog.models import (
    AuditHead,
    Document,
    Release,
    ReleaseExclusion,
    ReleaseFile,
    ReleaseMember,
    Run,
    Shard,
    Source,
    StoredPolicy,
    utcnow,
)
from catalog.runs import RunLifecycle, decision_logs
from catalog.services.facts import OptOutMatcher
from catalog.services.integrity import check_document_shards
from catalog.services.sources import source_record
from catalog.timeutil import as_utc, iso_utc
from common.atomic import file_sha256, write_table_atomic
from ingest.documents import count_tokens
from policies import decision_log
from policies.taxonomy import load_taxonomy

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
VERSION = re.compile(r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")
PASSING = ("keep", "redact")
Progress = Callable[[str, int], None]


@dataclass
class CutResult:
    name: str
    version: str
    path: Path
    run_id: int
    documents: int
    tokens: int
    excluded: int
    merkle_root: str
    created: bool  # False when the same release was already cut
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"release": f"{self.name}@{self.version}", "path": str(self.path),
                "run": self.run_id, "documents": self.documents, "tokens": self.tokens,
                "excluded": self.excluded, "merkle_root": self.merkle_root,
                "created": self.created}


def check_name(name: str, version: str) -> None:
    if not NAME.fullmatch(name or ""):
        raise InvalidInput(f"release name {name[:120]!r}: use 1-100 characters of a-z, 0-9, "
                           "'.', '_', '-', starting with a letter or digit")
    if not VERSION.fullmatch(version or ""):
        raise InvalidInput(f"release version {version[:60]!r}: use MAJOR.MINOR.PATCH, "
                           "e.g. 1.0.0")


def latest_run(catalog) -> int:
    """The newest completed processing run (what `release cut latest` releases)."""
    with catalog.session() as s:
        run_id = s.execute(select(Run.id).where(Run.kind == "process",
                                                Run.status == "completed")
                           .order_by(Run.id.desc())).scalars().first()
    if run_id is None:
        raise NotFound("no completed processing run yet (`govcat run POLICY` makes one)")
    return run_id


def _completed_run(session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.kind != "process":
        raise NotFound(f"no processing run {run_id} (`govcat run POLICY` makes one)")
    if run.status != "completed":
        raise InvalidInput(f"run {run_id} is {run.status}: only a completed run can be "
                           "released; run the same `govcat run` command again to finish it")
    return run


class _Cut:
    def __init__(self, catalog, *, run_id: int, name: str, version: str,
                 description: str | None, shard_bytes: int | None,
                 progress: Progress | None):
        self.catalog = catalog
        self.layout = catalog.layout
        self.run_id = run_id
        self.name = name
        self.version = version
        self.description = description
        self.shard_bytes = shard_bytes
        self.progress = progress

    # ------------------------------------------------------------------ inputs
    def _load(self, session) -> None:
        self.run = _completed_run(session, self.run_id)
        self.logs = decision_logs(session, self.run)
        pii = [p for s, p in self.logs if s == "pii"]
        if not pii:
            raise InvalidInput(f"run {self.run_id} has no pii decisions; it cannot be released")
        table = decision_log.read(self.layout.absolute(pii[0]), columns=[
            "id", "effect", "redact", "placeholder", "redact_spans"]).to_pydict()
        self.redactions: dict[str, tuple[list[str], str, list[dict]]] = {}
        kept: list[str] = []
        for i, effect in enumerate(table["effect"]):
            if effect not in PASSING:
                continue
            doc_id = table["id"][i]
            kept.append(doc_id)
            spans = (table.get("redact_spans") or [None] * len(table["id"]))[i] or []
            if effect == "redact" and spans:
                self.redactions[doc_id] = (table["redact"][i] or [],
                                           (table.get("placeholder") or [None])[i]
                                           or "|||{type}|||", spans)
        self.index: dict[str, tuple] = {}
        for start in range(0, len(kept), 5000):
            chunk = kept[start:start + 5000]
            for row in session.execute(select(
                    Document.id, Document.source_id, Document.url, Document.host,
                    Document.concluded_license, Document.declared_license, Document.n_tokens,
                    Document.collected_at, Document.shard_id, Document.content_sha256)
                    .where(Document.id.in_(chunk))):
                self.index[row[0]] = tuple(row[1:])
        missing = [d for d in kept if d not in self.index]
        if missing:
            raise IntegrityError(f"run {self.run_id} keeps {len(missing)} document(s) the "
                                 f"index no longer holds, e.g. {missing[0]}")
        self.kept = kept
        self.sources = {s.id: s for s in session.execute(select(Source)).scalars()}
        self.policy = session.get(StoredPolicy, self.run.policy_id)
        shard_ids = sorted({v[7] for v in self.index.values() if v[7] is not None})
        self.shards = {sh.id: sh for sh in session.execute(
            select(Shard).where(Shard.id.in_(shard_ids))).scalars()}
        self.languages = self._languages(session)

    def _languages(self, session) -> dict[str, str]:
        paths = session.execute(select(Shard.path).where(
            Shard.run_id == self.run_id, Shard.kind == "attributes",
            Shard.stage == "langid")).scalars().all()
        if not paths:
            return {}
        import duckdb

        files = [str(self.layout.absolute(p)) for p in paths]
        rows = duckdb.connect().execute(
            "select id, lang from read_parquet(?, union_by_name=true)", [files]).fetchall()
        return dict(rows)

    def _optouts(self, session, as_of: datetime) -> dict[str, list[str]]:
        matcher = OptOutMatcher.load(session, as_of=as_of)
        if not matcher:
            return {}
        out = {}
        for doc_id in self.kept:
            _, url, host, *_, sha = self.index[doc_id]
            ids = matcher.match(doc_id=doc_id, host=host, url=url, content_sha256=sha)
            if ids:
                out[doc_id] = sorted(set(ids), key=lambda r: int(r.split("-")[1]))
        return out

    # ------------------------------------------------------------------ writing
    def _texts(self, ids: Sequence[str]):
        """(id, text) of `ids` in id order, read from the document shards by DuckDB."""
        import duckdb
        import pyarrow as pa

        if not ids:
            return
        shard_ids = {self.index[d][7] for d in ids}
        files = sorted(str(self.layout.absolute(self.shards[i].path)) for i in shard_ids)
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        wanted = pa.table({"id": pa.array(sorted(ids), pa.string())})
        con.register("wanted", wanted)
        reader = con.sql(
            "select d.id, d.text from read_parquet($files) d join wanted w on d.id = w.id "
            "order by d.id", params={"files": files}).to_arrow_reader(4096)
        for batch in reader:
            cols = batch.to_pydict()
            yield from zip(cols["id"], cols["text"], strict=True)

    def _write(self, staging: Path, released: list[str]) -> dict[str, Any]:
        from processing.stages.pii import redact
        from reports.release_files import DEFAULT_SHARD_BYTES, ReleaseShardWriter

        taxonomy = load_taxonomy()
        counts: dict[str, Counter] = {k: Counter() for k in (
            "by_source", "by_license", "by_license_class", "by_language", "by_host")}
        tokens_by: dict[str, Counter] = {k: Counter() for k in counts}
        redacted: Counter = Counter()
        classes: dict[str | None, str] = {}
        self.released_tokens: dict[str, int] = {}  # only where redaction changed the count
        seen = 0
        with ReleaseShardWriter(staging, shard_bytes=self.shard_bytes
                                or DEFAULT_SHARD_BYTES) as writer:
            for doc_id, text in self._texts(released):
                source_id, url, host, concluded, declared, n_tokens, collected, *_ = (
                    self.index[doc_id])
                metadata: dict[str, Any] = {"host": host, "declared_license": declared}
                if doc_id in self.redactions:
                    types, placeholder, spans = self.redactions[doc_id]
                    text = redact(text, spans, types, placeholder, doc_id=doc_id)
                    per_type = Counter(s["type"] for s in spans)
                    redacted.update(per_type)
                    metadata["redacted"] = dict(sorted(per_type.items()))
                    n_tokens = count_tokens(text)
                    self.released_tokens[doc_id] = n_tokens
                slug = self.sources[source_id].slug
                licence = concluded or declared
                language = self.languages.get(doc_id)
                writer.add({"id": doc_id, "text": text, "source": slug, "url": url,
                            "license": licence, "language": language,
                            "n_tokens": int(n_tokens or 0), "collected_at": as_utc(collected),
                            "metadata": metadata})
                klass = classes.get(licence)
                if klass is None:
                    klass = classes[licence] = taxonomy.classify(
                        licence or "LicenseRef-Unknown").use
                for key, value in (("by_source", slug), ("by_license", licence or "(none)"),
                                   ("by_license_class", klass),
                                   ("by_language", language or "(unknown)"),
                                   ("by_host", host or "(none)")):
                    counts[key][value] += 1
                    tokens_by[key][value] += int(n_tokens or 0)
                seen += 1
                if self.progress and seen % 1000 == 0:
                    self.progress("write", 1000)
            files = writer.finish()
        if self.progress:
            self.progress("write", seen % 1000)
        if seen != len(released):
            raise IntegrityError(f"read {seen} of {len(released)} kept documents from their "
                                 "shards; run `govcat verify --deep`")
        summary = {k: {v: {"documents": counts[k][v], "tokens": tokens_by[k][v]}
                       for v in sorted(counts[k])} for k in counts}
        return {"files": files, "counts": summary, "redacted": dict(sorted(redacted.items()))}

    def _decisions_file(self, staging: Path) -> Any:
        import pyarrow as pa

        tables = []
        for _, path in self.logs:
            table = decision_log.read(self.layout.absolute(path))
            for name in decision_log.COLUMNS:  # logs older than a column get nulls
                if name not in table.column_names:
                    table = table.append_column(name, pa.nulls(table.num_rows))
            tables.append(table.select(list(decision_log.COLUMNS))
                          .cast(decision_log.schema()))
        table = (pa.concat_tables(tables) if tables
                 else decision_log.schema().empty_table())
        return write_table_atomic(table, staging / "decisions.parquet", row_group_size=65536)

    def _excluded_file(self, staging: Path, excluded: dict[str, list[str]]) -> Any:
        import pyarrow as pa

        ids = sorted(excluded)
        table = pa.table({
            "id": pa.array(ids, pa.string()),
            "reason": pa.array(["optout"] * len(ids), pa.string()),
            "request_ids": pa.array([excluded[i] for i in ids], pa.list_(pa.string())),
        })
        return write_table_atomic(table, staging / "excluded.parquet")

    # ------------------------------------------------------------------ main
    def run(self) -> CutResult:
        from reports.manifest import FORMAT, canonical_sha256, write_manifest

        check_name(self.name, self.version)
        final = self.layout.release(self.name, self.version)
        with self.catalog.session() as session:
            self._load(session)
            existing = session.execute(select(Release).where(
                Release.name == self.name, Release.version == self.version)).scalars().first()
        if existing is not None and existing.run_id != self.run_id:
            raise AlreadyExists(f"release {self.name}@{self.version} exists, cut from run "
                                f"{existing.run_id}; pick a new version")
        key = {"release": f"{self.name}@{self.version}", "run": self.run_id}
        with RunLifecycle(self.catalog, kind="release", lock=f"release:{self.name}@"
                          f"{self.version}", resume_key=key, policy_id=self.run.policy_id,
                          config={"description": self.description}) as life:
            if "created_at" not in life.config:  # fixed at the first attempt: a rerun of a
                with self.catalog.session() as s:  # killed cut writes the same bytes
                    head = s.get(AuditHead, 1)
                life.set_config(created_at=iso_utc(utcnow()),
                                audit_head={"seq": head.seq if head else 0,
                                            "hash": head.hash if head else ""})
            created_at = datetime.fromisoformat(life.config["created_at"])
            with self.catalog.session() as session:
                excluded = self._optouts(session, created_at)
            released = [d for d in self.kept if d not in excluded]
            check_document_shards(self.catalog, self.shards.values())
            staging = self.layout.release_staging(self.name, self.version)
            shutil.rmtree(staging, ignore_errors=True)  # a killed attempt's, under our lock
            staging.mkdir(parents=True)
            written = self._write(staging, released)
            files = written["files"]
            extra = [("decisions", self._decisions_file(staging)),
                     ("excluded", self._excluded_file(staging, excluded))]
            entries = [f.to_dict() for f in files.files] + [
                {"path": Path(w.path).name, "kind": kind, "sha256": w.sha256,
                 "bytes": w.n_bytes, "documents": w.n_rows, "tokens": 0}
                for kind, w in extra]
            manifest = self._manifest(FORMAT, canonical_sha256, life, files, written,
                                      entries, excluded)
            write_manifest(staging, manifest)
            manifest_sha = file_sha256(staging / "manifest.json")
            if existing is not None:
                same = (existing.merkle_root == files.merkle_root and self._same_files(
                    session_files=existing.id, entries=entries))
                shutil.rmtree(staging, ignore_errors=True)
                if not same:
                    raise AlreadyExists(
                        f"release {self.name}@{self.version} exists with other content (opt-"
                        "outs or shards changed since); cut a new version")
                self._ensure_dedup_index(existing.id)
                life.stats = {"already_cut": True}
                return CutResult(self.name, self.version, final, self.run_id,
                                 existing.documents, existing.tokens, len(excluded),
                                 existing.merkle_root, False)
            if final.exists():  # renamed into place by a killed cut, never recorded
                shutil.rmtree(final)
            _fsync_tree(staging)
            os.rename(staging, final)
            release_id = self._record(life, final, manifest, manifest_sha, files, entries,
                                      released, excluded, created_at)
            self._ensure_dedup_index(release_id)
            life.stats = {"documents": files.documents, "tokens": files.tokens,
                          "excluded": len(excluded)}
            life.end_audit = {"release": f"{self.name}@{self.version}",
                              "documents": files.documents, "merkle_root": files.merkle_root}
        return CutResult(self.name, self.version, final, self.run_id, files.documents,
                         files.tokens, len(excluded), files.merkle_root, True, manifest)

    def _manifest(self, fmt, canonical_sha256, life, files, written, entries, excluded):
        from catalog.versioning import code_version

        run = self.run
        applied: dict[str, int] = Counter(r for ids in excluded.values() for r in ids)
        with self.catalog.session() as s:
            from catalog.models import OptOutRequest

            requests = {f"optout-{r.id}": r for r in s.execute(select(OptOutRequest)).scalars()}
        config = {k: v for k, v in (run.config or {}).items() if k != "owner"}
        source_ids = sorted({v[0] for v in self.index.values()})
        return {
            "format": fmt,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "created_at": life.config["created_at"],
            "run": {"id": run.id, "gate_run": run.config.get("gate_run"),
                    "status": run.status},
            "policy": {"name": self.policy.name, "version": self.policy.version,
                       "sha256": self.policy.sha256},
            "code_version": code_version(),
            "config_sha256": canonical_sha256(config),
            "models": (run.stats or {}).get("models", {}),
            "sources": [{"slug": self.sources[i].slug,
                         "record_sha256": canonical_sha256(source_record(self.sources[i]))}
                        for i in sorted(source_ids, key=lambda i: self.sources[i].slug)],
            "files": entries,
            "documents": files.documents,
            "tokens": files.tokens,
            "bytes": files.text_bytes,
            "counts": written["counts"],
            "redacted": written["redacted"],
            "funnel": (run.stats or {}).get("funnel", []),
            "optouts": {
                "honoured_up_to": life.config["created_at"],
                "excluded_documents": len(excluded),
                "applied": [{"request": rid, "kind": requests[rid].kind,
                             "value": requests[rid].value, "documents": n}
                            for rid, n in sorted(applied.items(),
                                                 key=lambda kv: int(kv[0].split("-")[1]))],
            },
            "audit_head": life.config["audit_head"],
            "merkle": files.merkle(),
        }

    def _same_files(self, *, session_files: int, entries: list[dict]) -> bool:
        with self.catalog.session() as s:
            stored = {(f.path, f.sha256) for f in s.execute(
                select(ReleaseFile).where(ReleaseFile.release_id == session_files)).scalars()}
        return stored == {(e["path"], e["sha256"]) for e in entries}

    def _record(self, life, final, manifest, manifest_sha, files, entries, released, excluded,
                created_at) -> int:
        import pyarrow.parquet as pq

        index = pq.read_table(final / "index.parquet", columns=["id", "content_sha256"])
        shas = dict(zip(index.column("id").to_pylist(),
                        index.column("content_sha256").to_pylist(), strict=True))
        with self.catalog.uow() as uow:
            release = Release(
                name=self.name, version=self.version, description=self.description,
                run_id=self.run_id, cut_run_id=life.run_id,
                path=self.layout.relative(final), manifest_sha256=manifest_sha,
                merkle_root=files.merkle_root, documents=files.documents,
                tokens=files.tokens, n_bytes=files.text_bytes,
                audit_seq=manifest["audit_head"]["seq"],
                audit_hash=manifest["audit_head"]["hash"], optouts_up_to=created_at,
                actor=uow.actor, created_at=created_at)
            uow.session.add(release)
            uow.session.flush()
            uow.session.execute(insert(ReleaseFile.__table__), [
                {"release_id": release.id, "path": e["path"], "kind": e["kind"],
                 "sha256": e["sha256"], "n_bytes": e["bytes"], "documents": e["documents"],
                 "tokens": e["tokens"]} for e in entries])
            copy_rows(uow.session, ReleaseMember.__table__, MEMBER_COPY_TYPES, (
                {"release_id": release.id, "document_id": d, "content_sha256": shas[d],
                 "n_tokens": self.released_tokens.get(d, int(self.index[d][5] or 0))}
                for d in released))
            if excluded:
                uow.session.execute(insert(ReleaseExclusion.__table__), [
                    {"release_id": release.id, "document_id": d, "reason": "optout",
                     "request_ids": ",".join(ids)} for d, ids in sorted(excluded.items())])
            uow.audit.record("release.cut", "release", f"{self.name}@{self.version}",
                             after={"run": self.run_id, "documents": files.documents,
                                    "tokens": files.tokens, "merkle_root": files.merkle_root,
                                    "manifest_sha256": manifest_sha,
                                    "excluded": len(excluded)})
            uow.commit()
            return release.id

    def _ensure_dedup_index(self, release_id: int) -> None:
        """Add the release's documents to the dedup index (those not in it yet), so later
        runs drop near-copies of what was released."""
        import numpy as np
        import pyarrow.parquet as pq

        from catalog.locks import NamedLock
        from catalog.services.process import SIGNATURE_COLUMN
        from processing.dedup import DedupIndex, DedupParams

        with self.catalog.session() as s:
            members = set(s.execute(select(ReleaseMember.document_id).where(
                ReleaseMember.release_id == release_id)).scalars())
            path = s.execute(select(Shard.path).where(
                Shard.run_id == self.run_id, Shard.kind == "attributes",
                Shard.stage == "dedup")).scalars().first()
        if not members or path is None:
            return
        attrs = self.layout.absolute(path)
        if SIGNATURE_COLUMN not in pq.read_schema(attrs).names:
            return  # a run from before signatures were kept: nothing to add from
        table = pq.read_table(attrs, columns=["id", SIGNATURE_COLUMN])
        params = DedupParams()
        with NamedLock(self.catalog, "dedup-index"):
            index = DedupIndex.open(self.layout.dedup_index, params)
            ids = table.column("id").to_pylist()
            present, _ = index.find_ids(ids) if len(index) else (np.array([], int), None)
            skip = {ids[int(i)] for i in present}
            chosen = [i for i, d in enumerate(ids) if d in members and d not in skip]
            if not chosen:
                return
            raw = table.column(SIGNATURE_COLUMN).to_pylist()
            sigs = np.frombuffer(b"".join(raw[i] for i in chosen), dtype="<u4").reshape(
                len(chosen), params.num_perm).astype(np.uint32)
            chosen_ids = [ids[i] for i in chosen]
            index.add(chosen_ids, [as_utc(self.index[d][6]) for d in chosen_ids], sigs,
                      [self.index[d][8] for d in chosen_ids])
            index.save(self.layout.dedup_index)


MEMBER_COPY_TYPES = (("release_id", "int4"), ("document_id", "text"),
                     ("content_sha256", "text"), ("n_tokens", "int8"))


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def cut(catalog, *, run_id: int, name: str, version: str, description: str | None = None,
        shard_bytes: int | None = None, progress: Progress | None = None) -> CutResult:
    return _Cut(catalog, run_id=run_id, name=name, version=version, description=description,
                shard_bytes=shard_bytes, progress=progress).run()


__all__ = ["CutResult", "check_name", "cut"]
