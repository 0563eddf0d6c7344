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

Memory does not grow with the corpus: the run works one document shard at a time. The
admitted documents are bucketed by shard into files, each stage decides a shard's survivors
of the previous stage (read back from `spill/alive-<stage>/`) into a per-shard decision file,
and the stage's decision log is the id-ordered merge of those files. Dedup clusters through
band partitions on disk (processing/dedup/partitions.py); docs/architecture.md, "Memory".
"""

from __future__ import annotations

import heapq
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
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
from common.atomic import atomic_path, file_sha256, write_table_atomic
from common.storage import (
    RemotePath,
    as_path,
    parquet_file,
    path_str,
    read_schema,
    read_table,
    store_environment,
)
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
DEDUP_MEMORY_BUDGET = 128 << 20  # bytes for one dedup band partition (partition_count)
_ADMITTED_CHUNK = 65_536  # admitted documents bucketed per file
_LOOKUP = 5000  # ids per catalog query
# Rows read at a time from each per-shard file while merging, and the row groups those files
# are written in: a reader decodes a whole row group, so memory is this × the shards merged.
_MERGE_BATCH = 1024
_ALIVE_SCHEMA = pa.schema([("id", pa.string()), ("n_tokens", pa.int64()),
                           ("collected_at", pa.timestamp("us", tz="UTC"))])
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
    kept: int  # documents kept by every stage (the pii decision log names them)
    resumed: bool
    models: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "gate_run": self.gate_run_id, "policy": self.policy,
                "resumed": self.resumed, "kept": self.kept,
                "funnel": [f.to_dict() for f in self.funnel], "models": self.models}


class _Run:
    def __init__(self, catalog: Catalog, *, policy_ref: str, sources: Sequence[str] | None,
                 executor: str, workers: int | None, progress: Progress | None,
                 filters: ContentFilters | None = None, ray_address: str | None = None):
        self.catalog = catalog
        self.filters = filters or ContentFilters()
        self.outputs: dict[str, dict[int, Path | RemotePath]] = {}
        self.layout = catalog.layout
        self.policy_ref = policy_ref
        self.sources = list(sources or [])
        self.executor_name = executor
        self.workers = workers
        self.ray_address = ray_address
        self.progress = progress
        self.root = catalog.data_root
        self.dedup_memory_budget = DEDUP_MEMORY_BUDGET
        self.shards: list[int] = []  # document shards holding admitted documents
        self.alive_in: dict[str, dict[int, int]] = {}  # stage -> shard -> survivors
        self.stage_before = {"langid": "admission", "quality": "langid", "dedup": "quality",
                             "pii": "dedup"}
        # Seconds per step (stats["timings"], read by bench/scale_costs.py): gate_s (when the
        # run gated), admission_s, and measure_s / decide_s per stage; a resumed run starts
        # from what the attempts before it recorded, so the figures are the run's whole cost.
        self.timings: dict[str, Any] = {}

    @contextmanager
    def _timed(self, stage: str, part: str = "") -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            if not part:  # a step of its own: gate, admission
                key = f"{stage}_s"
                self.timings[key] = self.timings.get(key, 0.0) + seconds
            else:
                entry = self.timings.setdefault(stage, {"measure_s": 0.0, "decide_s": 0.0})
                entry[part] += seconds

    # ------------------------------------------------------------------ steps
    def _spill(self, name: str) -> Path:
        return self.layout.run_spill(self.life.run_id, name)

    def _alive_path(self, stage: str, shard_id: int) -> Path:
        return self._spill(f"alive-{stage}") / f"shard-{shard_id:06d}.parquet"

    def _alive(self, stage: str, shard_id: int) -> pa.Table:
        """The documents of a shard that passed `stage` (id order): id, n_tokens, collected_at."""
        if not self.alive_in[stage].get(shard_id):
            return _ALIVE_SCHEMA.empty_table()
        return read_table(self._alive_path(stage, shard_id))

    def _write_alive(self, stage: str, shard_id: int, table: pa.Table) -> None:
        self.alive_in.setdefault(stage, {})[shard_id] = table.num_rows
        if table.num_rows:
            write_table_atomic(table.select(_ALIVE_SCHEMA.names).cast(_ALIVE_SCHEMA),
                               self._alive_path(stage, shard_id))

    @property
    def n_alive(self) -> int:
        last = next((s for s in ("pii", "dedup", "quality", "langid", "admission")
                     if s in self.alive_in), None)
        return sum(self.alive_in[last].values()) if last else 0

    def _gate(self) -> None:
        """The gate run this run admits from: its own, made by its first attempt."""
        gate_run = self.life.config.get("gate_run")
        if gate_run is None:
            with self._timed("gate"):
                result = gate_svc.gate(self.catalog, policy_ref=self.policy_ref,
                                       sources=self.sources or None)
            gate_run = result.run_id
            self.life.set_config(gate_run=gate_run)
        self.gate_run = gate_run

    def _admission(self) -> None:
        """Stream the gate's log; bucket the admitted documents by shard into files, a chunk
        at a time, then write each shard's admitted documents (one shard in memory)."""
        _, path, _ = gate_svc.decision_file(self.catalog, self.gate_run)
        funnel = self.admission_funnel = StageFunnel("admission")
        chunks: list[Path] = []
        pending: list[str] = []
        shard_ids: set[int] = set()

        def bucket() -> None:
            rows: dict[str, list[Any]] = {"shard_id": [], "id": [], "n_tokens": [],
                                          "collected_at": []}
            with self.catalog.session() as s:
                for start in range(0, len(pending), _LOOKUP):
                    chunk = pending[start:start + _LOOKUP]
                    for row in s.execute(select(Document.id, Document.shard_id,
                                                Document.n_tokens, Document.collected_at)
                                         .where(Document.id.in_(chunk))):
                        if row[1] is None:
                            continue  # no shard to read it from
                        rows["shard_id"].append(row[1])
                        rows["id"].append(row[0])
                        rows["n_tokens"].append(row[2] or 0)
                        rows["collected_at"].append(as_utc(row[3]))
            table = pa.table({"shard_id": pa.array(rows["shard_id"], pa.int64()),
                              **{k: pa.array(rows[k], _ALIVE_SCHEMA.field(k).type)
                                 for k in _ALIVE_SCHEMA.names}})
            shard_ids.update(rows["shard_id"])
            out = self._spill("admitted") / f"chunk-{len(chunks):06d}.parquet"
            # Sorted by shard in small row groups: a shard's rows are read back by statistics.
            write_table_atomic(table.sort_by([("shard_id", "ascending"), ("id", "ascending")]),
                               out, row_group_size=4096)
            chunks.append(out)
            pending.clear()

        for row in decision_log.iter_rows(path, columns=["id", "effect", "rule_ids",
                                                        "n_tokens"]):
            funnel.count(row["effect"], row["rule_ids"], row["n_tokens"],
                         passes=row["effect"] == "allow")
            if row["effect"] == "allow":
                pending.append(row["id"])
                if len(pending) >= _ADMITTED_CHUNK:
                    bucket()
        if pending:
            bucket()
        self.shards = sorted(shard_ids)
        self.alive_in["admission"] = {}
        for shard_id in self.shards:
            parts = [read_table(c, columns=_ALIVE_SCHEMA.names,
                                   filters=[("shard_id", "=", shard_id)]) for c in chunks]
            self._write_alive("admission", shard_id,
                              pa.concat_tables(parts).sort_by("id"))
        with self.catalog.session() as s:
            shards = s.execute(select(Shard).where(Shard.id.in_(self.shards))).scalars().all()
        self.shard_paths = {sh.id: sh.path for sh in shards}
        # Every stage reads these: a missing, truncated or altered shard stops the run here,
        # named, before any work is done on it.
        check_document_shards(self.catalog, shards)

    def _shards_with_alive(self, stage: str) -> list[int]:
        """The shards holding documents that reach `stage`."""
        before = self.alive_in[self.stage_before[stage]]
        return [s for s in self.shards if before.get(s)]

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

    def _measure(self, stage: str) -> dict[int, Path | RemotePath]:
        """Run one stage's attribute tasks over the document shards that hold live documents."""
        specs = self._specs(stage)
        tasks, outputs = [], {}
        for shard_id in self._shards_with_alive(stage):
            out = self.layout.attribute_shard(self.life.run_id, stage, shard_id)
            outputs[shard_id] = out
            tasks.append(ShardTask(str(self.root / self.shard_paths[shard_id]), str(out),
                                   specs, columns=("id", "text")))
        expected = {path_str(self.root / p): r.sha256
                    for p, r in self.life.recorded_shards().items()}

        def done(result) -> None:
            # The worker's hash and size of the bytes it wrote: an object is not read back.
            self.life.record_shard(kind="attributes", stage=stage, n_docs=result.rows,
                                   path=as_path(result.output_path), sha256=result.sha256,
                                   n_bytes=result.n_bytes)
            if self.progress:
                self.progress(stage, result.rows)

        if tasks:
            self.executor.run(tasks, done=done, expected=expected)
        self.outputs[stage] = outputs
        return outputs

    def _decide(self, stage: str, compiled: CompiledPolicy,
                rows_of: Callable[[int], Iterable[dict[str, Any]]], funnel: StageFunnel) -> None:
        """Decide a stage for the documents that reach it, a shard at a time, from their
        attribute rows (`rows_of(shard)`); the shard's decisions go to a file of their own and
        its survivors on to the next stage; the stage's log is their merge in id order."""
        required = compiled.required_facts(stage)
        tally = RuleTally(stage)
        before = self.stage_before[stage]
        self.alive_in[stage] = {}
        parts: list[Path] = []
        for shard_id in self._shards_with_alive(stage):
            alive = self._alive(before, shard_id)
            tokens = dict(zip(alive.column("id").to_pylist(),
                              alive.column("n_tokens").to_pylist(), strict=True))
            passed: list[str] = []
            part = self._spill(f"decisions-{stage}") / f"shard-{shard_id:06d}.parquet"
            with DecisionLogWriter(part, stage, row_group_rows=_MERGE_BATCH) as log:
                for row in rows_of(shard_id):
                    doc_id = row["id"]
                    n = tokens.get(doc_id)
                    if n is None:
                        continue
                    facts = {p: coerce_attribute(p, row.get(p[5:]))
                             for p in required if p.startswith("attr.")}
                    facts["doc.id"] = doc_id
                    d = compiled.decide(stage, facts)
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
                    if d.passes:
                        passed.append(doc_id)
                    log.add(doc_id, d, n, spans)
                log.close()
            parts.append(part)
            keep = pa.array(sorted(passed), pa.string())
            self._write_alive(stage, shard_id, alive.filter(
                pc.is_in(alive.column("id"), value_set=keep)))
        path = self.layout.decision_log(self.life.run_id, stage)
        with DecisionLogWriter(path, stage) as log:
            for row in _merge_by_id(parts, decision_log.COLUMNS):
                log.add(row["id"], _Logged(row), row["n_tokens"], row["redact_spans"] or ())
            written = log.close()
        gate_svc.record_decisions(self.catalog, self.life, stage, written, tally)

    def _attribute_rows(self, outputs: dict[int, Path | RemotePath],
                        compiled: CompiledPolicy | None = None, stage: str | None = None,
                        ) -> Callable[[int], Iterable[dict[str, Any]]]:
        """The attribute rows of a stage's shard; with `compiled`, also the attributes of
        earlier stages its rules read (the same document shard gives the same rows, in the
        same order, to every stage)."""
        wanted: set[str] = set()
        if compiled is not None and stage is not None:
            wanted = {p[5:] for p in compiled.required_facts(stage) if p.startswith("attr.")}

        def rows_of(shard_id: int) -> Iterable[dict[str, Any]]:
            path = outputs[shard_id]
            table = read_table(path)
            lacking = wanted - set(table.column_names)
            for earlier in self.outputs.values():
                prior = earlier.get(shard_id)
                if not lacking or prior is None or prior == path:
                    continue
                columns = [c for c in read_schema(prior).names if c in lacking]
                if not columns:
                    continue
                extra = read_table(prior, columns=["id", *columns])
                if not extra.column("id").equals(table.column("id")):
                    raise InvalidInput(f"{prior}: not the documents of {path}; run again")
                for name in columns:
                    table = table.append_column(name, extra.column(name))
                lacking -= set(columns)
            return table.to_pylist()

        return rows_of

    def _dedup_part(self, shard_id: int) -> Path:
        return self._spill("dedup-attributes") / f"shard-{shard_id:06d}.parquet"

    def _dedup(self, compiled: CompiledPolicy, funnel: StageFunnel) -> dict[str, Any]:
        """Cluster the live documents with the dedup stage (processing/stages/dedup.py),
        against the index of released documents, then decide. Band tables and signatures go
        to files (a partition count from the memory budget); each shard's cluster attributes
        go to a file of their own, merged in id order into dedup.parquet."""
        from processing.dedup import DedupParams

        params = DedupParams()
        shards = self._shards_with_alive("dedup")
        out = self.layout.dedup_attributes(self.life.run_id)
        recorded = self.life.recorded_shards().get(self.layout.relative(out))
        with self._timed("dedup", "measure_s"):
            self._cluster(params, shards, out, recorded)

        def rows_of(shard_id: int) -> Iterable[dict[str, Any]]:
            part = self._dedup_part(shard_id)
            columns = [c for c in read_schema(part).names if c != SIGNATURE_COLUMN]
            return read_table(part, columns=columns).to_pylist()

        with self._timed("dedup", "decide_s"):
            self._decide("dedup", compiled, rows_of, funnel)
        return {"params": {k: getattr(params, k)
                           for k in ("shingle_words", "num_perm", "bands", "rows", "seed")}}

    def _cluster(self, params, shards: list[int], out: Path | RemotePath, recorded) -> None:
        """dedup.parquet and the per-shard cluster files, unless a killed run left them whole."""
        from processing.dedup import DedupIndex
        from processing.dedup.partitions import partition_count
        from processing.dedup.sharded import ShardedDedup

        if (recorded is None or not out.exists() or file_sha256(out) != recorded.sha256
                or not all(self._dedup_part(s).exists() for s in shards)):
            prior_dir = self.layout.dedup_index
            prior = DedupIndex.open(prior_dir if prior_dir.exists() else None, params)
            n_docs = sum(self.alive_in["quality"].values())
            dedup = ShardedDedup(self._spill("dedup-bands"), params, prior,
                                 partitions=partition_count(n_docs, params,
                                                            self.dedup_memory_budget))
            for shard_id in shards:
                alive = self._alive("quality", shard_id)
                table = read_table(self.root / self.shard_paths[shard_id], columns=["id", "text"])
                where = pc.index_in(table.column("id"), alive.column("id"))
                table = table.filter(pc.is_valid(where))
                when = alive.column("collected_at").take(where.drop_null())
                dedup.add(shard_id, table.column("id").to_pylist(),
                          table.column("text").to_pylist(),
                          when.to_numpy(zero_copy_only=False))
                if self.progress:
                    self.progress("dedup", table.num_rows)
            dedup.cluster()
            exact_type = dedup.exact_type
            width = params.num_perm * 4
            for shard_id in shards:
                write_table_atomic(dedup.shard_table(shard_id, SIGNATURE_COLUMN),
                                   self._dedup_part(shard_id), row_group_size=_MERGE_BATCH)
            written = _write_merged(out, [self._dedup_part(s) for s in shards], width,
                                    exact_type)
            self.life.record_shard(kind="attributes", stage="dedup", path=out,
                                   n_docs=written.n_rows, sha256=written.sha256,
                                   n_bytes=written.n_bytes)

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
                else {"address": self.ray_address, "env_vars": store_environment(self.root)})
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
            self.timings = _prior_timings(life.stats.get("timings") if life.resumed else None)

            def checkpoint(save: bool = True) -> None:
                life.stats = {"funnel": [x.to_dict() for x in funnel], "models": models,
                              "kept": self.n_alive, "timings": _rounded(self.timings)}
                life.end_audit = {"kept": self.n_alive}
                if save:  # a killed run's resume adds to the time it had spent
                    life.save_stats()

            checkpoint(save=False)
            try:
                self._gate()
                with self._timed("admission"):
                    self._admission()
                funnel.append(self.admission_funnel)
                checkpoint()
                for stage in ("langid", "quality", "dedup", "pii"):
                    f = StageFunnel(stage)
                    if stage == "dedup":
                        models["dedup"] = self._dedup(compiled, f)
                    else:
                        with self._timed(stage, "measure_s"):
                            outputs = self._measure(stage)
                        with self._timed(stage, "decide_s"):
                            self._decide(stage, compiled,
                                         self._attribute_rows(outputs, compiled, stage), f)
                    funnel.append(f)
                    if stage != "pii":
                        checkpoint()
                models.update(_model_info())
                models["quality"] = {"stages": [s.name for s in self._specs("quality")],
                                     **filter_info}
                checkpoint(save=False)  # saved with the run's end
            except BaseException:
                checkpoint(save=False)  # what it spent, saved as the run fails
                raise
            # The working files are rebuilt by a resumed run and read by nothing after this
            # one: left behind they would cost more disk than the run's own outputs.
            shutil.rmtree(self.layout.run_spill(life.run_id, ""), ignore_errors=True)
        return ProcessResult(life.run_id, self.gate_run, f"{self.policy.name}@"
                             f"{self.policy.version}", funnel, self.n_alive, life.resumed,
                             models)


class _Logged:
    """A decision read back from a per-shard file, as DecisionLogWriter.add takes it."""

    __slots__ = ("default_applied", "effect", "errors", "placeholder", "redact", "rule_ids")

    def __init__(self, row: dict[str, Any]):
        self.effect = row["effect"]
        self.rule_ids = row["rule_ids"] or ()
        self.default_applied = row["default_applied"]
        self.redact = row["redact"] or ()
        self.placeholder = row["placeholder"] or ""
        self.errors = row["errors"] or ()


def _merge_by_id(paths: Sequence[Path], columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Rows of id-sorted files in id order, a few batches of each in memory at a time."""
    def rows(path: Path) -> Iterator[dict[str, Any]]:
        pf = parquet_file(path)
        wanted = [c for c in columns if c in pf.schema_arrow.names]
        # A row group at a time (the files are written in row groups of _MERGE_BATCH):
        # iter_batches reads ahead and holds ~10 MB per file, which a merge of every shard's
        # file multiplies by the number of shards.
        for group in range(pf.metadata.num_row_groups):
            yield from pf.read_row_group(group, columns=wanted).to_pylist()

    return heapq.merge(*(rows(p) for p in paths), key=lambda r: r["id"])


def _write_merged(out: Path | RemotePath, parts: Sequence[Path], width: int,
                  exact_type: pa.DataType):
    """dedup.parquet: the per-shard cluster attributes merged in id order, streamed in row
    groups of 64Ki rows (the bytes of one table of all rows when there are fewer)."""
    from common.atomic import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL, WrittenFile

    if not parts:  # as the empty table has always been written
        table = pa.table({"id": pa.array([], pa.string())})
        table = table.append_column(SIGNATURE_COLUMN, pa.array([], pa.binary(width)))
        return write_table_atomic(table, out)
    schema = read_schema(parts[0]).remove_metadata()
    schema = schema.set(schema.get_field_index("dup_exact_of"),
                        pa.field("dup_exact_of", exact_type))
    group = 64 * 1024
    n = 0
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression=PARQUET_COMPRESSION,
                              compression_level=PARQUET_COMPRESSION_LEVEL) as writer:
            batch: list[dict[str, Any]] = []
            for row in _merge_by_id(parts, schema.names):
                batch.append(row)
                if len(batch) >= group:
                    writer.write_table(pa.Table.from_pylist(batch, schema))
                    n += len(batch)
                    batch = []
            if batch or not n:
                writer.write_table(pa.Table.from_pylist(batch, schema))
                n += len(batch)
        # Hashed before it moves: the same bytes, and an object on a store is not read back.
        digest, size = file_sha256(tmp), tmp.stat().st_size
    return WrittenFile(str(out), digest, size, n)


def _prior_timings(recorded: Any) -> dict[str, Any]:
    """The timings an interrupted attempt of this run recorded (a copy to add to)."""
    if not isinstance(recorded, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in recorded.items():
        if key in ("gate_s", "admission_s") and isinstance(value, int | float):
            out[key] = float(value)
        elif isinstance(value, dict):
            out[key] = {"measure_s": float(value.get("measure_s") or 0.0),
                        "decide_s": float(value.get("decide_s") or 0.0)}
    return out


def _rounded(timings: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else {p: round(s, 6) for p, s in v.items()}
            for k, v in timings.items()}


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
