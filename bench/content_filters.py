"""Throughput of the content-filter stages on generated ~1 KB documents, one process, one core.

    .venv/bin/python bench/content_filters.py [--docs 5000] [--examples 10000] [--repeat 3]

Documents: sentences drawn from a small English vocabulary, ~1 KB each (docs/content-filters.md).
Printed per stage, docs/s (best of `--repeat` runs over the same documents, after one warm-up
run that loads the models):

- badwords_v1 with a generated 400-term list (single words and two-word phrases, C4-like
  size) and a 300-term CJK list; `--badwords-list FILE` adds a real list (e.g. LDNOOBW's);
- toxicity_v1 with alt-profanity-check's bundled model, in batches of 256;
- decontam_v1 against one evaluation set of `--examples` examples of ~60 words (goal:
  >= 2,000 docs/s with 10,000 examples); one document in 50 quotes an example, and the bench
  checks the stage finds exactly those;
- fasttext_classifier_v1 with lid.176.ftz as a stand-in model (all 176 labels, and k=2 as a
  two-label quality classifier answers); a real DCLM model is larger but predicts alike;
- quality_v1 for scale, and the whole quality task (quality_v1 + the three filters).

Run small to check it works (`--docs 200 --examples 500 --repeat 1`); figures are measured on
a quiet machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.atomic import bytes_sha256  # noqa: E402
from processing.ngrams import build_set  # noqa: E402
from processing.stage import create  # noqa: E402
from processing.stages.langid import default_model_path  # noqa: E402
from processing.types import Document  # noqa: E402

WORDS = ("the of and to in is that for it with as was on be by this are from at or have an "
         "they which one you were all we there been if more when will would who so data "
         "people city time year work water school market river history music garden morning "
         "bridge stone arch village farmer bread cheese apple square evening road valley "
         "harvest weather price week old new long small great little other").split()


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def document(rng: random.Random, size: int = 1024) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        parts.append(sentence(rng))
        length += len(parts[-1]) + 1
        if rng.random() < 0.2:
            parts.append("\n")
    return " ".join(parts)


def best(stage_name: str, options: dict, docs: list[str], repeat: int) -> tuple[float, list]:
    stage = create(stage_name, **options)
    list(stage.run([Document("warm", docs[0])]))
    rates, out = [], []
    for _ in range(repeat):
        batch = [Document(str(i), t) for i, t in enumerate(docs)]
        started = time.perf_counter()
        out = list(stage.run(batch))
        rates.append(len(docs) / (time.perf_counter() - started))
    return max(rates), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--badwords-list", type=Path, action="append", default=[])
    args = parser.parse_args()
    rng = random.Random(17)
    examples = [" ".join(rng.choices(WORDS + [f"term{i}" for i in range(2000)], k=60))
                for _ in range(args.examples)]
    texts = [document(rng) for _ in range(args.docs)]
    quoting = set(range(0, args.docs, 50))
    for i in quoting:
        texts[i] = texts[i][:400] + " " + examples[i % len(examples)] + " " + texts[i][400:]
    mean_kb = sum(len(t.encode()) for t in texts) / len(texts) / 1024

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        english = folder / "en.txt"
        terms = {rng.choice(WORDS) + "x" + str(i) for i in range(300)}
        terms |= {f"{rng.choice(WORDS)} {rng.choice(WORDS)}z" for _ in range(100)}
        english.write_text("\n".join(sorted(terms)) + "\nfarmer\n", encoding="utf-8")
        chinese = folder / "zh.txt"
        chinese.write_text("\n".join(chr(0x4E00 + i) + chr(0x4E80 + i) for i in range(300)),
                           encoding="utf-8")
        lists = [str(english), str(chinese), *map(str, args.badwords_list)]

        started = time.perf_counter()
        ngram_set = build_set(examples)
        build_seconds = time.perf_counter() - started
        index = folder / "eval.npy"
        index.write_bytes(ngram_set.to_bytes())
        sets = [{"name": "eval", "path": str(index), "sha256": bytes_sha256(index.read_bytes()),
                 "n": 13}]
        lid = str(default_model_path())
        runs = [
            ("quality_v1", {}),
            ("badwords_v1", {"lists": lists}),
            ("toxicity_v1", {}),
            ("decontam_v1", {"sets": sets}),
            ("fasttext_classifier_v1", {"model_path": lid}),
            ("fasttext_classifier_v1 k=2", {"model_path": lid, "k": 2}),
        ]
        print(f"{args.docs:,} documents of {mean_kb:.2f} KB on average; evaluation set of "
              f"{args.examples:,} examples, {len(ngram_set):,} distinct 13-grams, indexed in "
              f"{build_seconds:.2f} s")
        rates: dict[str, float] = {}
        for label, options in runs:
            rate, out = best(label.split()[0], options, texts, args.repeat)
            rates[label] = rate
            note = ""
            if label == "decontam_v1":
                found = {int(d.id) for d in out if d.attributes["decontam_hits"]["eval"]}
                note = (f"  (found the {len(quoting)} quoting documents: "
                        f"{'yes' if found == quoting else 'NO: ' + str(len(found))})")
            print(f"  {label:<28} {rate:>10,.0f} docs/s{note}")
        task = 1 / sum(1 / rates[s] for s in ("quality_v1", "badwords_v1", "toxicity_v1",
                                                "decontam_v1"))
        print(f"  {'quality task (4 stages)':<28} {task:>10,.0f} docs/s")


if __name__ == "__main__":
    main()
