"""Evaluation sets for benchmark decontamination: register once, check every run against them.

`add` reads an evaluation set the user supplies (JSONL or Parquet, one example a record),
builds its hashed n-gram index once (processing/ngrams.py) under the data root and records
the set: its name, the file's sha256, the fields read, n and the normalisation. `govcat run`
passes every registered set to the decontam_v1 stage (`stage_options`); `explain` and
`release show` read the stage's attributes back (`document_overlaps`, `release_overlaps`).
See docs/content-filters.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from catalog.context import Catalog
from catalog.errors import AlreadyExists, IntegrityError, InvalidInput
from catalog.models import DecontamSet, Document, ReleaseMember, Run, Shard, utcnow
from catalog.timeutil import iso_utc
from common.atomic import file_sha256, write_bytes_atomic
from common.storage import read_schema, read_table
from processing.ngrams import DEFAULT_N, NORMALISATION, build_set
from processing.stages.decontam import SET_NAME

STAGE = "quality"  # decontam_v1 runs in the quality task: its attributes are in those shards
_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def record(row: DecontamSet) -> dict[str, Any]:
    return {"name": row.name, "file": row.file_name, "file_sha256": row.file_sha256,
            "fields": list(row.fields), "n": row.n, "normalisation": row.normalisation,
            "examples": row.examples, "skipped_short": row.skipped_short,
            "ngrams": row.ngrams, "index": row.index_path, "index_sha256": row.index_sha256,
            "actor": row.actor, "created_at": iso_utc(row.created_at)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput(f"{path}: an evaluation set is a .jsonl or .parquet file")
    if kind == "parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InvalidInput(f"{path}: not a readable Parquet file ({exc})") from None
        number = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                number += 1
                yield number, row
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise InvalidInput(f"{path}:{number}: expected a JSON object")
            yield number, obj


def read_passages(path: Path, fields: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """One passage per example: its text fields joined by spaces, and the fields read.

    With no `fields`, every field holding text (a string, or a list of strings) is read, in
    the record's order, so a question, its choices and its answer make one passage.
    """
    passages: list[str] = []
    seen: dict[str, None] = {}
    for number, obj in _records(path):
        if fields:
            absent = [f for f in fields if f not in obj]
            if absent:
                raise InvalidInput(f"{path}: example {number} has no field {absent[0]!r}")
            keys = list(fields)
        else:
            keys = [k for k, v in obj.items() if any(True for _ in _strings(v))]
        seen.update(dict.fromkeys(keys))
        passages.append(" ".join(s for k in keys for s in _strings(obj[k])))
    return passages, list(seen)


def add(catalog: Catalog, *, name: str, path: Path, fields: Sequence[str] = (),
        n: int = DEFAULT_N) -> dict[str, Any]:
    """Register an evaluation set; the same file again under its name changes nothing."""
    if not SET_NAME.match(name):
        raise InvalidInput(f"evaluation set name {name!r}: lower-case letters, digits, '-' and "
                           "'_', at most 100 characters (e.g. mmlu, gsm8k-test)")
    if n < 1:
        raise InvalidInput(f"--n {n}: an n-gram has at least one word")
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    digest = file_sha256(path)
    with catalog.session() as s:
        existing = s.execute(select(DecontamSet).where(DecontamSet.name == name)) \
            .scalars().first()
    if existing is not None:
        same = (existing.file_sha256 == digest and existing.n == n
                and (not fields or list(fields) == list(existing.fields)))
        if same:
            return record(existing) | {"unchanged": True}
        raise AlreadyExists(f"evaluation set {name!r} is registered with other content "
                            f"(sha256 {existing.file_sha256[:12]}…, n={existing.n}); register "
                            "this one under another name")
    passages, used = read_passages(path, fields)
    if not passages:
        raise InvalidInput(f"{path}: no examples")
    ngram_set = build_set(passages, n)
    if not len(ngram_set):
        raise InvalidInput(f"{path}: no example has {n} words or more, so none could match")
    layout = catalog.layout
    out = layout.decontam_index(name, digest, n)
    written = write_bytes_atomic(ngram_set.to_bytes(), out)
    with catalog.uow() as uow:
        row = DecontamSet(name=name, file_name=str(path), file_sha256=digest, fields=used, n=n,
                          normalisation=NORMALISATION, examples=ngram_set.examples,
                          skipped_short=ngram_set.skipped_short, ngrams=len(ngram_set),
                          index_path=layout.relative(out), index_sha256=written.sha256,
                          actor=uow.actor, created_at=utcnow())
        uow.session.add(row)
        uow.session.flush()
        uow.audit.record("decontam.add", "decontam_set", name, after=record(row))
        uow.commit()
    return record(row) | {"unchanged": False}


def listing(catalog: Catalog) -> list[dict[str, Any]]:
    with catalog.session() as s:
        rows = s.execute(select(DecontamSet).order_by(DecontamSet.name)).scalars().all()
    return [record(r) for r in rows]


def stage_options(catalog: Catalog) -> list[dict[str, Any]]:
    """The registered sets as decontam_v1 takes them, each index checked against its hash."""
    out = []
    for item in listing(catalog):
        path = catalog.layout.absolute(item["index"])
        if not path.is_file() or file_sha256(path) != item["index_sha256"]:
            raise IntegrityError(f"evaluation set {item['name']!r}: its n-gram index {path} is "
                                 "missing or altered; register the set again under a new name")
        out.append({"name": item["name"], "path": str(path), "sha256": item["index_sha256"],
                    "n": item["n"]})
    return out


# --------------------------------------------------------------------------- reading back


def _column_maps(table: pa.Table, column: str) -> list[dict[str, int]]:
    """A map attribute column (JSON text in attribute shards) as one dict per row."""
    if column not in table.column_names:
        return [{} for _ in range(table.num_rows)]
    return [json.loads(v) if isinstance(v, str) else (v or {})
            for v in table.column(column).to_pylist()]


def document_overlaps(catalog: Catalog, session, doc_id: str) -> list[dict[str, Any]]:
    """Per processing run that measured the document: the sets it overlaps, with hits and
    the longest overlap; runs where it overlaps none are left out."""
    doc = session.get(Document, doc_id)
    if doc is None or doc.shard_id is None:
        return []
    found = []
    runs = session.execute(select(Run.id).join(Shard, Shard.run_id == Run.id).where(
        Run.kind == "process", Shard.kind == "attributes", Shard.stage == STAGE)
        .distinct().order_by(Run.id)).scalars().all()
    for run_id in runs:
        path = catalog.layout.attribute_shard(run_id, STAGE, doc.shard_id)
        if not path.is_file() or "decontam_hits" not in read_schema(path).names:
            continue
        table = read_table(path, columns=["id", "decontam_hits", "decontam_longest"],
                              filters=[("id", "=", doc_id)])
        if not table.num_rows:
            continue
        hits = _column_maps(table, "decontam_hits")[0]
        longest = _column_maps(table, "decontam_longest")[0]
        for name in sorted(hits):
            if hits[name]:
                found.append({"run": run_id, "set": name, "hits": int(hits[name]),
                              "longest": int(longest.get(name, 0))})
    return found


def release_overlaps(catalog: Catalog, session, release) -> dict[str, Any]:
    """The sets the release's run checked, and per set how many released documents quote it."""
    members = set(session.execute(select(ReleaseMember.document_id).where(
        ReleaseMember.release_id == release.id)).scalars())
    paths = session.execute(select(Shard.path).where(
        Shard.run_id == release.run_id, Shard.kind == "attributes", Shard.stage == STAGE)
        .order_by(Shard.path)).scalars().all()
    checked: dict[str, None] = {}
    sets: dict[str, dict[str, int]] = {}
    for rel in paths:
        path = catalog.layout.absolute(rel)
        if not path.is_file() or "decontam_hits" not in read_schema(path).names:
            continue
        table = read_table(path, columns=["id", "decontam_hits", "decontam_longest"])
        rows = zip(table.column("id").to_pylist(), _column_maps(table, "decontam_hits"),
                   _column_maps(table, "decontam_longest"), strict=True)
        for doc_id, hits, longest in rows:
            checked.update(dict.fromkeys(hits))
            if doc_id not in members:
                continue
            for name, n in hits.items():
                if n:
                    slot = sets.setdefault(name, {"documents": 0, "hits": 0, "longest": 0})
                    slot["documents"] += 1
                    slot["hits"] += int(n)
                    slot["longest"] = max(slot["longest"], int(longest.get(name, 0)))
    return {"checked": sorted(checked), "overlaps": dict(sorted(sets.items()))}
