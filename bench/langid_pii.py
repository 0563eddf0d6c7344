"""Throughput of the langid_v1 and pii_v1 stages on generated ~1 KB documents.

    .venv/bin/python bench/langid_pii.py [--docs 2000] [--baseline-docs 500]

Documents are written here: sentences from small English, French, German and Spanish
vocabularies, line breaks every few sentences, and in one document out of three a few pieces
of personal data (e-mail, phone, IPv4, card, IBAN, SSN, URL with credentials). Printed, for
the same documents in one process, single core:

- langid_v1 docs/s, against the baseline of the bare `model.predict` loop (the stage's
  overhead; best of three runs each), and the share of documents whose language matches
  the one generated;
- pii_v1 docs/s with its default entities (seven pattern recognizers, blank spaCy), against
  the baseline of presidio with every predefined English recognizer on the same offline
  engine (what `AnalyzerEngine()` would run), on `--baseline-docs` documents;
- PII spans found per entity type, recall and precision of exact spans against the pieces
  inserted, and the engine start-up time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

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


def bench_pii(docs: list[tuple[str, Document]], baseline_docs: int) -> None:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.recognizer_registry import RecognizerRegistry

    from processing import pii_offline
    from processing.stages.pii import PII_ENGINE_INFO, find_pii

    started = time.perf_counter()
    find_pii("warm-up: build the engine")
    print(
        f"pii_v1 — presidio-analyzer {PII_ENGINE_INFO['versions']['presidio-analyzer']}, "
        f"NER {'on' if PII_ENGINE_INFO['ner'] else 'off'}, "
        f"engine start {time.perf_counter() - started:.2f} s (imports included)"
    )

    stage = create("pii_v1")
    started = time.perf_counter()
    out = list(stage.run(Document(id=d.id, text=d.text) for _, d in docs))
    seconds = time.perf_counter() - started
    print(f"  stage ({len(PII_ENGINE_INFO['entities'])} entities)   {rate(len(docs), seconds)}")

    # Baseline: every predefined English recognizer, on the same offline NLP engine (the
    # stock e-mail recognizer is swapped for the offline one, else it reaches for the network).
    nlp_engine = pii_offline.nlp_engine_for(None)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(pii_offline.OfflineEmailRecognizer())
    full = AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])
    subset = [d.text for _, d in docs[:baseline_docs]]
    started = time.perf_counter()
    for text in subset:
        full.analyze(text=text, language="en")
    base = time.perf_counter() - started
    ours = len(subset) / (len(docs) / seconds)
    print(
        f"  all {len(registry.recognizers)} predefined recognizers  {rate(len(subset), base)}"
        f"   stage speed-up = {base / ours:.2f}x"
    )

    found: Counter[str] = Counter()
    inserted = detected = matched = 0
    for doc in out:
        found.update({k: v for k, v in doc.attributes["pii_counts"].items() if v})
        planted = Counter({p: doc.text.count(p) for p in PII if p in doc.text})
        spans = Counter(doc.text[s["start"] : s["end"]] for s in doc.attributes["pii_spans"])
        inserted += sum(planted.values())
        detected += sum(spans.values())
        matched += sum((planted & spans).values())
    print(
        f"  inserted pieces {inserted:,}, spans {detected:,}: "
        f"recall {matched / max(inserted, 1):.1%}, precision {matched / max(detected, 1):.1%}"
    )
    with_pii = sum(1 for doc in out if doc.attributes["pii_spans"])
    print(
        f"  documents with PII {with_pii:,} of {len(out):,}; spans by type: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(found.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--baseline-docs", type=int, default=500)
    parser.add_argument("--skip-pii", action="store_true")
    args = parser.parse_args()

    docs = generate(args.docs)
    mean = sum(len(d.text) for _, d in docs) / len(docs)
    print(f"{len(docs):,} generated documents, mean {mean:,.0f} characters\n")
    bench_langid(docs)
    if not args.skip_pii:
        print()
        bench_pii(docs, args.baseline_docs)


if __name__ == "__main__":
    main()
