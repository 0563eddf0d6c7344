"""`govcat run`: the documents a policy admits go through langid → quality → dedup → pii.

Measure, then decide: each stage writes attribute shards (one per document shard, via an
executor: local processes or Ray), then the policy's rules for that stage decide per document
(keep / drop / redact) with rule ids, written to `decisions/run-N/<stage>.parquet`. Only the
documents kept so far reach dedup and PII.

Resumable: attribute shards are written atomically and recorded with their sha256; running
the same command again after a crash reuses the unfinished run, skips every recorded shard,
and ends with the same outputs as an uninterrupted run.

The content filters (bad words, toxicity, benchmark decontamination, a fastText quality
classifier) run in the quality task, over the same shard, into the same attribute shard: the
quality rules read their attributes (docs/content-filters.md). What they were given (list and
model hashes, the evaluation sets) is part of the run's key, so a resumed run never mixes two
configurations. A stage's rules also see the attributes of earlier stages (`attr.lang` in
quality), read from those stages' shards.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from catalog.context import Catalog
from catalog.errors import InvalidInput
from catalog.models import Document, Shard
from catalog.runs import RunLifecycle
from catalog.services import gate as gate_svc
from catalog.services import policies as policy_store
from catalog.services.integrity import check_document_shards
from catalog.timeutil import as_utc
from common.atomic import file_sha256, write_table_atomic
from policies import decision_log
from policies.decision_log import DEFAULT_RULE, DecisionLogWriter, RuleTally
from policies.engine import CompiledPolicy, compile_policy
from policies.facts import coerce_attribute
from processing.executor import create_executor
from processing.pipeline import ShardTask, StageSpec


class MissingComponent(InvalidInput):
    """A stage's optional dependency (or Ray) is not installed."""


CONTENT_FILTERS = ("badwords_v1", "toxicity_v1", "decontam_v1")
CLASSIFIER = "fasttext_classifier_v1"  # in the quality task when a model is given
STAGE_SPECS = {"langid": ("langid_v1",), "quality": ("quality_v1", *CONTENT_FILTERS),
               "pii": ("pii_v2",)}


@dataclass(frozen=True)
class ContentFilters:
    """What the content filters of a run are given (`govcat run --badwords-list ...`)."""

    badwords_lists: tuple[str, ...] = ()
    toxicity_model: str | None = None  # None: alt-profanity-check's bundled model
    fasttext_model: str | None = None  # None: no model-based quality classifier
SIGNATURE_COLUMN = "minhash"  # dedup attributes: each document's signature, little-endian u32
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

    def count(self, effect: str, rule_ids: Sequence[str], n_tokens: int, *,
              passes: bool) -> None:
        self.docs_in += 1
        self.tokens_in += n_tokens
        if passes:
            self.kept += 1
            self.kept_tokens += n_tokens
        else:
            key = ",".join(rule_ids) or DEFAULT_RULE
            self.dropped[key] += 1
            self.dropped_tokens[key] += n_tokens


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


class _Run:
    def __init__(self, catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None,
                 executor: str, workers: int | None, progress: Progress | None,
                 filters: ContentFilters | None = None, ray_address: str | None = None):
        self.catalog = catalog
        self.filters = filters or ContentFilters()
        self.outputs: dict[str, dict[int, Path]] = {}
        self.layout = catalog.layout
        self.policy_ref = policy_ref
        self.sources = list(sources or [])
        self.executor_name = executor
        self.workers = workers
        self.ray_address = ray_address
        self.progress = progress
        self.root = catalog.data_root
        self.alive: set[str] = set()

    # ------------------------------------------------------------------ steps
    def _admission(self) -> None:
        gate_run = self.life.config.get("gate_run")
        if gate_run is None:
            result = gate_svc.gate(self.catalog, policy_ref=self.policy_ref,
                                   sources=self.sources or None)
            gate_run = result.run_id
            self.life.set_config(gate_run=gate_run)
        self.gate_run = gate_run
        _, path, _ = gate_svc.decision_file(self.catalog, gate_run)
        table = decision_log.read(path, columns=["id", "effect", "rule_ids", "n_tokens"])
        table = table.to_pydict()
        admitted = []
        funnel = self.admission_funnel = StageFunnel("admission")
        for doc_id, effect, rules, n in zip(table["id"], table["effect"], table["rule_ids"],
                                            table["n_tokens"], strict=True):
            funnel.count(effect, rules, n, passes=effect == "allow")
            if effect == "allow":
                admitted.append(doc_id)
        self.alive = set(admitted)
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
            shards = s.execute(select(Shard).where(Shard.id.in_(shard_ids))).scalars().all()
        for sh in shards:
            self.shard_paths[sh.id] = sh.path
        # Every stage reads these: a missing, truncated or altered shard stops the run here,
        # named, before any work is done on it.
        check_document_shards(self.catalog, shards)

    def _shards_with_alive(self) -> list[int]:
        return sorted({self.docs[i][0] for i in self.alive if self.docs[i][0] is not None})

    def _content_filters(self) -> tuple[tuple[StageSpec, ...], dict[str, Any]]:
        """The quality task's content-filter stages with their options, and what the run
        records of them; each is built once here, so a bad list or model stops the run
        before any work."""
        from catalog.services import decontam as decontam_svc
        from processing import stage as registry
        from processing.stage import MissingDependencyError, StageError

        f = self.filters
        options: dict[str, dict[str, Any]] = {
            "badwords_v1": {"lists": [str(Path(p)) for p in f.badwords_lists]},
            "toxicity_v1": {"model_path": f.toxicity_model},
            "decontam_v1": {"sets": decontam_svc.stage_options(self.catalog)},
        }
        if f.fasttext_model is not None:
            options[CLASSIFIER] = {"model_path": str(f.fasttext_model)}
        try:
            built = {name: registry.create(name, **opts) for name, opts in options.items()}
            info = {
                "badwords": built["badwords_v1"].describe(),
                "toxicity": built["toxicity_v1"].model_info.to_dict(),
                "decontam": [{"name": s["name"], "n": s["n"], "sha256": s["sha256"]}
                             for s in options["decontam_v1"]["sets"]],
            }
            if CLASSIFIER in built:
                info["fasttext_classifier"] = built[CLASSIFIER].model_info.to_dict()
        except MissingDependencyError as exc:
            raise MissingComponent(f"cannot run the pipeline: {exc}") from None
        except StageError as exc:
            raise InvalidInput(str(exc)) from None
        specs = tuple(StageSpec(name, opts) for name, opts in options.items())
        return specs, info

    def _specs(self, stage: str) -> tuple[StageSpec, ...]:
        if stage == "quality":
            return (StageSpec("quality_v1"), *self.filter_specs)
        return tuple(StageSpec(name) for name in STAGE_SPECS[stage])

    def _measure(self, stage: str) -> dict[int, Path]:
        """Run one stage's attribute tasks over the document shards that hold live documents."""
        specs = self._specs(stage)
        tasks, outputs = [], {}
        for shard_id in self._shards_with_alive():
            out = self.layout.attribute_shard(self.life.run_id, stage, shard_id)
            outputs[shard_id] = out
            tasks.append(ShardTask(str(self.root / self.shard_paths[shard_id]), str(out),
                                   specs, columns=("id", "text")))
        expected = {str(self.root / p): r.sha256 for p, r in self.life.recorded_shards().items()}

        def done(result) -> None:
            self.life.record_shard(kind="attributes", stage=stage, n_docs=result.rows,
                                   path=Path(result.output_path))
            if self.progress:
                self.progress(stage, result.rows)

        if tasks:
            self.executor.run(tasks, done=done, expected=expected)
        self.outputs[stage] = outputs
        return outputs

    def _decide(self, stage: str, compiled: CompiledPolicy, rows: Iterable[dict[str, Any]],
                funnel: StageFunnel) -> None:
        """Decide a stage for live documents from their attribute rows; log the decisions."""
        required = compiled.required_facts(stage)
        tally = RuleTally(stage)
        path = self.layout.decision_log(self.life.run_id, stage)
        with DecisionLogWriter(path, stage) as log:
            for row in rows:
                doc_id = row["id"]
                if doc_id not in self.alive:
                    continue
                facts = {p: coerce_attribute(p, row.get(p[5:]))
                         for p in required if p.startswith("attr.")}
                facts["doc.id"] = doc_id
                d = compiled.decide(stage, facts)
                n = self.docs[doc_id][1]
                tally.add(d.effect, d.rule_ids, n)
                funnel.count(d.effect, d.rule_ids, n, passes=d.passes)
                spans: list[dict[str, Any]] = []
                if d.passes and d.effect == "redact" and d.redact:
                    counts = coerce_attribute("attr.pii_counts", row.get("pii_counts")) or {}
                    for entity in d.redact:
                        funnel.redacted[entity] += int(counts.get(entity, 0))
                    spans = row.get("pii_spans") or []
                    if isinstance(spans, str):
                        spans = json.loads(spans)
                if not d.passes:
                    self.alive.discard(doc_id)
                log.add(doc_id, d, n, spans)
            written = log.close()
        gate_svc.record_decisions(self.catalog, self.life, stage, written, tally)

    def _attribute_rows(self, outputs: dict[int, Path], compiled: CompiledPolicy | None = None,
                        stage: str | None = None) -> Iterable[dict[str, Any]]:
        """The attribute rows of a stage's shards; with `compiled`, also the attributes of
        earlier stages its rules read (the same document shard gives the same rows, in the
        same order, to every stage)."""
        wanted: set[str] = set()
        if compiled is not None and stage is not None:
            wanted = {p[5:] for p in compiled.required_facts(stage) if p.startswith("attr.")}
        for shard_id, path in sorted(outputs.items()):
            table = pq.read_table(path)
            lacking = wanted - set(table.column_names)
            for earlier in self.outputs.values():
                prior = earlier.get(shard_id)
                if not lacking or prior is None or prior == path:
                    continue
                columns = [c for c in pq.read_schema(prior).names if c in lacking]
                if not columns:
                    continue
                extra = pq.read_table(prior, columns=["id", *columns])
                if not extra.column("id").equals(table.column("id")):
                    raise InvalidInput(f"{prior}: not the documents of {path}; run again")
                for name in columns:
                    table = table.append_column(name, extra.column(name))
                lacking -= set(columns)
            yield from table.to_pylist()

    def _dedup(self, compiled: CompiledPolicy, funnel: StageFunnel) -> dict[str, Any]:
        """Cluster the live documents with the dedup stage (processing/stages/dedup.py),
        against the index of released documents, then decide."""
        from processing.dedup import DedupIndex, DedupParams
        from processing.stages.dedup import Deduplicator
        from processing.types import Document as ProcDocument

        params = DedupParams()
        out = self.layout.dedup_attributes(self.life.run_id)
        recorded = self.life.recorded_shards().get(self.layout.relative(out))
        if recorded is None or not out.exists() or file_sha256(out) != recorded.sha256:
            prior_dir = self.layout.dedup_index
            prior = DedupIndex.open(prior_dir if prior_dir.exists() else None, params)
            dedup = Deduplicator(params=params, prior=prior)

            def documents():
                for shard_id in self._shards_with_alive():
                    table = pq.read_table(self.root / self.shard_paths[shard_id],
                                          columns=["id", "text"]).to_pydict()
                    n = 0
                    for doc_id, text in zip(table["id"], table["text"], strict=True):
                        if doc_id in self.alive:
                            n += 1
                            yield ProcDocument(doc_id, text, {
                                "collected_at": as_utc(self.docs[doc_id][2])})
                    if self.progress:
                        self.progress("dedup", n)

            for _ in dedup.run(documents()):
                pass
            info = dedup.finish()
            order = sorted(info)
            rows = [{"id": i, **info[i]} for i in order]
            table = (pa.Table.from_pylist(rows) if rows
                     else pa.table({"id": pa.array([], pa.string())}))
            # The signatures go with the clusters, so a release cut adds its documents to
            # the dedup index without computing MinHash again.
            _, _, sigs, _ = dedup.index_rows(order)
            width = params.num_perm * 4
            table = table.append_column(SIGNATURE_COLUMN, pa.array(
                [sig.astype("<u4").tobytes() for sig in sigs], pa.binary(width)))
            written = write_table_atomic(table, out)
            self.life.record_shard(kind="attributes", stage="dedup", path=out,
                                   n_docs=len(rows), sha256=written.sha256)
        columns = [c for c in pq.read_schema(out).names if c != SIGNATURE_COLUMN]
        self._decide("dedup", compiled, pq.read_table(out, columns=columns).to_pylist(), funnel)
        return {"params": {k: getattr(params, k)
                           for k in ("shingle_words", "num_perm", "bands", "rows", "seed")}}

    def _check_components(self):
        """Fail before any work when a stage or the executor cannot load, naming the fix."""
        from processing import stage as registry
        from processing.stage import MissingDependencyError, StageError

        try:
            for names in STAGE_SPECS.values():
                for name in names:
                    registry.get(name)
            import processing.dedup  # noqa: F401  (needs datasketch/numpy/scipy)

            options: dict[str, Any] = (
                {"workers": self.workers} if self.executor_name == "local"
                else {"address": self.ray_address})
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
        with self.catalog.uow() as uow:
            stored, self.policy = policy_store.resolve(uow, self.policy_ref)
            uow.commit()
        self.filter_specs, filter_info = self._content_filters()
        key = {"policy_sha256": self.policy.sha256, "sources": sorted(self.sources),
               "filters": _filter_key(filter_info)}
        lock = f"process:{self.policy.sha256[:16]}:{','.join(key['sources']) or '*'}"
        compiled = compile_policy(self.policy)
        funnel: list[StageFunnel] = []
        models: dict[str, Any] = {}
        config = {"policy": f"{self.policy.name}@{self.policy.version}",
                  "executor": self.executor_name, "workers": self.workers}
        with RunLifecycle(self.catalog, kind="process", lock=lock, policy_id=stored.id,
                          resume_key=key, config=config) as life:
            self.life = life

            def checkpoint() -> None:
                life.stats = {"funnel": [x.to_dict() for x in funnel], "models": models,
                              "kept": len(self.alive)}
                life.end_audit = {"kept": len(self.alive)}

            checkpoint()
            self._admission()
            funnel.append(self.admission_funnel)
            checkpoint()
            for stage in ("langid", "quality"):
                outputs = self._measure(stage)
                f = StageFunnel(stage)
                self._decide(stage, compiled, self._attribute_rows(outputs, compiled, stage), f)
                funnel.append(f)
                checkpoint()
            f = StageFunnel("dedup")
            models["dedup"] = self._dedup(compiled, f)
            funnel.append(f)
            checkpoint()
            outputs = self._measure("pii")
            f = StageFunnel("pii")
            self._decide("pii", compiled, self._attribute_rows(outputs, compiled, "pii"), f)
            funnel.append(f)
            models.update(_model_info())
            models["quality"] = {"stages": [s.name for s in self._specs("quality")],
                                 **filter_info}
            checkpoint()
        return ProcessResult(life.run_id, self.gate_run, f"{self.policy.name}@"
                             f"{self.policy.version}", funnel, sorted(self.alive), life.resumed,
                             models)


def _filter_key(info: dict[str, Any]) -> dict[str, Any]:
    """The identity of what the content filters were given: hashes, never paths."""
    key: dict[str, Any] = {"badwords": [w["sha256"] for w in info["badwords"]],
                           "toxicity": info["toxicity"]["sha256"],
                           "decontam": [f"{s['name']}:{s['sha256']}" for s in info["decontam"]]}
    if "fasttext_classifier" in info:
        key["fasttext_classifier"] = info["fasttext_classifier"]["sha256"]
    return key


def _model_info() -> dict[str, Any]:
    from processing.stages import langid, pii

    return {"langid": langid.MODEL_INFO.to_dict(), "pii": dict(pii.PII_ENGINE_INFO)}


def run_pipeline(catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None = None,
                 executor: str = "local", workers: int | None = None,
                 progress: Progress | None = None,
                 filters: ContentFilters | None = None,
                 ray_address: str | None = None) -> ProcessResult:
    """`ray_address` ("auto" or "ray://HOST:PORT") attaches the Ray executor to a running
    cluster; it is not part of the run's key, so a run resumes on another cluster."""
    if executor not in ("local", "ray"):
        raise InvalidInput(f"unknown executor {executor!r}; use local or ray")
    if ray_address is not None and executor != "ray":
        raise InvalidInput("--ray-address needs --executor ray")
    return _Run(catalog, policy_ref=policy_ref, sources=sources, executor=executor,
                workers=workers, progress=progress, filters=filters,
                ray_address=ray_address).run()
