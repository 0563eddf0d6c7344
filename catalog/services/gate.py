"""Gating: the admission stage of a policy over the document index.

Rows are streamed from the index in batches, facts built (see `facts.py`), decided in bulk by
the compiled policy, and written as per-document decisions to a Parquet file beside the
shards; per-rule counts and the funnel go into the catalog. No per-document round trip.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import insert, select, update

from catalog.context import Catalog
from catalog.errors import InvalidInput, NotFound
from catalog.models import DecisionCount, Document, Run, Shard, Source, StoredPolicy, utcnow
from catalog.services import policies as policy_store
from catalog.services.facts import DOC_COLUMNS, FactBuilder
from catalog.shards import file_sha256
from catalog.versioning import code_version
from policies.engine import CompiledPolicy, compile_policy
from policies.loader import load_policy
from policies.taxonomy import load_taxonomy

DEFAULT_RULE = "(default)"
BATCH = 20_000

DECISION_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("effect", pa.string()),
    ("rule_ids", pa.list_(pa.string())),
    ("default_applied", pa.bool_()),
    ("n_tokens", pa.int64()),
])

Progress = Callable[[int, int], None]


@dataclass
class GateResult:
    run_id: int
    policy: str
    policy_sha256: str
    documents: int = 0
    tokens: int = 0
    by_effect: Counter = field(default_factory=Counter)
    tokens_by_effect: Counter = field(default_factory=Counter)
    by_rule: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # -> [docs, tokens]
    decisions_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id, "policy": self.policy, "policy_sha256": self.policy_sha256,
            "documents": self.documents, "tokens": self.tokens,
            "by_effect": dict(self.by_effect), "tokens_by_effect": dict(self.tokens_by_effect),
            "rules": [{"rule": r, "effect": e, "documents": d, "tokens": t}
                      for (r, e), (d, t) in sorted(self.by_rule.items(),
                                                   key=lambda kv: (-kv[1][0], kv[0]))],
            "decisions": self.decisions_path,
        }


def _source_ids(session, slugs: Sequence[str] | None) -> list[int] | None:
    if not slugs:
        return None
    rows = dict(session.execute(select(Source.slug, Source.id).where(Source.slug.in_(slugs))).all())
    missing = [s for s in slugs if s not in rows]
    if missing:
        raise NotFound(f"no source {', '.join(map(repr, missing))}")
    return [rows[s] for s in slugs]


def iter_index(catalog: Catalog, *, source_ids: list[int] | None, batch: int = BATCH,
               doc_ids: Sequence[str] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Index rows in id order, in batches, over one streaming connection."""
    table = Document.__table__
    stmt = select(*[table.c[c] for c in DOC_COLUMNS]).order_by(table.c.id)
    if source_ids is not None:
        stmt = stmt.where(table.c.source_id.in_(source_ids))
    if doc_ids is not None:
        stmt = stmt.where(table.c.id.in_(list(doc_ids)))
    with catalog.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # A named (server-side) psycopg cursor streams rows ~1.7x faster than SQLAlchemy
            # Row objects; the statement is still built and bound by SQLAlchemy.
            compiled = stmt.compile(dialect=conn.dialect,
                                    compile_kwargs={"render_postcompile": True})
            raw = conn.connection.driver_connection
            with raw.cursor(name="govcat_index_scan") as cur:
                cur.itersize = batch
                cur.execute(str(compiled), compiled.params)
                while rows := cur.fetchmany(batch):
                    yield [dict(zip(DOC_COLUMNS, row, strict=True)) for row in rows]
            return
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
        for part in result.partitions(batch):
            yield [dict(zip(DOC_COLUMNS, row, strict=True)) for row in part]


class _DecisionWriter:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.writer = pq.ParquetWriter(self.tmp, DECISION_SCHEMA, compression="zstd")
        self.rows = 0

    def write(self, ids, effects, rules, defaults, tokens) -> None:
        self.writer.write_table(pa.table([ids, effects, rules, defaults, tokens],
                                         schema=DECISION_SCHEMA))
        self.rows += len(ids)

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


def decide_batch(builder: FactBuilder, compiled: CompiledPolicy, rows: list[dict[str, Any]]):
    builder.prepare(rows)
    return list(compiled.decide_many("admission", (builder.facts(r) for r in rows)))


def gate(catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None = None,
         progress: Progress | None = None, taxonomy_files: Sequence[Path] = ()) -> GateResult:
    with catalog.uow() as uow:
        stored, policy = policy_store.resolve(uow, policy_ref)
        source_ids = _source_ids(uow.session, sources)
        run = Run(kind="gate", policy_id=stored.id, actor=uow.actor, started_at=utcnow(),
                  code_version=code_version(),
                  config={"policy": f"{policy.name}@{policy.version}",
                          "policy_sha256": policy.sha256, "sources": list(sources or []),
                          "stage": "admission"})
        uow.session.add(run)
        uow.session.flush()
        uow.audit.record("gate.start", "run", str(run.id), after=run.config)
        uow.commit()
        run_id = run.id
    compiled = compile_policy(policy)
    taxonomy = load_taxonomy(taxonomy_files)
    rel = Path("decisions") / f"run-{run_id:06d}" / "admission.parquet"
    result = GateResult(run_id, f"{policy.name}@{policy.version}", policy.sha256,
                        decisions_path=str(rel))
    writer = _DecisionWriter(catalog.data_root / rel)
    status = "failed"
    try:
        with catalog.session() as session:
            builder = FactBuilder(session, required=compiled.required_facts("admission"),
                                  agents=policy.agents, taxonomy=taxonomy)
            outcomes: dict[tuple[str, tuple[str, ...]], list[int]] = {}
            for rows in iter_index(catalog, source_ids=source_ids):
                decisions = decide_batch(builder, compiled, rows)
                tokens = [row["n_tokens"] or 0 for row in rows]
                for d, n in zip(decisions, tokens, strict=True):
                    slot = outcomes.get((d.effect, d.rule_ids))
                    if slot is None:
                        slot = outcomes[(d.effect, d.rule_ids)] = [0, 0]
                    slot[0] += 1
                    slot[1] += n
                writer.write([row["id"] for row in rows], [d.effect for d in decisions],
                             [list(d.rule_ids) for d in decisions],
                             [d.default_applied for d in decisions], tokens)
                if progress:
                    progress(len(rows), 0)
            for (effect, rule_ids), (docs, toks) in outcomes.items():
                result.documents += docs
                result.tokens += toks
                result.by_effect[effect] += docs
                result.tokens_by_effect[effect] += toks
                for rule in rule_ids or (DEFAULT_RULE,):
                    slot = result.by_rule.setdefault((rule, effect), [0, 0])
                    slot[0] += docs
                    slot[1] += toks
        writer.close()
        status = "completed"
    except BaseException:
        writer.abort()
        raise
    finally:
        with catalog.uow() as uow:
            if status == "completed":
                path = catalog.data_root / rel
                uow.session.add(Shard(run_id=run_id, kind="decisions", stage="admission",
                                      path=str(rel), sha256=file_sha256(path),
                                      n_docs=writer.rows, n_bytes=path.stat().st_size,
                                      created_at=utcnow()))
                counts = [{"run_id": run_id, "stage": "admission", "rule_id": r, "effect": e,
                           "documents": d, "tokens": t}
                          for (r, e), (d, t) in result.by_rule.items()]
                if counts:
                    uow.session.execute(insert(DecisionCount.__table__), counts)
            stats = result.to_dict()
            stats.pop("rules")
            uow.session.execute(update(Run).where(Run.id == run_id).values(
                status=status, finished_at=utcnow(), stats=stats))
            uow.audit.record(f"gate.{status}", "run", str(run_id),
                             after={"documents": result.documents,
                                    "by_effect": dict(result.by_effect)})
            uow.commit()
    return result


def decision_file(catalog: Catalog, run_id: int) -> tuple[Run, Path, StoredPolicy]:
    with catalog.session() as session:
        run = session.get(Run, run_id)
        if run is None or run.kind != "gate":
            raise NotFound(f"no gate run {run_id}")
        shard = session.execute(select(Shard).where(Shard.run_id == run_id,
                                                    Shard.kind == "decisions")).scalars().first()
        if shard is None:
            raise InvalidInput(f"gate run {run_id} has no decisions (status {run.status})")
        policy = session.get(StoredPolicy, run.policy_id)
    return run, catalog.data_root / shard.path, policy


def whatif(catalog: Catalog, *, policy_ref: str, against: int,
           progress: Progress | None = None) -> dict[str, Any]:
    """How many documents and tokens policy B would decide differently from a gate run."""
    run, path, stored_a = decision_file(catalog, against)
    policy_b = policy_store.load_ref(policy_ref)
    if policy_b is None:
        with catalog.session() as session:
            policy_b = load_policy(policy_store.find(session, policy_ref).text)
    compiled = compile_policy(policy_b)
    old = pq.read_table(path, columns=["id", "effect", "rule_ids"]).to_pydict()
    old_by_id = {i: (e, tuple(r)) for i, e, r in zip(old["id"], old["effect"], old["rule_ids"],
                                                     strict=True)}
    changes: Counter = Counter()
    change_tokens: Counter = Counter()
    unchanged = [0, 0]
    with catalog.session() as session:
        builder = FactBuilder(session, required=compiled.required_facts("admission"),
                              agents=policy_b.agents, taxonomy=load_taxonomy())
        source_ids = _source_ids(session, run.config.get("sources") or None)
        for rows in iter_index(catalog, source_ids=source_ids):
            rows = [r for r in rows if r["id"] in old_by_id]
            if not rows:
                continue
            for row, d in zip(rows, decide_batch(builder, compiled, rows), strict=True):
                before, before_rules = old_by_id[row["id"]]
                n = row["n_tokens"] or 0
                if before == d.effect:
                    unchanged[0] += 1
                    unchanged[1] += n
                    continue
                key = (before, d.effect, ",".join(d.rule_ids) or DEFAULT_RULE,
                       ",".join(before_rules) or DEFAULT_RULE)
                changes[key] += 1
                change_tokens[key] += n
            if progress:
                progress(len(rows), 0)
    return {
        "against": against, "policy_a": f"{stored_a.name}@{stored_a.version}",
        "policy_b": f"{policy_b.name}@{policy_b.version}",
        "documents": len(old_by_id), "unchanged": unchanged[0], "unchanged_tokens": unchanged[1],
        "changed": sum(changes.values()), "changed_tokens": sum(change_tokens.values()),
        "changes": [{"from": a, "to": b, "rules_b": rb, "rules_a": ra, "documents": n,
                     "tokens": change_tokens[(a, b, rb, ra)]}
                    for (a, b, rb, ra), n in changes.most_common()],
    }
