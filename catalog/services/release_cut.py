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

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from catalog.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound
from catalog.index_writer import copy_tuples
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
from catalog.timeutil import iso_utc
from common.atomic import file_sha256, write_table_atomic
from common.storage import as_path, duckdb_files, is_remote, read_schema, read_table, remove_tree
from ingest.documents import count_tokens
from policies import decision_log
from policies.taxonomy import load_taxonomy

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
VERSION = re.compile(r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")
PASSING = ("keep", "redact")
DEDUP_LOCK_WAIT = 3600.0  # seconds a cut waits for another cut's dedup index update
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
        import pyarrow as pa
        import pyarrow.compute as pc

        table = decision_log.read(self.layout.absolute(pii[0]), columns=[
            "id", "effect", "redact", "placeholder", "redact_spans"])
        kept = table.column("id").filter(
            pc.is_in(table.column("effect"), pa.array(PASSING))).to_pylist()
        self.redactions: dict[str, tuple[list[str], str, list[dict]]] = {}
        redacts = table.filter(pc.equal(table.column("effect"), "redact")).to_pylist()
        for row in redacts:
            if row["redact_spans"]:
                self.redactions[row["id"]] = (row["redact"] or [], row["placeholder"]
                                              or "|||{type}|||", row["redact_spans"])
        # Core rows, not ORM entities: the ORM's row loading costs more than the query.
        columns = Document.__table__.c
        query = select(columns.id, columns.source_id, columns.url, columns.host,
                       columns.concluded_license, columns.declared_license, columns.n_tokens,
                       columns.collected_at, columns.shard_id, columns.content_sha256)
        connection = session.connection()
        rows: list[Any] = []
        indexed = session.execute(select(func.coalesce(func.sum(Shard.n_docs), 0)).where(
            Shard.kind == "documents")).scalar_one()
        if len(kept) * 2 >= indexed:
            # Most of the index is kept: one scan is cheaper than a lookup per document, and
            # the driver's plain tuples cheaper than SQLAlchemy's rows (times stay as the
            # driver gives them: text on SQLite, parsed in bulk by `_timestamps`).
            wanted = set(kept)
            cursor = connection.connection.driver_connection.cursor()
            try:
                cursor.execute(str(query.compile(dialect=connection.dialect)))
                rows = [r for r in cursor.fetchall() if r[0] in wanted]
            finally:
                cursor.close()
        else:
            for start in range(0, len(kept), 5000):
                rows += connection.execute(query.where(columns.id.in_(
                    kept[start:start + 5000]))).all()
        self.index: dict[str, Any] = dict(zip([r[0] for r in rows], rows, strict=True))
        missing = [] if len(self.index) == len(set(kept)) else [
            d for d in kept if d not in self.index]
        if missing:
            raise IntegrityError(f"run {self.run_id} keeps {len(missing)} document(s) the "
                                 f"index no longer holds, e.g. {missing[0]}")
        self.kept = kept
        self.sources = {s.id: s for s in session.execute(select(Source)).scalars()}
        self.policy = session.get(StoredPolicy, self.run.policy_id)
        shard_ids = sorted({v[_SHARD] for v in rows if v[_SHARD] is not None})
        self.shards = {sh.id: sh for sh in session.execute(
            select(Shard).where(Shard.id.in_(shard_ids))).scalars()}
        self.language_files = [self.layout.absolute(p) for p in session.execute(
            select(Shard.path).where(Shard.run_id == self.run_id, Shard.kind == "attributes",
                                     Shard.stage == "langid")).scalars()]
        self.dedup_attributes = session.execute(select(Shard.path).where(
            Shard.run_id == self.run_id, Shard.kind == "attributes",
            Shard.stage == "dedup")).scalars().first()

    def _optouts(self, session, as_of: datetime) -> dict[str, list[str]]:
        matcher = OptOutMatcher.load(session, as_of=as_of)
        if not matcher:
            return {}
        out = {}
        for doc_id in self.kept:
            row = self.index[doc_id]
            url, host, sha = row[_URL], row[_HOST], row[_SHA]
            ids = matcher.match(doc_id=doc_id, host=host, url=url, content_sha256=sha)
            if ids:
                out[doc_id] = sorted(set(ids), key=lambda r: int(r.split("-")[1]))
        return out

    # ------------------------------------------------------------------ writing
    def _texts(self, ids: Sequence[str]) -> Iterator[Any]:
        """(id, text, language) batches of `ids` in id order: the text from the document
        shards, the language from the run's langid attributes, joined by DuckDB. The join and
        sort run when this is called (the first batch is read), so on a thread they overlap
        the work that comes before the writing."""
        import duckdb
        import pyarrow as pa

        if not ids:
            return iter(())
        con = duckdb.connect()
        files = duckdb_files(con, sorted(self.layout.absolute(sh.path)
                                         for sh in self.shards.values()))
        con.execute("SET preserve_insertion_order = false")
        con.register("wanted", pa.table({"id": pa.array(ids, pa.string())}))
        languages = ("select id, min(lang) as lang from read_parquet($langs, "
                     "union_by_name=true) group by id" if self.language_files
                     else "select null::varchar as id, null::varchar as lang limit 0")
        params: dict[str, Any] = {"files": files}
        if self.language_files:
            params["langs"] = duckdb_files(con, self.language_files)
        reader = con.sql(
            "select d.id, d.text, l.lang from read_parquet($files) d "
            f"join wanted w on d.id = w.id left join ({languages}) l on l.id = d.id "
            "order by d.id", params=params).to_arrow_reader(8192)
        first = next(iter(reader), None)
        return itertools.chain([] if first is None else [first], reader)

    def _columns(self, ids: list[str]) -> tuple[dict[str, Any], list[Any]]:
        """The released rows' columns but the text, from the catalog's index, in `ids` order,
        as Arrow arrays of the shard schema; and the hosts (for the counts)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from reports.release_files import SHARD_SCHEMA, metadata_json

        if not ids:
            return {**{name: pa.array([], SHARD_SCHEMA.field(name).type)
                       for name in SHARD_SCHEMA.names if name not in ("text", "language")},
                    "content_sha256": pa.array([], pa.string())}, []
        rows = [self.index[d] for d in ids]
        # column by column: zip(*rows) would call next() on one iterator per row, per column
        (source_ids, urls, hosts, concluded, declared, n_tokens, collected, shas) = (
            list(map(itemgetter(i), rows)) for i in (
                _SOURCE, _URL, _HOST, _CONCLUDED, _DECLARED, _TOKENS, _COLLECTED, _SHA))
        known = sorted(self.sources)
        slugs = pa.array([self.sources[i].slug for i in known], pa.string())
        # One JSON text per distinct (host, declared licence), taken per row.
        host_codes = pa.array(hosts, pa.string()).dictionary_encode(null_encoding="encode")
        licence_codes = pa.array(declared, pa.string()).dictionary_encode(
            null_encoding="encode")
        width = len(licence_codes.dictionary)
        pairs, which = np.unique(host_codes.indices.to_numpy() * width
                                 + licence_codes.indices.to_numpy(), return_inverse=True)
        texts = [metadata_json({"host": host_codes.dictionary[int(p) // width].as_py(),
                                "declared_license": licence_codes.dictionary[
                                    int(p) % width].as_py()}, ids[0]) for p in pairs]
        columns = {
            "id": pa.array(ids, pa.string()),
            "source": slugs.take(pc.index_in(pa.array(source_ids, pa.int64()),
                                             value_set=pa.array(known, pa.int64()))),
            "url": pa.array(urls, pa.string()),
            "license": pa.array([c or d for c, d in zip(concluded, declared, strict=True)],
                                pa.string()),
            "n_tokens": pc.fill_null(pa.array(n_tokens, pa.int64()), 0),
            "collected_at": _timestamps(collected),
            "content_sha256": pa.array(shas, pa.string()),
            "metadata": pa.array(texts, pa.string()).take(pa.array(which.ravel())),
        }
        return columns, list(hosts)

    def _write(self, staging: Path, released: list[str], texts: Iterator[Any]
               ) -> dict[str, Any]:
        """Text shards and index, a batch at a time: the catalog's columns joined by position
        with the texts DuckDB reads in id order; only redacted documents are touched in Python."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from processing.stages.pii import redact
        from reports.release_files import (
            DEFAULT_SHARD_BYTES,
            ReleaseShardWriter,
            metadata_json,
        )

        columns, hosts = dict(self.columns), self.hosts
        columns.pop("content_sha256")
        redacted: Counter = Counter()
        tokens = columns["n_tokens"].to_numpy().copy()  # redacted documents' counts change
        self.released_tokens = tokens
        to_redact = pa.array(sorted(self.redactions), pa.string())
        languages: list[Any] = []
        seen = 0
        with ReleaseShardWriter(staging, shard_bytes=self.shard_bytes
                                or DEFAULT_SHARD_BYTES) as writer:
            for batch in texts:
                n = batch.num_rows
                batch_ids = batch.column(0)
                meta = {k: v.slice(seen, n) for k, v in columns.items()}
                if n and not (batch_ids.equals(meta["id"])):
                    raise IntegrityError("the document shards do not hold the kept documents "
                                         "once each; run `govcat verify --deep`")
                text = batch.column(1)
                meta["language"] = batch.column(2)
                languages.append(meta["language"])
                hit = pc.is_in(batch_ids, value_set=to_redact)
                touched = np.flatnonzero(hit.to_numpy(zero_copy_only=False)).tolist()
                if touched:  # only those rows are taken out of Arrow and put back
                    texts, row_tokens, row_meta = [], [], []
                    for i in touched:
                        doc_id = batch_ids[i].as_py()
                        types, placeholder, spans = self.redactions[doc_id]
                        texts.append(redact(text[i].as_py(), spans, types, placeholder,
                                            doc_id=doc_id))
                        per_type = Counter(s["type"] for s in spans)
                        redacted.update(per_type)
                        row_meta.append(metadata_json(
                            {**json.loads(meta["metadata"][i].as_py()), "redacted": dict(
                                sorted(per_type.items()))}, doc_id))
                        row_tokens.append(count_tokens(texts[-1]))
                        tokens[seen + i] = row_tokens[-1]
                    text = pc.replace_with_mask(text, hit, pa.array(texts, text.type))
                    meta["n_tokens"] = pc.replace_with_mask(meta["n_tokens"], hit,
                                                            pa.array(row_tokens, pa.int64()))
                    meta["metadata"] = pc.replace_with_mask(meta["metadata"], hit,
                                                            pa.array(row_meta, pa.string()))
                writer.add_batch(pa.table({**meta, "text": text}))
                seen += n
                if self.progress:
                    self.progress("write", n)
            files = writer.finish()
        if seen != len(released):
            raise IntegrityError(f"read {seen} of {len(released)} kept documents from their "
                                 "shards; run `govcat verify --deep`")
        columns["language"] = pa.chunked_array(languages, pa.string()).combine_chunks()
        return {"files": files, "counts": self._counts(columns, hosts, pa.array(tokens)),
                "redacted": dict(sorted(redacted.items()))}

    @staticmethod
    def _counts(columns: dict[str, Any], hosts: list[Any], tokens: Any) -> dict[str, Any]:
        """Documents and tokens by source, licence, licence class, language and host."""
        import pyarrow as pa
        import pyarrow.compute as pc

        taxonomy = load_taxonomy()
        licences = pc.fill_null(columns["license"], "(none)")
        names = pc.unique(licences)
        classes = pa.array([taxonomy.classify(v if v != "(none)" else "LicenseRef-Unknown").use
                            for v in names.to_pylist()], pa.string())
        table = pa.table({
            "by_source": columns["source"], "by_license": licences,
            "by_license_class": classes.take(pc.index_in(licences, value_set=names)),
            "by_language": pc.fill_null(columns["language"], "(unknown)"),
            "by_host": pc.fill_null(pa.array(hosts, pa.string()), "(none)"),
            "tokens": tokens.cast(pa.int64())})
        summary: dict[str, Any] = {}
        for name in table.column_names[:-1]:
            grouped = table.group_by(name).aggregate(
                [(name, "count"), ("tokens", "sum")]).to_pydict()
            summary[name] = {k: {"documents": d, "tokens": t} for k, d, t in sorted(
                zip(grouped[name], grouped[f"{name}_count"], grouped["tokens_sum"],
                    strict=True))}
        return summary

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
            remove_tree(staging)  # a killed attempt's, under our lock
            staging.mkdir(parents=True)
            with ThreadPoolExecutor(1, thread_name_prefix="release-texts") as reading:
                ordered = sorted(released)
                self.texts = reading.submit(self._texts, ordered)
                self.columns, self.hosts = self._columns(ordered)
                if existing is not None:
                    return self._again(life, final, staging, released, excluded, existing)
                with ThreadPoolExecutor(1, thread_name_prefix="dedup-index") as pool:
                    update = pool.submit(self._dedup_update, released)
                    try:
                        return self._finish(life, final, staging, released, excluded,
                                            created_at, update)
                    finally:
                        if update.exception() is None and update.result() is not None:
                            update.result().lock.release()  # a no-op once committed

    def _again(self, life, final: Path, staging: Path, released: list[str],
               excluded: dict[str, list[str]], existing: Release) -> CutResult:
        """The release is recorded already: the same content is a no-op (its dedup index
        update completed if a kill cut it short), other content is refused."""
        files, entries, _, _ = self._release_files(life, staging, released, excluded)
        same = (existing.merkle_root == files.merkle_root and self._same_files(
            session_files=existing.id, entries=entries))
        remove_tree(staging)
        if not same:
            raise AlreadyExists(
                f"release {self.name}@{self.version} exists with other content (opt-"
                "outs or shards changed since); cut a new version")
        self._ensure_dedup_index(existing.id)
        life.stats = {"already_cut": True}
        return CutResult(self.name, self.version, final, self.run_id,
                         existing.documents, existing.tokens, len(excluded),
                         existing.merkle_root, False)

    def _release_files(self, life, staging: Path, released: list[str],
                       excluded: dict[str, list[str]]):
        """Text shards, index, decision log, exclusions and manifest, in the staging folder."""
        from reports.manifest import FORMAT, canonical_sha256, write_manifest

        with ThreadPoolExecutor(1, thread_name_prefix="release-decisions") as pool:
            decisions = pool.submit(self._decisions_file, staging)  # Arrow: off the GIL
            written = self._write(staging, released, self.texts.result())
            extra = [("decisions", decisions.result()),
                     ("excluded", self._excluded_file(staging, excluded))]
        files = written["files"]
        entries = [f.to_dict() for f in files.files] + [
            {"path": as_path(w.path).name, "kind": kind, "sha256": w.sha256,
             "bytes": w.n_bytes, "documents": w.n_rows, "tokens": 0}
            for kind, w in extra]
        manifest = self._manifest(FORMAT, canonical_sha256, life, files, written,
                                  entries, excluded)
        write_manifest(staging, manifest)
        return files, entries, manifest, file_sha256(staging / "manifest.json")

    def _finish(self, life, final: Path, staging: Path, released: list[str],
                excluded: dict[str, list[str]], created_at: datetime, update) -> CutResult:
        """A first cut: write, put into place, record, then commit the dedup index update
        `update` (a future of `_dedup_update`) prepared meanwhile.

        Locally the folder is written under its staging name and renamed into place. A store
        has no atomic rename of a prefix: there the files go straight to the release's own
        prefix, manifest.json last, and a prefix without a manifest is no release to any
        reader; either way the catalog records the release only after that."""
        if final.exists():  # put in place by a killed cut, never recorded
            remove_tree(final)
        if is_remote(final):
            remove_tree(staging)
            staging = final
        files, entries, manifest, manifest_sha = self._release_files(
            life, staging, released, excluded)
        if not is_remote(final):
            _fsync_tree(staging)
            os.rename(staging, final)
        self._record(life, final, manifest, manifest_sha, files, entries, released, excluded,
                     created_at)
        if update.result() is not None:
            update.result().commit(self.layout.dedup_index)
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
        source_ids = sorted({v[_SOURCE] for v in self.index.values()})
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

        index = read_table(final / "index.parquet", columns=["id", "content_sha256"])
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
            index_ids = index.column("id").combine_chunks()
            if not index_ids.equals(self.columns["id"]):  # both are the released ids in order
                raise IntegrityError(f"{final / 'index.parquet'} does not list the released "
                                     "documents; cut the release again")
            copy_tuples(uow.session, ReleaseMember.__table__, MEMBER_COPY_TYPES, zip(
                repeat(release.id), index_ids.to_pylist(),
                index.column("content_sha256").to_pylist(), self.released_tokens.tolist()))
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
        """Add the documents of a release cut before (those not in the index yet)."""
        members_table = ReleaseMember.__table__
        with self.catalog.session() as s:
            members = s.connection().execute(select(members_table.c.document_id).where(
                members_table.c.release_id == release_id)).scalars().all()
        update = self._dedup_update(members)
        if update is not None:
            update.commit(self.layout.dedup_index)

    def _dedup_update(self, members: Sequence[str]) -> _DedupUpdate | None:
        """The dedup index with `members` added (those not in it yet), in memory, under the
        index's lock (held until the update is committed or dropped); None if none to add.

        Runs on a thread while the release is written: it reads only the run's signatures and
        the index, and nothing is saved before the release is recorded, so later runs drop
        near-copies of what was released, never of what a failed cut did not release."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from catalog.locks import NamedLock
        from catalog.services.process import SIGNATURE_COLUMN
        from processing.dedup import DedupIndex, DedupParams
        from processing.dedup.columns import fixed_width

        if not members or self.dedup_attributes is None:
            return None
        attrs = self.layout.absolute(self.dedup_attributes)
        if SIGNATURE_COLUMN not in read_schema(attrs).names:
            return None  # a run from before signatures were kept: nothing to add from
        table = read_table(attrs, columns=["id", SIGNATURE_COLUMN])
        table = table.filter(pc.is_in(table.column("id"), pa.array(members, pa.string())))
        params = DedupParams()
        lock = NamedLock(self.catalog, "dedup-index")
        lock.acquire("another release cut is adding to it", wait=DEDUP_LOCK_WAIT)
        try:
            index = DedupIndex.open(self.layout.dedup_index, params)
            if len(index):
                present, _ = index.find_ids(table.column("id").to_pylist())
                if len(present):
                    keep = np.ones(table.num_rows, bool)
                    keep[present] = False
                    table = table.filter(pa.array(keep))
            if not table.num_rows:
                lock.release()
                return None
            ids = table.column("id").to_pylist()
            column = table.column(SIGNATURE_COLUMN).combine_chunks()
            if pa.types.is_fixed_size_binary(column.type) and column.null_count == 0:
                raw = fixed_width(column, params.num_perm, "<u4")
            else:
                raw = np.frombuffer(b"".join(column.to_pylist()), dtype=np.uint8).view("<u4")
            sigs = raw.reshape(len(ids), params.num_perm).astype(np.uint32)
            at = pc.index_in(table.column("id"), value_set=self.columns["id"])
            index.add(ids, self.columns["collected_at"].take(at).to_numpy(zero_copy_only=False),
                      sigs, self.columns["content_sha256"].take(at).to_pylist())
        except BaseException:
            lock.release()
            raise
        return _DedupUpdate(index, lock)


@dataclass
class _DedupUpdate:
    index: Any  # processing.dedup.DedupIndex with the release's documents added
    lock: Any  # catalog.locks.NamedLock, held

    def commit(self, path: Path) -> None:
        try:
            self.index.save(path)
        finally:
            self.lock.release()


def _timestamps(values: Sequence[Any]) -> Any:
    """Collection times as a UTC timestamp array: datetimes as the Postgres driver gives them,
    or the text SQLite stores them as (naive, UTC), parsed by Arrow in one go."""
    import pyarrow as pa

    utc = pa.timestamp("us", tz="UTC")
    if any(isinstance(v, str) for v in values):
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(utc)
    return pa.array(values, utc)


# Positions in a row of the catalog's index (`_Cut.index`), the id first.
_SOURCE, _URL, _HOST, _CONCLUDED, _DECLARED, _TOKENS, _COLLECTED, _SHARD, _SHA = range(1, 10)
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
