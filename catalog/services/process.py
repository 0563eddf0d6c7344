"""`govcat run`: the documents a policy admits go through langid → quality → dedup → pii.

Measure, then decide: each stage writes attribute shards (one per document shard, via an
executor: local processes or Ray), then the policy's rules for that stage decide per document
(keep / drop / redact) with rule ids, written to `decisions/run-N/<stage>.parquet`. Only the
documents kept so far reach dedup and PII.

Resumable: attribute shards are written atomically and recorded with their sha256; running
the same command again after a crash reuses the unfinished run, skips every recorded shard,
and ends with the same outputs as an uninterrupted run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select, update

from catalog.context import Catalog
from catalog.errors import InvalidInput
from catalog.models import DecisionCount, Document, Run, Shard, utcnow
from catalog.services import gate as gate_svc
from catalog.services import policies as policy_store
from catalog.shards import file_sha256, write_table_atomic
from catalog.timeutil import as_utc
from catalog.versioning import code_version
from policies.engine import CompiledPolicy, compile_policy
from policies.facts import DEFAULT_SCHEMA
from processing.executor import create_executor
from processing.pipeline import ShardTask, StageSpec


class MissingComponent(InvalidInput):
    """A stage's optional dependency (or Ray) is not installed."""


STAGE_SPECS = {"langid": "langid_v1", "quality": "quality_v1", "pii": "pii_v1"}
Progress = Callable[[str, int], None]  # (stage, documents)


@dataclass
class StageFunnel:
    stage: str
    docs_in: int = 0
    tokens_in: int = 0
    kept: int = 0
    kept_tokens: int = 0
    dropped: Counter = field(default_factory=Counter)  # rule -> docs
    dropped_tokens: Counter = field(default_factory=Counter)
    redacted: Counter = field(default_factory=Counter)  # entity type -> spans

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "docs_in": self.docs_in, "tokens_in": self.tokens_in,
                "kept": self.kept, "kept_tokens": self.kept_tokens,
                "dropped": dict(sorted(self.dropped.items())),
                "dropped_tokens": dict(sorted(self.dropped_tokens.items())),
                "redacted": dict(sorted(self.redacted.items()))}


@dataclass
class ProcessResult:
    run_id: int
    gate_run_id: int
    policy: str
    funnel: list[StageFunnel]
    kept_ids: list[str]
    resumed: bool
    models: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "gate_run": self.gate_run_id, "policy": self.policy,
                "resumed": self.resumed, "kept": len(self.kept_ids),
                "funnel": [f.to_dict() for f in self.funnel], "models": self.models}


def _coerce(path: str, value: Any) -> Any:
    fact = DEFAULT_SCHEMA.get(path)
    if value is None or fact is None:
        return value
    if fact.type == "double":
        return float(value)
    if fact.type == "int":
        return int(value)
    if fact.type.startswith("map(") and isinstance(value, str):
        return json.loads(value)
    return value


class _Run:
    def __init__(self, catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None,
                 executor: str, workers: int | None, progress: Progress | None):
        self.catalog = catalog
        self.policy_ref = policy_ref
        self.sources = list(sources or [])
        self.executor_name = executor
        self.workers = workers
        self.progress = progress
        self.root = catalog.data_root

    # ------------------------------------------------------------------ run record
    def _open_run(self) -> tuple[int, bool]:
        with self.catalog.uow() as uow:
            stored, self.policy = policy_store.resolve(uow, self.policy_ref)
            key = {"policy_sha256": self.policy.sha256, "sources": sorted(self.sources)}
            previous = uow.session.execute(
                select(Run).where(Run.kind == "process", Run.policy_id == stored.id)
                .order_by(Run.id.desc())).scalars().first()
            if (previous is not None and previous.status != "completed"
                    and {k: previous.config.get(k) for k in key} == key):
                previous.status = "running"
                uow.session.add(previous)
                uow.audit.record("run.resume", "run", str(previous.id), after=key)
                uow.commit()
                return previous.id, True
            run = Run(kind="process", policy_id=stored.id, actor=uow.actor, started_at=utcnow(),
                      code_version=code_version(),
                      config={**key, "policy": f"{self.policy.name}@{self.policy.version}",
                              "executor": self.executor_name, "workers": self.workers})
            uow.session.add(run)
            uow.session.flush()
            uow.audit.record("run.start", "run", str(run.id), after=run.config)
            uow.commit()
            return run.id, False

    def _set_config(self, **values: Any) -> None:
        with self.catalog.uow() as uow:
            run = uow.session.get(Run, self.run_id)
            run.config = {**run.config, **values}
            uow.session.add(run)
            uow.commit()

    def _recorded(self) -> dict[str, Shard]:
        with self.catalog.session() as s:
            rows = s.execute(select(Shard).where(Shard.run_id == self.run_id)).scalars().all()
        return {r.path: r for r in rows}

    def _record(self, *, kind: str, stage: str, path: Path, n_docs: int) -> None:
        rel = str(path.relative_to(self.root))
        with self.catalog.uow() as uow:
            existing = uow.session.execute(select(Shard).where(Shard.path == rel)).scalars().first()
            if existing is None:
                uow.session.add(Shard(run_id=self.run_id, kind=kind, stage=stage, path=rel,
                                      sha256=file_sha256(path), n_docs=n_docs,
                                      n_bytes=path.stat().st_size, created_at=utcnow()))
            uow.commit()

    # ------------------------------------------------------------------ steps
    def _admission(self) -> None:
        gate_run = self.config.get("gate_run")
        if gate_run is None:
            result = gate_svc.gate(self.catalog, policy_ref=self.policy_ref,
                                   sources=self.sources or None)
            gate_run = result.run_id
            self._set_config(gate_run=gate_run)
            self.config["gate_run"] = gate_run
        self.gate_run = gate_run
        _, path, _ = gate_svc.decision_file(self.catalog, gate_run)
        table = pq.read_table(path, columns=["id", "effect", "rule_ids", "n_tokens"]).to_pydict()
        admitted = []
        funnel = self.admission_funnel = StageFunnel("admission")
        for doc_id, effect, rules, n in zip(table["id"], table["effect"], table["rule_ids"],
                                            table["n_tokens"], strict=True):
            funnel.docs_in += 1
            funnel.tokens_in += n
            if effect == "allow":
                admitted.append(doc_id)
                funnel.kept += 1
                funnel.kept_tokens += n
            else:
                key = ",".join(rules) or gate_svc.DEFAULT_RULE
                funnel.dropped[key] += 1
                funnel.dropped_tokens[key] += n
        self.alive: set[str] = set(admitted)
        self.docs: dict[str, tuple[int, int, Any, str]] = {}  # id -> shard, tokens, time, sha
        self.shard_paths: dict[int, str] = {}
        with self.catalog.session() as s:
            ids = sorted(self.alive)
            for start in range(0, len(ids), 5000):
                chunk = ids[start:start + 5000]
                for row in s.execute(select(Document.id, Document.shard_id, Document.n_tokens,
                                            Document.collected_at, Document.content_sha256)
                                     .where(Document.id.in_(chunk))):
                    self.docs[row[0]] = (row[1], row[2] or 0, row[3], row[4])
            shard_ids = sorted({v[0] for v in self.docs.values() if v[0] is not None})
            for sh in s.execute(select(Shard).where(Shard.id.in_(shard_ids))).scalars():
                self.shard_paths[sh.id] = sh.path

    def _shards_with_alive(self) -> list[int]:
        return sorted({self.docs[i][0] for i in self.alive if self.docs[i][0] is not None})

    def _measure(self, stage: str) -> dict[int, Path]:
        """Run one stage's attribute tasks over the document shards that hold live documents."""
        spec = StageSpec(STAGE_SPECS[stage])
        out_dir = self.root / "attributes" / f"run-{self.run_id:06d}" / stage
        tasks, outputs = [], {}
        for shard_id in self._shards_with_alive():
            out = out_dir / f"shard-{shard_id:06d}.parquet"
            outputs[shard_id] = out
            tasks.append(ShardTask(str(self.root / self.shard_paths[shard_id]), str(out),
                                   (spec,), columns=("id", "text")))
        recorded = self._recorded()
        expected = {str(self.root / p): r.sha256 for p, r in recorded.items()}

        def done(result) -> None:
            self._record(kind="attributes", stage=stage, path=Path(result.output_path),
                         n_docs=result.rows)
            if self.progress:
                self.progress(stage, result.rows)

        if tasks:
            self.executor.run(tasks, done=done, expected=expected)
        return outputs

    def _decide(self, stage: str, compiled: CompiledPolicy, rows: Iterable[dict[str, Any]],
                funnel: StageFunnel) -> None:
        """Decide a stage for live documents from their attribute rows; write the decisions."""
        required = compiled.required_facts(stage)
        ids, effects, rules, defaults, tokens = [], [], [], [], []
        by_rule: Counter = Counter()
        by_rule_tokens: Counter = Counter()
        redactions: dict[str, list[str]] = {}
        for row in rows:
            doc_id = row["id"]
            if doc_id not in self.alive:
                continue
            facts = {p: _coerce(p, row.get(p[5:])) for p in required if p.startswith("attr.")}
            facts["doc.id"] = doc_id
            d = compiled.decide(stage, facts)
            n = self.docs[doc_id][1]
            funnel.docs_in += 1
            funnel.tokens_in += n
            for rule in d.rule_ids or (gate_svc.DEFAULT_RULE,):
                by_rule[(rule, d.effect)] += 1
                by_rule_tokens[(rule, d.effect)] += n
            if d.passes:
                funnel.kept += 1
                funnel.kept_tokens += n
                if d.effect == "redact" and d.redact:
                    counts = _coerce("attr.pii_counts", row.get("pii_counts")) or {}
                    for entity in d.redact:
                        funnel.redacted[entity] += int(counts.get(entity, 0))
                    redactions[doc_id] = list(d.redact)
            else:
                self.alive.discard(doc_id)
                key = ",".join(d.rule_ids) or gate_svc.DEFAULT_RULE
                funnel.dropped[key] += 1
                funnel.dropped_tokens[key] += n
            ids.append(doc_id)
            effects.append(d.effect)
            rules.append(list(d.rule_ids))
            defaults.append(d.default_applied)
            tokens.append(n)
        order = np.argsort(np.array(ids, dtype=object)) if ids else []
        table = pa.table({
            "id": pa.array([ids[i] for i in order], pa.string()),
            "effect": pa.array([effects[i] for i in order], pa.string()),
            "rule_ids": pa.array([rules[i] for i in order], pa.list_(pa.string())),
            "default_applied": pa.array([defaults[i] for i in order], pa.bool_()),
            "n_tokens": pa.array([tokens[i] for i in order], pa.int64()),
            "redact": pa.array([redactions.get(ids[i], []) for i in order],
                               pa.list_(pa.string())),
        })
        path = self.root / "decisions" / f"run-{self.run_id:06d}" / f"{stage}.parquet"
        write_table_atomic(table, path)
        self._record(kind="decisions", stage=stage, path=path, n_docs=len(ids))
        with self.catalog.uow() as uow:
            uow.session.execute(DecisionCount.__table__.delete().where(
                DecisionCount.run_id == self.run_id, DecisionCount.stage == stage))
            for (rule, effect), docs in sorted(by_rule.items()):
                uow.session.add(DecisionCount(run_id=self.run_id, stage=stage, rule_id=rule,
                                              effect=effect, documents=docs,
                                              tokens=by_rule_tokens[(rule, effect)]))
            uow.commit()

    def _attribute_rows(self, outputs: dict[int, Path]) -> Iterable[dict[str, Any]]:
        for _, path in sorted(outputs.items()):
            yield from pq.read_table(path).to_pylist()

    def _dedup(self, compiled: CompiledPolicy, funnel: StageFunnel) -> dict[str, Any]:
        from processing.dedup import DedupIndex, DedupParams, cluster, signatures

        params = DedupParams()
        out = self.root / "attributes" / f"run-{self.run_id:06d}" / "dedup" / "dedup.parquet"
        recorded = self._recorded().get(str(out.relative_to(self.root)))
        if recorded is None or not out.exists() or file_sha256(out) != recorded.sha256:
            ids, times, hashes, sigs = [], [], [], []
            for shard_id in self._shards_with_alive():
                table = pq.read_table(self.root / self.shard_paths[shard_id],
                                      columns=["id", "text"]).to_pydict()
                keep = [i for i, d in enumerate(table["id"]) if d in self.alive]
                if not keep:
                    continue
                batch_ids = [table["id"][i] for i in keep]
                sigs.append(signatures([table["text"][i] for i in keep], params))
                ids.extend(batch_ids)
                times.extend(as_utc(self.docs[d][2]) for d in batch_ids)
                hashes.extend(self.docs[d][3] for d in batch_ids)
                if self.progress:
                    self.progress("dedup", len(batch_ids))
            prior_dir = self.root / "dedup-index"
            prior = DedupIndex.open(prior_dir if prior_dir.exists() else None, params)
            info = (cluster(ids, times, np.concatenate(sigs), content_hashes=hashes,
                            prior=prior, params=params) if ids else {})
            rows = [{"id": i, **info[i].attributes()} for i in sorted(info)]
            table = (pa.Table.from_pylist(rows) if rows
                     else pa.table({"id": pa.array([], pa.string())}))
            write_table_atomic(table, out)
            self._record(kind="attributes", stage="dedup", path=out, n_docs=len(rows))
        self._decide("dedup", compiled, pq.read_table(out).to_pylist(), funnel)
        return {"params": {k: getattr(params, k)
                           for k in ("shingle_words", "num_perm", "bands", "rows", "seed")}}

    def _check_components(self):
        """Fail before any work when a stage or the executor cannot load, naming the fix."""
        from processing import stage as registry
        from processing.stage import MissingDependencyError, StageError

        try:
            for name in STAGE_SPECS.values():
                registry.get(name)
            import processing.dedup  # noqa: F401  (needs datasketch/numpy/scipy)

            options = {"workers": self.workers} if self.executor_name == "local" else {}
            return create_executor(self.executor_name, **options)
        except MissingDependencyError as exc:  # carries its own install command
            raise MissingComponent(f"cannot run the pipeline: {exc}") from None
        except (StageError, ImportError) as exc:
            raise MissingComponent(
                f"cannot run the pipeline: {exc}; install govcat with its dependencies: "
                "pip install 'govcat[license,ray]' (from a checkout: make install)") from None

    # ------------------------------------------------------------------ main
    def run(self) -> ProcessResult:
        self.executor = self._check_components()
        self.run_id, resumed = self._open_run()
        with self.catalog.session() as s:
            self.config = dict(s.get(Run, self.run_id).config)
        compiled = compile_policy(self.policy)
        status = "failed"
        funnel: list[StageFunnel] = []
        models: dict[str, Any] = {}
        try:
            self._admission()
            funnel.append(self.admission_funnel)
            for stage in ("langid", "quality"):
                outputs = self._measure(stage)
                f = StageFunnel(stage)
                self._decide(stage, compiled, self._attribute_rows(outputs), f)
                funnel.append(f)
            f = StageFunnel("dedup")
            models["dedup"] = self._dedup(compiled, f)
            funnel.append(f)
            outputs = self._measure("pii")
            f = StageFunnel("pii")
            self._decide("pii", compiled, self._attribute_rows(outputs), f)
            funnel.append(f)
            models.update(_model_info())
            status = "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            with self.catalog.uow() as uow:
                uow.session.execute(update(Run).where(Run.id == self.run_id).values(
                    status=status, finished_at=utcnow(),
                    stats={"funnel": [x.to_dict() for x in funnel], "models": models,
                           "kept": len(getattr(self, "alive", ()))}))
                uow.audit.record(f"run.{status}", "run", str(self.run_id),
                                 after={"kept": len(getattr(self, "alive", ()))})
                uow.commit()
        return ProcessResult(self.run_id, self.gate_run, f"{self.policy.name}@"
                             f"{self.policy.version}", funnel, sorted(self.alive), resumed,
                             models)


def _model_info() -> dict[str, Any]:
    from processing.stages import langid, pii

    return {"langid": langid.MODEL_INFO.to_dict(), "pii": dict(pii.PII_ENGINE_INFO)}


def run_pipeline(catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None = None,
                 executor: str = "local", workers: int | None = None,
                 progress: Progress | None = None) -> ProcessResult:
    if executor not in ("local", "ray"):
        raise InvalidInput(f"unknown executor {executor!r}; use local or ray")
    return _Run(catalog, policy_ref=policy_ref, sources=sources, executor=executor,
                workers=workers, progress=progress).run()
