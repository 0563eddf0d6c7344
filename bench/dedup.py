"""Dedup: bulk MinHash vs datasketch, LSH rates, and memory of signatures + clustering.

    .venv/bin/python -m bench.dedup [--sizes 50000 500000] [--sample 3000] [--lsh 50000]

All in one process unless said otherwise, single core:

1. signatures of `--sample` generated documents: ours in bulk (`processing.dedup.signatures`)
   vs datasketch one `MinHash.update` per shingle (on a tenth of the sample) vs datasketch's
   own `MinHash.bulk` (one vectorised `update_batch` per document); docs/s and ratios, and a
   check that all three give identical signatures;
2. LSH on `--lsh` signatures: datasketch `MinHashLSH` insert and query rates and the memory
   it holds (tracemalloc), vs our numpy band tables (`cluster` on the same signatures, and
   against a saved prior index);
3. for each of `--sizes`, in a fresh subprocess: stream generated documents (~1–2 KB each,
   10% near copies and 2% exact copies of earlier ones, generated on the fly so the texts are
   never all in memory) through `signatures` in batches of 2,048, keeping id, collected_at,
   sha256 and signature only; then `cluster`. Peak RSS (VmHWM) over the baseline after
   imports, split by phase, beside the bytes of text that went through.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from processing.dedup import DedupIndex, DedupParams, cluster, shingles, signatures

PARAMS = DedupParams()
BATCH = 2048
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _vocabulary(size: int = 20000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(_LETTERS, k=rng.randint(2, 9))) for _ in range(size)]


VOCAB = _vocabulary()


def _base_text(i: int) -> str:
    rng = random.Random(i)
    words = rng.choices(VOCAB, k=rng.randint(170, 330))  # ~1–2 KB
    for k in range(0, len(words), rng.randint(12, 20)):
        words[k] = words[k].capitalize()
        if k:
            words[k - 1] += "."
    return " ".join(words) + "."


def document(i: int) -> tuple[str, str, datetime]:
    """Document i, made from its number alone: every 10th is a near copy (one word changed)
    of an earlier one, every 50th an exact copy."""
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
    if i % 50 == 49:
        return f"doc-{i:08d}", _base_text(i - 17), when
    if i % 10 == 9:
        words = _base_text(i - 3).split(" ")
        words[len(words) // 2] = "changed"
        return f"doc-{i:08d}", " ".join(words), when
    return f"doc-{i:08d}", _base_text(i), when


def stream(n: int, start: int = 0) -> Iterator[list[tuple[str, str, datetime]]]:
    for b0 in range(start, start + n, BATCH):
        yield [document(i) for i in range(b0, min(b0 + BATCH, start + n))]


class _Clock:
    """Wall and CPU time of a block: the machine is shared, so CPU seconds are the fairer
    per-core figure and wall seconds show what the load did."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MB. VmHWM, not getrusage's ru_maxrss:
    Linux carries ru_maxrss across exec, so a subprocess would report its parent's peak."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- 1. signatures


def bench_signatures(sample: int) -> dict[str, float]:
    texts = [document(i)[1] for i in range(sample)]
    few = texts[: max(sample // 10, 50)]
    signatures(texts[:10])  # build the translation table and permutations once

    with _Clock() as ours_t:
        ours = signatures(texts)

    from datasketch import MinHash

    with _Clock() as slow_t:
        slow = []
        for text in few:
            m = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed)
            for s in shingles(text, PARAMS.shingle_words):
                m.update(s)
            slow.append(m.hashvalues)

    with _Clock() as bulk_t:
        sets = [shingles(text, PARAMS.shingle_words) for text in texts]
        via_bulk = MinHash.bulk(sets, num_perm=PARAMS.num_perm, seed=PARAMS.seed)

    assert np.array_equal(ours[: len(few)], np.array(slow)), "bulk differs from one-by-one"
    assert np.array_equal(ours, np.array([m.hashvalues for m in via_bulk])), "differs from bulk"
    shingle_count = sum(len(s) for s in sets)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    return {
        "docs": sample,
        "mean_kb": mb * 1000 / sample,
        "shingles_per_doc": shingle_count / sample,
        "ours_docs_per_cpu_s": sample / ours_t.cpu,
        "ours_docs_per_wall_s": sample / ours_t.wall,
        "ours_mb_per_cpu_s": mb / ours_t.cpu,
        "one_by_one_docs_per_cpu_s": len(few) / slow_t.cpu,
        "one_by_one_docs_per_wall_s": len(few) / slow_t.wall,
        "datasketch_bulk_docs_per_cpu_s": sample / bulk_t.cpu,
        "datasketch_bulk_docs_per_wall_s": sample / bulk_t.wall,
    }


# ---- 2. LSH


def bench_lsh(n: int) -> dict[str, float]:
    from datasketch import LeanMinHash, MinHashLSH

    sigs = np.concatenate([signatures([t for _, t, _ in batch]) for batch in stream(n)])
    ids = [document(i)[0] for i in range(n)]
    sketches = [LeanMinHash(seed=PARAMS.seed, hashvalues=s, scheme="affine32") for s in sigs]

    def build(count: int) -> MinHashLSH:
        lsh = MinHashLSH(num_perm=PARAMS.num_perm, params=(PARAMS.bands, PARAMS.rows))
        for doc_id, sketch in zip(ids[:count], sketches[:count], strict=True):
            lsh.insert(doc_id, sketch, check_duplication=False)
        return lsh

    with _Clock() as insert_t:
        lsh = build(n)
    with _Clock() as query_t:
        hits = sum(len(lsh.query(sketch)) for sketch in sketches)
    del lsh
    measured = min(n, 20_000)  # tracemalloc slows inserts: measure memory on a part
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    lsh = build(measured)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del lsh

    none = [None] * n
    with _Clock() as ours_t:
        result = cluster(ids, none, sigs, params=PARAMS)
    with _Clock() as reference_t:
        reference = cluster(ids, none, sigs, params=PARAMS, backend="datasketch")
    assert result == reference, "numpy bands and datasketch MinHashLSH disagree"

    half = n // 2
    with tempfile.TemporaryDirectory() as tmp:
        index = DedupIndex.open(tmp, PARAMS)
        index.add(ids[:half], none[:half], sigs[:half])
        with _Clock() as save_t:
            index.save()
        with _Clock() as open_t:
            prior = DedupIndex.open(tmp, PARAMS)
            prior.band_matches(np.empty((0, PARAMS.bands), np.uint64), sigs[:0])  # tables
        with _Clock() as against_t:
            ours_prior = cluster(ids[half:], none[half:], sigs[half:], prior=prior)
        with _Clock() as against_ref_t:
            ref_prior = cluster(
                ids[half:], none[half:], sigs[half:], prior=prior, backend="datasketch"
            )
        assert ours_prior == ref_prior, "prior: numpy bands and datasketch disagree"
    return {
        "docs": n,
        "datasketch_insert_docs_per_cpu_s": n / insert_t.cpu,
        "datasketch_query_docs_per_cpu_s": n / query_t.cpu,
        "datasketch_lsh_bytes_per_doc": held / measured,
        "datasketch_candidates_per_doc": hits / n,
        "cluster_numpy_docs_per_cpu_s": n / ours_t.cpu,
        "cluster_datasketch_docs_per_cpu_s": n / reference_t.cpu,
        "clusters": len({r.cluster_id for r in result.values()}),
        "index_save_cpu_s": save_t.cpu,
        "index_open_and_tables_cpu_s": open_t.cpu,
        "against_prior_numpy_docs_per_cpu_s": (n - half) / against_t.cpu,
        "against_prior_datasketch_docs_per_cpu_s": (n - half) / against_ref_t.cpu,
    }


# ---- 3. memory at scale (run in a subprocess per size)


def pipeline(n: int) -> dict[str, float]:
    signatures(["warm up"])
    import scipy.sparse.csgraph  # noqa: F401  (its import is not what we measure)

    base = _rss_mb()
    ids: list[str] = []
    times: list[datetime] = []
    hashes: list[bytes] = []
    sigs = np.empty((n, PARAMS.num_perm), dtype=np.uint32)  # filled in place: no 2x copy
    text_bytes = 0
    with _Clock() as sign_t:
        for batch in stream(n):
            texts = [text for _, text, _ in batch]
            text_bytes += sum(len(x.encode()) for x in texts)
            sigs[len(ids) : len(ids) + len(batch)] = signatures(texts, PARAMS)
            for doc_id, text, when in batch:
                ids.append(doc_id)
                times.append(when)
                hashes.append(hashlib.sha256(text.encode()).digest())
    after_sign = _rss_mb()
    with _Clock() as cluster_t:
        result = cluster(ids, times, sigs, content_hashes=hashes, params=PARAMS)
    after_cluster = _rss_mb()
    not_kept = sum(not r.keep for r in result.values())
    exact = sum(r.dup_exact_of is not None for r in result.values())
    planted = sum(1 for i in range(n) if i % 10 == 9)
    planted_exact = sum(1 for i in range(n) if i % 50 == 49)
    return {
        "docs": n,
        "text_mb": text_bytes / 1e6,
        "signature_mb": sigs.nbytes / 1e6,
        "sign_and_generate_cpu_s": sign_t.cpu,
        "sign_and_generate_wall_s": sign_t.wall,
        "cluster_cpu_s": cluster_t.cpu,
        "cluster_wall_s": cluster_t.wall,
        "baseline_rss_mb": base,
        "peak_rss_after_signing_mb": after_sign,
        "peak_rss_after_clustering_mb": after_cluster,
        "bytes_per_doc_signing": (after_sign - base) * 2**20 / n,
        "bytes_per_doc_total": (after_cluster - base) * 2**20 / n,
        "not_kept": not_kept,
        "planted_copies": planted,
        "exact_duplicates": exact,
        "planted_exact": planted_exact,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000])
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--lsh", type=int, default=50_000)
    parser.add_argument("--pipeline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline:
        print(json.dumps(pipeline(args.pipeline)))
        return

    sig = bench_signatures(args.sample)
    print("== signatures (one process, one core)")
    print(json.dumps(sig, indent=1))
    print(
        "CPU-time ratios: ours vs datasketch one-by-one "
        f"{sig['ours_docs_per_cpu_s'] / sig['one_by_one_docs_per_cpu_s']:.1f}x; "
        "ours vs datasketch MinHash.bulk "
        f"{sig['ours_docs_per_cpu_s'] / sig['datasketch_bulk_docs_per_cpu_s']:.2f}x"
    )
    if args.lsh:
        print("== LSH")
        print(json.dumps(bench_lsh(args.lsh), indent=1))
    for n in args.sizes:
        print(f"== pipeline at {n} documents (subprocess)")
        out = subprocess.run(
            [sys.executable, "-m", "bench.dedup", "--pipeline", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        print(out.stdout.strip())


if __name__ == "__main__":
    main()
