"""datatrove's side of bench/pipeline_vs_datatrove.py: the whole pipeline, timed end to end.

Runs inside bench/.venv-datatrove (see bench/datatrove_env.sh), never in the project venv.

    python datatrove_pipeline_ref.py SHARD_DIR WORK_DIR [--workers 2] [--keep-all]

SHARD_DIR holds Parquet document shards (`id`, `text`). Three LocalPipelineExecutor steps:

1. ParquetReader → LanguageFilter → GopherQualityFilter → GopherRepetitionFilter →
   C4QualityFilter → FineWebQualityFilter → MinhashDedupSignature (tasks = workers);
2. MinhashDedupBuckets (one task per bucket, `workers` at a time);
3. MinhashDedupCluster (one task).

Every filter has its default settings (English; FineWeb's MinHash: 5-grams, 14 buckets × 8
hashes). With `--keep-all` each filter still runs its checks but keeps every document, so
every document reaches the MinHash steps (closer to a pipeline that measures everything).

WORK_DIR must not hold an earlier run (datatrove skips tasks its logs mark done). Prints one
JSON object: seconds per step and in total, and documents forwarded by each filter.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupSignature,
)
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.readers import ParquetReader


def keeping(cls: type) -> type:
    """`cls` with its checks run on every document but nothing dropped."""

    class Keeping(cls):
        name = f"{cls.name} (keeps all)"

        def filter(self, doc):  # noqa: ANN001, ANN202 — datatrove's signature
            super().filter(doc)
            return True

    Keeping.__name__ = f"Keeping{cls.__name__}"
    return Keeping


def forwarded(logging_dir: Path) -> dict[str, int]:
    """Documents each pipeline step passed on, summed over tasks (from datatrove's stats)."""
    stats = json.loads((logging_dir / "stats.json").read_text())
    counts = {}
    for step in stats:
        value = step["stats"].get("forwarded", step["stats"].get("documents"))
        counts[step["name"]] = value["total"] if isinstance(value, dict) else value
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("shards", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep-all", action="store_true")
    args = parser.parse_args()
    if args.work.exists() and any(args.work.iterdir()):
        sys.exit(f"{args.work}: not empty; datatrove would skip tasks of an earlier run")
    wrap = keeping if args.keep_all else (lambda cls: cls)
    config = MinhashConfig()  # FineWeb: 5-grams, 14 buckets × 8 hashes
    work, logs = args.work, args.work / "logs"

    signatures = LocalPipelineExecutor(
        pipeline=[
            ParquetReader(str(args.shards), text_key="text", id_key="id", glob_pattern="*.parquet"),
            wrap(LanguageFilter)(),
            wrap(GopherQualityFilter)(),
            wrap(GopherRepetitionFilter)(),
            wrap(C4QualityFilter)(),
            wrap(FineWebQualityFilter)(),
            MinhashDedupSignature(output_folder=str(work / "signatures"), config=config),
        ],
        tasks=args.workers,
        workers=args.workers,
        logging_dir=str(logs / "signatures"),
    )
    buckets = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupBuckets(
                input_folder=str(work / "signatures"),
                output_folder=str(work / "buckets"),
                config=config,
            )
        ],
        tasks=config.num_buckets,
        workers=args.workers,
        logging_dir=str(logs / "buckets"),
    )
    clusters = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(
                input_folder=str(work / "buckets"),
                output_folder=str(work / "remove_ids"),
                config=config,
            )
        ],
        tasks=1,
        logging_dir=str(logs / "clusters"),
    )

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    for name, executor in (
        ("filters+signatures", signatures),
        ("buckets", buckets),
        ("cluster", clusters),
    ):
        t0 = time.perf_counter()
        executor.run()
        seconds[name] = time.perf_counter() - t0
    total = time.perf_counter() - started

    removed = 0
    for path in (work / "remove_ids").glob("*.remove"):
        removed += path.stat().st_size // 4  # one uint32 document index per removed document
    print(
        json.dumps(
            {
                "seconds": seconds,
                "total_seconds": total,
                "forwarded": forwarded(logs / "signatures"),
                "minhash_removed": removed,
                "keep_all": args.keep_all,
            }
        )
    )


if __name__ == "__main__":
    main()
