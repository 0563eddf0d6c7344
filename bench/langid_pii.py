"""Throughput of the langid_v1 and pii stages on generated ~1 KB documents.

    .venv/bin/python bench/langid_pii.py [--docs 2000] [--baseline-docs 500]

langid: sentences from small English, French, German and Spanish vocabularies, line breaks
every few sentences. Printed: langid_v1 docs/s against the bare `model.predict` loop (the
stage's overhead; best of three runs each) and the share of documents whose language matches
the one generated.

pii: ~1 KB forum posts from `bench/pii_quality.py` (`forum_posts`: one in three with a few
pieces of personal data, three sentences in ten of the others holding numbers that are not:
dates, years, ranges, quantities, dotted numbers, order numbers, ...), and the same count of
its denser labelled posts (two in three with personal data, seven sentences in ten numbers).
Printed for each, same documents, one process, single core, default entities:

- before: pii_v1, presidio's own pattern recognizers on whole documents (on the first
  `--baseline-docs`, it is slow), and after: pii_v2, govcat's recognizers behind the shape
  pre-filter; docs/s of both (best of two runs each, engines warmed on the same posts) and
  the ratio after / before;
- pii_v2 with the pre-filter off (the same recognizers on whole documents), its docs/s, and
  whether both pii_v2 paths give identical spans on every document (they must);
- the share of documents and characters the pre-filter sent to presidio, and the engine
  start-up time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from processing.stage import create  # noqa: E402
from processing.types import Document  # noqa: E402

VOCABULARY = {
    "en": "the of and to in is that for it with as was on be by this are from at or have an "
    "they which one you were all we there been if more when will would who so data people "
    "city time year work water school market river history music garden morning".split(),
    "fr": "le la les de des et à un une est que pour dans qui sur pas plus avec ce il elle "
    "nous vous ils sont été avoir fait comme mais ville temps année travail eau école "
    "marché rivière histoire musique jardin matin".split(),
    "de": "der die das und zu in ist den von mit sich nicht auf für ein eine auch es an als "
    "wir sie sind wurde haben Stadt Zeit Jahr Arbeit Wasser Schule Markt Fluss Geschichte "
    "Musik Garten Morgen".split(),
    "es": "el la los las de y en que a un una es por con para no se del al lo como más pero "
    "sus ciudad tiempo año trabajo agua escuela mercado río historia música jardín "
    "mañana".split(),
}
PII = [
    "jane.roe@example.org",
    "(212) 555-1234",
    "+44 20 7946 0958",
    "192.168.10.24",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "219-09-9999",
    "https://admin:hunter2@db.example.com/prod",
]


def generate(n: int, seed: int = 7) -> list[tuple[str, Document]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        lang = rng.choice(sorted(VOCABULARY))
        words = VOCABULARY[lang]
        with_pii = i % 3 == 0
        sentences: list[str] = []
        size = 0
        while size < 1000:
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
            if with_pii and rng.random() < 0.25:
                sentence += " " + rng.choice(PII)
            sentence = sentence[0].upper() + sentence[1:] + "."
            sentences.append(sentence)
            size += len(sentence) + 1
        text = ""
        for j, sentence in enumerate(sentences):
            text += sentence + ("\n" if j % 4 == 3 else " ")
        docs.append((lang, Document(id=f"bench/{i}", text=text.strip())))
    return docs


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} docs/s ({seconds:.2f} s for {n:,})"


def bench_langid(docs: list[tuple[str, Document]]) -> None:
    from processing.stages.langid import MODEL_INFO, _load

    print(
        f"langid_v1 — model {MODEL_INFO.name} sha256 {MODEL_INFO.sha256[:16]}… "
        f"({MODEL_INFO.licence}, fasttext from {MODEL_INFO.provider})"
    )
    model = _load(MODEL_INFO.path)
    texts = [doc.text.replace("\n", " ") for _, doc in docs]
    stage = create("langid_v1")
    # Best of three, alternating, so neither side gains from running second on a busy machine.
    baseline = seconds = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            model.predict(text)
        baseline = min(baseline, time.perf_counter() - started)
        fresh = [Document(id=d.id, text=d.text) for _, d in docs]
        started = time.perf_counter()
        out = list(stage.run(fresh))
        seconds = min(seconds, time.perf_counter() - started)
    right = sum(doc.attributes["lang"] == lang for (lang, _), doc in zip(docs, out, strict=True))
    print(f"  stage          {rate(len(docs), seconds)}")
    print(f"  bare predict   {rate(len(docs), baseline)}   stage/bare = {baseline / seconds:.2f}")
    print(f"  language right {right / len(docs):.1%}")


def _pii_run(stage_name: str, texts: list[str]) -> tuple[float, Any, list[Document]]:
    """Seconds for the stage over `texts`, the stage and the documents it measured. The
    engine is built and its lazy tables (libphonenumber's metadata, compiled patterns) are
    filled by a first pass over the same texts before the clock starts."""
    stage = create(stage_name)
    list(stage.run(Document(id=f"warm/{i}", text=t) for i, t in enumerate(texts[:50])))
    stage.stats.counters.clear()
    started = time.perf_counter()
    out = list(stage.run(Document(id=f"pii/{i}", text=t) for i, t in enumerate(texts)))
    return time.perf_counter() - started, stage, out


def bench_pii_corpus(label: str, texts: list[str], baseline_docs: int) -> None:
    from processing.stages.pii import PiiSpan, find_pii

    mean = sum(map(len, texts)) / len(texts)
    print(f"  {label}: {len(texts):,} posts, mean {mean:,.0f} characters")
    base = texts[:baseline_docs]
    # Best of two, alternating, so no side gains from running second on a busy machine.
    before = after = full = float("inf")
    for _ in range(2):
        before = min(before, _pii_run("pii_v1", base)[0])
        seconds, stage, out = _pii_run("pii_v2", texts)
        after = min(after, seconds)
        started = time.perf_counter()
        whole = [find_pii(t, prefilter=False) for t in texts]  # same recognizers, whole docs
        full = min(full, time.perf_counter() - started)
    ours = [[PiiSpan.from_mapping(s) for s in d.attributes["pii_spans"]] for d in out]
    same = sum(a == b for a, b in zip(ours, whole, strict=True))
    holding = sum(1 for spans in whole if spans)
    print(f"    before  pii_v1 (presidio alone)      {rate(len(base), before)}")
    print(f"    after   pii_v2 (shape pre-filter)    {rate(len(texts), after)}"
          f"   after / before = {(len(texts) / after) / (len(base) / before):.1f}x")
    print(f"    pii_v2 without the pre-filter        {rate(len(texts), full)}"
          f"   pre-filter alone = {full / after:.1f}x")
    print(f"    identical spans on {same:,} of {len(texts):,} documents "
          f"({holding:,} hold PII){'' if same == len(texts) else '  <-- MISMATCH'}")
    c = stage.stats.counters
    print(f"    sent to presidio: {c['regions_analysed']:,} regions, "
          f"{c['chars_analysed'] / sum(map(len, texts)):.0%} of the characters")


def bench_pii(n: int, baseline_docs: int) -> None:
    from bench.pii_quality import forum_posts, generate
    from processing.stages.pii import PII_ENGINE_INFO, find_pii

    started = time.perf_counter()
    find_pii("warm-up: build the engine")
    find_pii("warm-up: build the engine", recognizers="presidio")
    print(
        f"pii — presidio-analyzer {PII_ENGINE_INFO['versions']['presidio-analyzer']}, "
        f"NER {'on' if PII_ENGINE_INFO['ner'] else 'off'}, both engines started in "
        f"{time.perf_counter() - started:.2f} s (imports included), "
        f"{len(PII_ENGINE_INFO['entities'])} entities"
    )
    bench_pii_corpus("forum posts", forum_posts(n), baseline_docs)
    bench_pii_corpus("dense labelled posts", [d.text for d in generate(n)], baseline_docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--baseline-docs", type=int, default=500)
    parser.add_argument("--skip-pii", action="store_true")
    parser.add_argument("--skip-langid", action="store_true")
    args = parser.parse_args()

    docs = generate(args.docs)
    mean = sum(len(d.text) for _, d in docs) / len(docs)
    print(f"{len(docs):,} generated documents, mean {mean:,.0f} characters\n")
    if not args.skip_langid:
        bench_langid(docs)
        print()
    if not args.skip_pii:
        bench_pii(args.docs, min(args.baseline_docs, args.docs))


if __name__ == "__main__":
    main()
