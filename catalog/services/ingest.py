"""Ingesting raw inputs of a registered source into shards and the document index.

Idempotent and resumable by construction: a document's id is derived from its source and
native id, each batch is written as one shard plus its index rows in one transaction, and
rows already in the index are left out. Re-running an ingest (after a crash, a kill -9, or
simply twice) therefore adds exactly the documents that are missing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from catalog import shards
from catalog.context import Catalog
from catalog.errors import InvalidInput
from catalog.index_writer import insert_documents
from catalog.models import (
    Document,
    Host,
    LicenseEvidence,
    QuarantineRecord,
    RobotsSnapshot,
    Run,
    Shard,
    Source,
    utcnow,
)
from catalog.repositories import SourceRepository
from catalog.runs import RunLifecycle
from catalog.timeutil import as_utc, iso_utc
from ingest import registry
from ingest.consent.reservation import resolve_reservation
from ingest.documents import count_tokens, document_id
from ingest.formats import default_format
from ingest.licensing.documents import (
    DOCUMENT_DECLARING,
    TreeLicences,
    conclude_document,
    scan_tree,
)
from ingest.textio import InputError
from ingest.types import Quarantined, RawDocument, RobotsFound, Skipped

Progress = Callable[[int, int], None]  # (documents read, bytes of text) since last call


@dataclass
class IngestStats:
    files: int = 0
    read: int = 0
    documents: int = 0
    ingested: int = 0
    already_present: int = 0
    repeated_in_input: int = 0
    bytes: int = 0
    tokens: int = 0
    shards: int = 0
    robots_snapshots: int = 0
    skipped: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = dict(sorted(self.skipped.items()))
        data["quarantined"] = dict(sorted(self.quarantined.items()))
        return data


@dataclass
class IngestResult:
    run_id: int
    source: str
    formats: list[str]
    stats: IngestStats
    status: str


class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.findings: list[tuple] = []  # (doc id, findings, concluded, how)
        self.quarantine: list[Quarantined] = []
        self.robots: list[RobotsFound] = []

    def __len__(self) -> int:
        return len(self.rows)


class Ingestor:
    def __init__(self, catalog: Catalog, *, source_slug: str, paths: Sequence[Path],
                 fmt: str | None = None, options: Mapping[str, str] | None = None,
                 shard_docs: int = 20_000, progress: Progress | None = None,
                 license_scan: bool = True,
                 notice: Callable[[str], None] | None = None):
        self.catalog = catalog
        self.license_scan = license_scan
        self.notice = notice or (lambda message: None)
        self._trees: dict[Path, TreeLicences | None] = {}
        self.slug = source_slug
        self.paths = [Path(p) for p in paths]
        self.fmt = fmt
        self.raw_options = dict(options or {})
        self.shard_docs = max(1, shard_docs)
        self.progress = progress
        self.stats = IngestStats()
        self.layout = catalog.layout

    # ---------------------------------------------------------------- set-up
    def _plan(self) -> tuple[Source, list[tuple[Path, registry.Connector, Any]]]:
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise InvalidInput(f"no such file or directory: {', '.join(missing)}")
        with self.catalog.session() as session:
            source = SourceRepository(session).get(self.slug)
        plan = []
        for path in self.paths:
            name = self.fmt or default_format(source.kind, path)
            try:
                connector = registry.get(name)
                options = connector.parse_options(self.raw_options)
            except (registry.UnknownFormatError, registry.ConnectorOptionError) as exc:
                raise InvalidInput(str(exc)) from None
            plan.append((path, connector, options))
        return source, plan

    def _remove_orphans(self, source: Source) -> None:
        """Shard files no catalog row points at were renamed into place by a killed ingest
        of this source before its transaction committed. Called under the source's lock, so
        no live ingest owns them."""
        root = self.layout.source_shards(source.slug)
        if not root.exists():
            return
        with self.catalog.session() as session:
            known = set(session.execute(
                select(Shard.path).where(Shard.source_id == source.id)).scalars())
        for file in root.rglob("*"):
            if not file.is_file():
                continue
            if self.layout.relative(file) not in known and (
                    file.suffix == ".parquet" or ".tmp-" in file.name):
                file.unlink()

    # ---------------------------------------------------------------- main loop
    def _scan_licences(self, plan) -> None:
        """Code folders: one scancode pass over the tree before its files are read."""
        for path, connector, _ in plan:
            if connector.name == "code_v1" and path.is_dir() and self.license_scan:
                self.notice(f"scanning licences under {path} with scancode-toolkit "
                            "(cached by file hash)")
                tree = scan_tree(path, cache_dir=self.layout.licence_cache,
                                 source_declared=self.source.declared_license)
                self._trees[path] = tree
                if tree is not None:
                    self.notice(f"  {tree.scanned} file(s) scanned, {tree.cache_hits} from "
                                "the cache")

    def run(self) -> IngestResult:
        source, plan = self._plan()
        self.source = source
        formats = sorted({c.name for _, c, _ in plan})
        config = {"formats": formats, "options": self.raw_options,
                  "paths": [str(p.resolve()) for p in self.paths], "shard_docs": self.shard_docs,
                  "source": self.slug}
        with RunLifecycle(self.catalog, kind="ingest", lock=f"source:{self.slug}",
                          source_id=source.id, config=config) as life:
            self.life, self.run_id = life, life.run_id
            life.end_audit = lambda: {
                "source": self.slug, "formats": formats, "ingested": self.stats.ingested,
                "quarantined": sum(self.stats.quarantined.values()),
                "skipped": sum(self.stats.skipped.values())}
            self._remove_orphans(source)
            self._scan_licences(plan)
            self._shard_seq = 0
            batch = _Batch()
            try:
                for path, connector, options in plan:
                    self.stats.files += 1
                    self._reading = path
                    tree = self._trees.get(path)
                    for item in connector.read(path, options):
                        self.stats.read += 1
                        if isinstance(item, RawDocument):
                            self._add_document(batch, item, connector.name, tree)
                            if len(batch) >= self.shard_docs:
                                self._flush(batch)
                                batch = _Batch()
                        elif isinstance(item, Skipped):
                            self.stats.skipped[item.reason] += 1
                        elif isinstance(item, Quarantined):
                            self._quarantine(batch, item)
                        elif isinstance(item, RobotsFound):
                            if (problem := unstorable_robots(item)) is not None:
                                self._quarantine(batch, Quarantined(
                                    "unstorable", item.url, item.host, problem))
                            else:
                                batch.robots.append(item)
                self._flush(batch)
            except InputError as exc:
                # The input as a whole is unusable (not a record in it): fail the command,
                # keeping what earlier files already indexed.
                raise InvalidInput(str(exc)) from None
            finally:
                life.stats = self.stats.to_dict()
        return IngestResult(self.run_id, self.slug, formats, self.stats, life.status)

    def _quarantine(self, batch: _Batch, item: Quarantined) -> None:
        self.stats.quarantined[item.reason] += 1
        batch.quarantine.append(item)

    def _add_document(self, batch: _Batch, doc: RawDocument, fmt: str,
                      tree: TreeLicences | None = None) -> None:
        text = doc.text
        self.stats.documents += 1
        problem = unstorable(doc)
        encoded = b""
        if problem is None:
            try:
                encoded = text.encode("utf-8")
            except UnicodeEncodeError as exc:
                problem = f"text: {_lone_surrogate(text, exc)}"
        signals = [asdict(sig) for sig in doc.signals]
        json_fields = {
            "metadata": shards.to_json({**doc.metadata, "format": fmt}),
            "signals": shards.to_json(signals),
            "licenses": shards.to_json([asdict(f) for f in doc.licenses]),
        }
        for name, value in json_fields.items():
            problem = problem or _text_problem(value, field=name, nul=False)
        if self.progress:
            self.progress(1, len(encoded))
        if problem is not None:
            # Kept out of the batch, so the batch's transaction holds only rows it can store.
            where = doc.location or f"id {_storable(doc.native_id)[:200]}"
            self._quarantine(batch, Quarantined("unstorable", doc.file or str(self._reading),
                                                where, problem))
            return
        n_bytes = len(encoded)
        declared = next((f.expression for f in doc.licenses
                         if f.detector in DOCUMENT_DECLARING), None)
        concluded, how = conclude_document(doc, source_declared=self.source.declared_license,
                                           tree=tree)
        row = {
            "id": document_id(self.slug, doc.native_id),
            "source": self.slug,
            "native_id": doc.native_id,
            "text": text,
            "content_sha256": hashlib.sha256(encoded).hexdigest(),
            "url": doc.url,
            "host": doc.host.lower() if doc.host else None,
            "collected_at": as_utc(doc.collected_at),
            "created_at": as_utc(doc.created_at),
            "title": doc.title,
            "language": doc.language,
            **json_fields,
            "_n_bytes": n_bytes,
            "_declared": declared,
            "_consent_signals": json_fields["signals"] if signals else None,
            "_reserved_uses": own_reservation(doc),
            "_concluded": concluded,
            "_conclusion": how if (doc.licenses or tree is not None) else None,
        }
        batch.rows.append(row)
        batch.findings.append((row["id"], doc.licenses, row["_concluded"], row["_conclusion"]))

    # ---------------------------------------------------------------- one transaction a batch
    def _flush(self, batch: _Batch) -> None:
        if not batch.rows and not batch.quarantine and not batch.robots:
            return
        rows, findings = self._new_rows(batch)
        with self.catalog.uow() as uow:
            shard_id = None
            if rows:
                self._shard_seq += 1
                path = self.layout.document_shard(self.slug, self.run_id, self._shard_seq)
                table = shards.documents_table(
                    [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
                written = shards.write_table_atomic(table, path)
                shard = self.life.record_shard(
                    kind="documents", path=path, n_docs=written.n_rows, sha256=written.sha256,
                    n_bytes=written.n_bytes, source_id=self.source.id, session=uow.session)
                shard_id = shard.id
                self.stats.shards += 1
            index_rows = []
            for i, r in enumerate(rows):
                tokens = count_tokens(r["text"])
                self.stats.ingested += 1
                self.stats.bytes += r["_n_bytes"]
                self.stats.tokens += tokens
                index_rows.append({
                    "id": r["id"], "source_id": self.source.id, "native_id": r["native_id"],
                    "url": r["url"], "host": r["host"], "content_sha256": r["content_sha256"],
                    "n_bytes": r["_n_bytes"], "n_tokens": tokens,
                    "collected_at": r["collected_at"], "created_at": r["created_at"],
                    "declared_license": r["_declared"] or self.source.declared_license,
                    "concluded_license": r["_concluded"], "shard_id": shard_id,
                    "shard_row": i,
                    "run_id": self.run_id, "consent_signals": r["_consent_signals"],
                    "reserved_uses": r["_reserved_uses"],
                })
            insert_documents(uow.session, index_rows)
            self._insert_findings(uow, findings)
            self._insert_quarantine(uow, batch.quarantine)
            self._insert_robots(uow, batch.robots)
            self.life.save_stats(self.stats.to_dict(), session=uow.session)
            uow.commit()

    def _new_rows(self, batch: _Batch) -> tuple[list[dict], list[tuple[str, list]]]:
        seen: set[str] = set()
        unique, unique_findings = [], []
        for row, finding in zip(batch.rows, batch.findings, strict=True):
            if row["id"] in seen:
                self.stats.repeated_in_input += 1
                continue
            seen.add(row["id"])
            unique.append(row)
            unique_findings.append(finding)
        present = self._existing_ids([r["id"] for r in unique])
        self.stats.already_present += len(present)
        keep = [i for i, r in enumerate(unique) if r["id"] not in present]
        return [unique[i] for i in keep], [unique_findings[i] for i in keep]

    def _existing_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        with self.catalog.session() as session:
            for start in range(0, len(ids), 2000):
                chunk = ids[start:start + 2000]
                found.update(session.execute(
                    select(Document.id).where(Document.id.in_(chunk))).scalars())
        return found

    def _insert_findings(self, uow, findings: Iterable[tuple]) -> None:
        now = utcnow()
        rows = []
        for doc_id, found, concluded, how in findings:
            for f in found:
                extra = f.extra or {}
                rows.append({
                    "source_id": self.source.id, "document_id": doc_id, "run_id": self.run_id,
                    "role": "finding", "detector": f.detector,
                    "detector_version": extra.get("detector_version"),
                    "expression": f.expression, "score": f.score, "location": f.location,
                    "matched_text_sha256": extra.get("matched_text_sha256")
                    or (hashlib.sha256(f.raw.encode("utf-8")).hexdigest() if f.raw else None),
                    "raw": f.raw or None, "created_at": now})
            if concluded and how is not None:
                rows.append({
                    "source_id": self.source.id, "document_id": doc_id, "run_id": self.run_id,
                    "role": "concluded", "detector": "govcat-conclude",
                    "detector_version": None, "expression": concluded, "score": None,
                    "location": how.get("level"), "matched_text_sha256": None,
                    "raw": shards.to_json(how), "created_at": now})
        for start in range(0, len(rows), 5000):
            uow.session.execute(insert(LicenseEvidence.__table__), rows[start:start + 5000])

    def _insert_quarantine(self, uow, items: Sequence[Quarantined]) -> None:
        if not items:
            return
        existing = set(tuple(r) for r in uow.session.execute(
            select(QuarantineRecord.file, QuarantineRecord.location, QuarantineRecord.reason)
            .where(QuarantineRecord.source_id == self.source.id)).all())
        now = utcnow()
        rows = []
        for q in items:
            # What connectors report quotes the input (a file name, an id), which may hold
            # the very characters that made a record unstorable.
            file, location = _storable(q.file), _storable(q.location)
            key = (file, location, q.reason)
            if key in existing:
                continue
            existing.add(key)
            rows.append({"run_id": self.run_id, "source_id": self.source.id, "file": file,
                         "location": location, "reason": q.reason,
                         "detail": _storable(q.detail) or None, "created_at": now})
        if rows:
            uow.session.execute(insert(QuarantineRecord.__table__), rows)

    def _insert_robots(self, uow, items: Sequence[RobotsFound]) -> None:
        for found in items:
            host = uow.session.execute(
                select(Host).where(Host.name == found.host.lower())).scalars().first()
            if host is None:
                host = Host(name=found.host.lower(), created_at=utcnow())
                uow.session.add(host)
                uow.session.flush()
            digest = hashlib.sha256(found.content.encode("utf-8")).hexdigest()
            fetched = as_utc(found.fetched_at) or utcnow()
            exists = uow.session.execute(select(RobotsSnapshot.id).where(
                RobotsSnapshot.host_id == host.id, RobotsSnapshot.kind == found.kind,
                RobotsSnapshot.sha256 == digest, RobotsSnapshot.fetched_at == fetched,
            )).first()
            if exists:
                continue
            uow.session.add(RobotsSnapshot(
                host_id=host.id, kind=found.kind, fetched_at=fetched, status=found.status,
                content=found.content, sha256=digest, origin="crawl", source_id=self.source.id,
                run_id=self.run_id, created_at=utcnow()))
            uow.session.flush()
            self.stats.robots_snapshots += 1


# ---------------------------------------------------------------- what the catalog can store

# Postgres text columns refuse NUL, and no database (nor Parquet) takes a lone surrogate, which
# has no UTF-8 form. A record holding either is quarantined on every database alike, before it
# joins a batch, so one such record never fails the transaction of the others.
_NO_NUL_FIELDS = ("native_id", "url", "host", "title")
_FINDING_FIELDS = ("detector", "expression", "location", "raw")
_MAX_HOST = 255  # hosts.name and documents.host


def unstorable(doc: RawDocument) -> str | None:
    """Why the index or a shard cannot hold `doc`'s identity, provenance or licence findings
    (the field and what is wrong with it), or None. The text is checked as it is encoded."""
    for name in _NO_NUL_FIELDS:
        value = getattr(doc, name)
        if isinstance(value, str) and (problem := _text_problem(value, field=name)):
            return problem
    if doc.host and len(doc.host) > _MAX_HOST:
        return f"host: {len(doc.host)} characters, over the {_MAX_HOST} the index holds"
    if isinstance(doc.language, str) and (problem := _text_problem(
            doc.language, field="language", nul=False)):
        return problem
    for finding in doc.licenses:
        extra = finding.extra or {}
        values = [*(getattr(finding, n) for n in _FINDING_FIELDS),
                  extra.get("detector_version"), extra.get("matched_text_sha256")]
        for value in values:
            if isinstance(value, str) and (problem := _text_problem(
                    value, field=f"licence finding of {finding.detector}")):
                return problem
    return None


def unstorable_robots(found: RobotsFound) -> str | None:
    """Why a robots.txt (or other consent file) met in the input cannot be stored, or None."""
    for name in ("host", "content", "url"):
        if problem := _text_problem(getattr(found, name), field=name):
            return problem
    if len(found.host) > _MAX_HOST:
        return f"host: {len(found.host)} characters, over the {_MAX_HOST} the catalog holds"
    return None


def _text_problem(value: str, *, field: str, nul: bool = True) -> str | None:
    if nul and "\x00" in value:
        return f"{field}: a NUL character at position {value.index(chr(0))}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{field}: {_lone_surrogate(value, exc)}"
    return None


def _lone_surrogate(value: str, exc: UnicodeEncodeError) -> str:
    return (f"a lone surrogate U+{ord(value[exc.start]):04X} at position {exc.start} "
            "(not Unicode text)")


def _storable(value: str) -> str:
    """`value` with NULs and lone surrogates written as escapes, for a quarantine record."""
    value = value.replace("\x00", "\\x00")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def own_reservation(doc: RawDocument) -> str:
    """Uses reserved for everyone by the document's own signals, comma-separated."""
    if not doc.signals:
        return ""
    record = resolve_reservation(url=doc.url or "", signals=doc.signals)
    return ",".join(sorted(record.uses))


def ingest(catalog: Catalog, *, source_slug: str, paths: Sequence[Path], fmt: str | None = None,
           options: Mapping[str, str] | None = None, shard_docs: int = 20_000,
           progress: Progress | None = None, license_scan: bool = True,
           notice: Callable[[str], None] | None = None) -> IngestResult:
    return Ingestor(catalog, source_slug=source_slug, paths=paths, fmt=fmt, options=options,
                    shard_docs=shard_docs, progress=progress, license_scan=license_scan,
                    notice=notice).run()


def run_report(catalog: Catalog, *, run_id: int, limit: int = 1000) -> dict[str, Any]:
    from catalog.errors import NotFound

    with catalog.uow() as uow:
        run = uow.session.get(Run, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        source = uow.session.get(Source, run.source_id) if run.source_id else None
        quarantine = uow.session.execute(
            select(QuarantineRecord).where(QuarantineRecord.source_id == run.source_id)
            .order_by(QuarantineRecord.file, QuarantineRecord.id).limit(limit)).scalars().all()
        return {
            "run": run.id, "kind": run.kind, "status": run.status,
            "source": source.slug if source else None, "actor": run.actor,
            "started_at": iso_utc(run.started_at), "finished_at": iso_utc(run.finished_at),
            "config": run.config, "stats": run.stats,
            "quarantine": [{"file": q.file, "location": q.location, "reason": q.reason,
                            "detail": q.detail, "run": q.run_id} for q in quarantine],
        }
