"""Conformance of our quality signals with datatrove's filters (the reference), and their speed.

    .venv/bin/python bench/quality_conformance.py [--docs 3000] [--seed 7] [--show 5]
                                                  [--pack commercial-strict]

1. generates a deterministic corpus of varied documents (prose, boilerplate pages, bullet
   lists, code, lorem ipsum, repeated lines and paragraphs, short and non-English texts,
   ellipses, hashtags, edge cases);
2. runs datatrove 0.10.1's GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter and
   FineWebQualityFilter on it in their own venv (bench/datatrove_env.sh builds it), through
   bench/datatrove_quality_ref.py;
3. runs our `quality_v1` stage on the same documents and lets a policy pack's quality rules
   decide (the packs hold the thresholds; each rule is evaluated on its own);
4. prints per-rule agreement and docs/s of both, and exits non-zero when a rule agrees on
   fewer than --min-agreement of the documents where the reference decided it.

A pack rule may stand for several datatrove checks (`gopher-word-count` is both the short and
the long document check). A datatrove filter stops at the first check that fails, so for a
document it rejects, the checks after that one are not known; a rule's reference verdict is
"fail" when one of its checks failed, "pass" when all of them were tested and held, and
unknown otherwise: agreement counts only the documents where it is known.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies import packs  # noqa: E402
from policies.engine import CompiledPolicy, compile_policy  # noqa: E402
from processing.stage import create  # noqa: E402
from processing.types import Document  # noqa: E402

BENCH = ROOT / "bench"
OUT = BENCH / "out"

DEFAULT_PACK = "commercial-strict"  # the built-in packs share one set of quality rules

# Each datatrove filter's reasons in the order it tests them, grouped where the order depends
# on the text instead (C4 drops at the first line with "lorem ipsum" or "{"), mapped to the
# pack's quality rule ids. "empty" is decided before any rule.
REFERENCE_RULES: dict[str, list[dict[str, str]]] = {
    "gopher_quality": [
        {"gopher_short_doc": "gopher-word-count"},
        {"gopher_long_doc": "gopher-word-count"},
        {"gopher_below_avg_threshold": "gopher-mean-word-length"},
        {"gopher_above_avg_threshold": "gopher-mean-word-length"},
        {"gopher_too_many_hashes": "gopher-hash-ratio"},
        {"gopher_too_many_ellipsis": "gopher-ellipsis-ratio"},
        {"gopher_too_many_bullets": "gopher-bullet-lines"},
        {"gopher_too_many_end_ellipsis": "gopher-ellipsis-lines"},
        {"gopher_below_alpha_threshold": "gopher-alpha-words"},
        {"gopher_enough_stop_words": "gopher-stop-words"},
    ],
    "gopher_repetition": [
        {"dup_para_frac": "gopher-dup-paragraphs"},
        {"dup_para_char_frac": "gopher-dup-paragraphs"},
        {"dup_line_frac": "gopher-dup-lines"},
        {"dup_line_char_frac": "gopher-dup-lines"},
        *({f"top_{n}_gram": "gopher-top-ngrams"} for n in (2, 3, 4)),
        *({f"duplicated_{n}_n_grams": "gopher-dup-ngrams"} for n in range(5, 11)),
    ],
    "c4_quality": [
        {"lorem_ipsum": "c4-lorem-ipsum", "curly_bracket": "c4-curly-bracket"},
        {"too_few_sentences": "c4-few-sentences"},
    ],
    "fineweb_quality": [
        {"line_punct_ratio": "fineweb-punctuation"},
        {"short_line_ratio": "fineweb-short-lines"},
        {"char_dup_ratio": "fineweb-dup-lines"},
        {"list_ratio": "fineweb-newlines"},
    ],
}
# datatrove's Gopher filter applies its English stop-word check to every document, as the
# pack's gopher-stop-words rule does to English ones: every document is given as English.
REFERENCE_LANGUAGE = {"attr.lang": "en", "attr.lang_score": 1.0}
REASONS_BEFORE_ANY_RULE = {"empty"}


# ---------------------------------------------------------------------------------------------
# The corpus


FUNCTION = (
    "the the the a a an of of to to and and in is was that it for on with as by at from "
    "have be this are not or but which their they we you he she his her its our can will "
    "would there been has had more some all one about into than when what who"
).split()
CONTENT = (
    "data catalog policy release source licence document river mountain village history "
    "people government science system research language model network energy water city "
    "school music garden kitchen market engine weather island bridge library council "
    "museum festival harvest journey window evidence question answer result process "
    "distribution analysis community character knowledge morning evening winter summer "
    "important different several general natural political economic beautiful ancient "
    "modern quickly carefully usually finally describe explain consider develop remain "
    "measure produce receive support suggest understand extraordinarily internationally "
    "responsibilities characterization"
).split()
EXTRAS = (
    "don't it's can't won't I'm they're we've she'll U.S. e.g. Mr. Dr. well-known "
    "long-term and/or 3.5 1,000 2020-2021 10km 100% $25 (see below) \"quoted\" 'single' "
    "[1] [edit] example.com https://example.org/page?x=1 info@example.net #1 etc. vs. "
    "co-operate state-of-the-art 9am x-ray"
).split()
NAV = (
    "Home About Contact Blog Shop Login Register Search Menu Privacy Terms FAQ Careers "
    "Press News Help Support Cart Account"
).split()
BOILERPLATE = [
    "This website uses cookies to improve your experience.",
    "We use cookies to personalise content and ads.",
    "By using this site you agree to our Terms of Use and Privacy Policy.",
    "Please enable JavaScript to view the comments powered by Disqus.",
    "You need to enable JavaScript to run this app.",
    "Read our cookie policy for more information.",
    "All rights reserved.",
    "© 2024 Example Media Group. All rights reserved.",
    "Subscribe to our newsletter",
    "Share this article",
    "Posted by admin",
    "Click here to read more",
    "Related posts",
    "Leave a comment",
]
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua."
)
FOREIGN = {
    "de": "der die das und ist nicht ein eine mit auf für von Haus Stadt Wasser Zeit "
    "Menschen Geschichte Regierung schnell schön wichtig werden haben sein".split(),
    "fr": "le la les et est une un dans pour avec sur pas des maison ville eau temps "
    "histoire gouvernement rapidement beau important être avoir faire".split(),
    "es": "el la los las y es una un en para con por no casa ciudad agua tiempo "
    "historia gobierno rápidamente hermoso importante ser tener hacer".split(),
    "ru": "и в не на что это как по но из у за от мы дом город вода время история "
    "правительство быстро красивый важный".split(),
}
CJK = "".join(map(chr, range(0x4E00, 0x4F90)))  # the first 400 CJK ideographs


def _sentence(rng: random.Random, *, extras: float = 0.1, function: float = 0.45) -> str:
    words = []
    for _ in range(rng.randint(4, 24)):
        roll = rng.random()
        if roll < extras:
            words.append(rng.choice(EXTRAS))
        elif roll < extras + function:
            words.append(rng.choice(FUNCTION))
        else:
            words.append(rng.choice(CONTENT))
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words)), rng.choice(CONTENT) + ",")
    text = " ".join(words)
    end = rng.choices([".", "!", "?", "", "...", "…", '."', ":"], [70, 4, 6, 8, 3, 2, 3, 2])[0]
    return text[0].upper() + text[1:] + end


def _paragraph(rng: random.Random, sentences: int | None = None, **kw: float) -> str:
    n = sentences if sentences is not None else rng.randint(1, 7)
    return " ".join(_sentence(rng, **kw) for _ in range(n))


def _prose(rng: random.Random) -> str:
    sep = rng.choice(["\n\n", "\n", "\n\n\n"])
    return sep.join(_paragraph(rng) for _ in range(rng.randint(1, 9)))


def _boilerplate_page(rng: random.Random) -> str:
    parts = [" | ".join(rng.sample(NAV, rng.randint(3, 8)))]
    if rng.random() < 0.5:
        parts.extend(rng.sample(NAV, rng.randint(2, 8)))
    parts.append(_paragraph(rng).replace(". ", ".\n") if rng.random() < 0.5 else _paragraph(rng))
    parts.extend(rng.sample(BOILERPLATE, rng.randint(1, 6)))
    if rng.random() < 0.5:
        parts.append(_paragraph(rng))
    parts.append(" | ".join(rng.sample(NAV, rng.randint(2, 5))))
    return "\n".join(parts)


def _bullets(rng: random.Random) -> str:
    mark = rng.choice(["- ", "• ", "* ", "-", "  - ", "1. "])
    items = [
        mark + _sentence(rng, extras=0.05)[: rng.randint(8, 120)] for _ in range(rng.randint(2, 40))
    ]
    head = [_paragraph(rng, rng.randint(0, 3))] if rng.random() < 0.7 else []
    tail = [_paragraph(rng, rng.randint(1, 3))] if rng.random() < 0.3 else []
    return "\n".join(head + items + tail).strip("\n") or "- x"


def _code(rng: random.Random) -> str:
    lines = []
    for i in range(rng.randint(3, 30)):
        name = rng.choice(CONTENT)
        lines.append(
            rng.choice(
                [
                    f"function {name}(a, b) {{",
                    f"  return a + b; // {name}",
                    "}",
                    f"if (x > {i}) {{ console.log('{name}'); }}",
                    f'  "{name}": {i},',
                    f"def {name}(self, value):",
                    f"    self.{name} = value",
                    f"for (let i = 0; i < {i}; i++) {{ total += i; }}",
                ]
            )
        )
    prose = [_paragraph(rng)] if rng.random() < 0.6 else []
    if prose and rng.random() < 0.5:
        prose.append(f"Use the {rng.choice(CONTENT)} object {{key: value}} when you call it.")
    return "\n".join(prose + lines + ([_paragraph(rng)] if rng.random() < 0.4 else []))


def _lorem(rng: random.Random) -> str:
    lorem = LOREM if rng.random() < 0.7 else LOREM.lower()
    if rng.random() < 0.3:
        lorem = lorem.rstrip(".")  # no terminal mark: C4 never reads this line
    paras = [_paragraph(rng) for _ in range(rng.randint(0, 5))]
    paras.insert(rng.randint(0, len(paras)), lorem * rng.randint(1, 3))
    return "\n\n".join(paras)


def _repeated(rng: random.Random) -> str:
    kind = rng.choice(["lines", "paragraphs", "phrase", "mixed"])
    if kind == "lines":
        base = [_sentence(rng) for _ in range(rng.randint(2, 20))]
        lines = base + [rng.choice(base) for _ in range(rng.randint(0, 15))]
        rng.shuffle(lines)
        return "\n".join(lines)
    if kind == "paragraphs":
        base = [_paragraph(rng) for _ in range(rng.randint(1, 6))]
        paras = base + [rng.choice(base) for _ in range(rng.randint(0, 5))]
        rng.shuffle(paras)
        return "\n\n".join(paras)
    if kind == "phrase":
        phrase = " ".join(rng.choice(CONTENT + FUNCTION) for _ in range(rng.randint(2, 8)))
        parts = [_sentence(rng) for _ in range(rng.randint(1, 8))]
        parts += [phrase.capitalize() + "." for _ in range(rng.randint(1, 12))]
        rng.shuffle(parts)
        return " ".join(parts)
    return _prose(rng) + "\n" + "\n".join([_sentence(rng)] * rng.randint(1, 6))


def _short(rng: random.Random) -> str:
    return rng.choice(
        [
            _sentence(rng),
            _paragraph(rng, rng.randint(1, 4)),
            " ".join(rng.choice(CONTENT) for _ in range(rng.randint(1, 12))),
            rng.choice(NAV),
        ]
    )


def _foreign(rng: random.Random) -> str:
    lang = rng.choice([*FOREIGN, "zh"])
    paras = []
    for _ in range(rng.randint(1, 6)):
        sentences = []
        for _ in range(rng.randint(1, 6)):
            if lang == "zh":
                s = "".join(rng.choice(CJK) for _ in range(rng.randint(8, 40))) + "。"
            else:
                words = [rng.choice(FOREIGN[lang]) for _ in range(rng.randint(4, 18))]
                if rng.random() < 0.2:
                    words.append(rng.choice(FUNCTION))
                s = " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])
            sentences.append(s)
        paras.append(" ".join(sentences))
    return "\n\n".join(paras)


def _ellipses(rng: random.Random) -> str:
    lines = []
    trailing_off = rng.random() < 0.4  # short fragments that trail off: many "..." per word
    for _ in range(rng.randint(2, 20)):
        if trailing_off:
            s = " ".join(rng.choice(FUNCTION + CONTENT) for _ in range(rng.randint(1, 12)))
        else:
            s = _sentence(rng).rstrip('.!?…:"')
        lines.append(s + rng.choice(["...", "…", ".", "... ", " ...", "!", "....", ".."]))
    return ("\n" if rng.random() < 0.7 else " ").join(lines)


def _hashtags(rng: random.Random) -> str:
    posts = []
    for _ in range(rng.randint(1, 12)):
        tags = " ".join("#" + rng.choice(CONTENT) for _ in range(rng.randint(0, 8)))
        posts.append(f"{_sentence(rng)} {tags}".strip())
    return "\n".join(posts)


def _noisy(rng: random.Random) -> str:
    rows = []
    for _ in range(rng.randint(3, 25)):
        cells = [
            rng.choice(
                [
                    str(rng.randint(0, 9999)),
                    f"{rng.random():.2f}",
                    rng.choice(CONTENT),
                    rng.choice(["—", "-", "*", "★★★", "😀", "→", "©", "%", "$", "|"]),
                ]
            )
            for _ in range(rng.randint(2, 8))
        ]
        rows.append(rng.choice([" | ", "\t", " ", ", "]).join(cells))
    if rng.random() < 0.5:
        rows.insert(0, _paragraph(rng))
    return "\n".join(rows)


def _edge(rng: random.Random) -> str:
    return rng.choice(
        [
            "",
            " ",
            "\n\n",
            "\n" + _paragraph(rng) + "\n",
            _prose(rng).replace("\n", "\r\n"),
            "\t" + _prose(rng).replace(" ", "  ", 5) + "\n\n",
            _paragraph(rng, 6) + "\n" + "x" * 1200 + ".",
            "...",
            "#",
            "- - -\n- - -",
            _paragraph(rng, 8) + " [citation needed].",
        ]
    )


SHORT_WORDS = "a i u ok so to go do it me we us no yes lol omg ty np k hi yo up in on at by".split()
LONG_WORDS = [w for w in CONTENT if len(w) >= 11]


def _terse(rng: random.Random) -> str:
    if rng.random() < 0.5:  # chat: many very short words
        lines = [
            " ".join(rng.choice(SHORT_WORDS) for _ in range(rng.randint(3, 15)))
            + rng.choice([".", "", "!", "?"])
            for _ in range(rng.randint(3, 15))
        ]
    else:  # a list of long words, one or two per line
        lines = [
            " ".join(rng.choice(LONG_WORDS) for _ in range(rng.randint(1, 3))) + "."
            for _ in range(rng.randint(5, 40))
        ]
    return "\n".join(lines)


def _mixture(rng: random.Random) -> str:
    makers = [_prose, _boilerplate_page, _bullets, _code, _repeated, _ellipses, _hashtags]
    return "\n\n".join(rng.choice(makers)(rng) for _ in range(rng.randint(2, 4)))


KINDS = {
    "prose": (_prose, 22),
    "boilerplate": (_boilerplate_page, 10),
    "bullets": (_bullets, 8),
    "code": (_code, 6),
    "lorem": (_lorem, 4),
    "repeated": (_repeated, 12),
    "short": (_short, 6),
    "foreign": (_foreign, 6),
    "ellipses": (_ellipses, 5),
    "hashtags": (_hashtags, 5),
    "noisy": (_noisy, 5),
    "edge": (_edge, 3),
    "terse": (_terse, 3),
    "mixture": (_mixture, 8),
}


def generate_corpus(n_docs: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    names = list(KINDS)
    weights = [KINDS[k][1] for k in names]
    docs = []
    for i in range(n_docs):
        kind = rng.choices(names, weights)[0]
        docs.append({"id": f"{kind}-{i:05d}", "kind": kind, "text": KINDS[kind][0](rng)})
    if docs:
        # One document above Gopher's 100,000-word ceiling, so that rule is exercised too.
        words = [rng.choice(FUNCTION + CONTENT) for _ in range(100_200)]
        docs[0] = {"id": "long-00000", "kind": "long", "text": " ".join(words) + "."}
    return docs


# ---------------------------------------------------------------------------------------------
# Running both sides


def datatrove_python() -> Path:
    """The datatrove venv's interpreter, building the venv first if needed."""
    done = subprocess.run(
        ["bash", str(BENCH / "datatrove_env.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not build the datatrove venv: {done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def run_reference(docs: list[dict[str, str]], python: Path, workdir: Path) -> tuple[dict, dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    src, dst = workdir / "quality_corpus.jsonl", workdir / "quality_datatrove.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps({"id": doc["id"], "text": doc["text"]}) + "\n")
    done = subprocess.run(
        [str(python), str(BENCH / "datatrove_quality_ref.py"), str(src), str(dst)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"datatrove reference run failed: {done.stderr.strip()[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    with dst.open(encoding="utf-8") as f:
        rows = {row["id"]: row for row in map(json.loads, f)}
    return rows, summary


def run_ours(docs: list[dict[str, str]]) -> tuple[dict[str, dict], float]:
    stage = create("quality_v1")
    documents = [Document(id=d["id"], text=d["text"]) for d in docs]
    started = time.process_time()
    measured = {doc.id: doc.attributes for doc in stage.run(documents)}
    return measured, time.process_time() - started


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass
class RuleAgreement:
    rule: str
    agree: int = 0
    known: int = 0
    ref_fail: int = 0  # documents the reference failed on this rule
    disagreements: list[tuple[str, bool, bool]] = field(default_factory=list)  # id, ref, ours

    @property
    def ratio(self) -> float:
        return self.agree / self.known if self.known else 1.0


@dataclass
class Report:
    docs: int
    rules: dict[str, RuleAgreement]
    filters: dict[str, RuleAgreement]  # filter-level pass/fail
    ours_seconds: float
    reference_seconds: dict[str, float]

    @property
    def overall(self) -> float:
        agree = sum(r.agree for r in self.rules.values())
        known = sum(r.known for r in self.rules.values())
        return agree / known if known else 1.0

    @property
    def worst(self) -> RuleAgreement:
        return min(self.rules.values(), key=lambda r: r.ratio)


def reference_verdicts(flt: str, outcome: str) -> dict[str, bool]:
    """The rules whose verdict the reference's outcome tells, and that verdict."""
    groups = REFERENCE_RULES[flt]
    if outcome == "pass":
        return {rule: True for group in groups for rule in group.values()}
    if outcome in REASONS_BEFORE_ANY_RULE:
        return {}
    failed_at = next(i for i, group in enumerate(groups) if outcome in group)
    failed = groups[failed_at][outcome]
    # The checks tested before the failing one held; the ones after it were never tested.
    tested = {reason for group in groups[:failed_at] for reason in group}
    checks: dict[str, set[str]] = {}
    for group in groups:
        for reason, rule in group.items():
            checks.setdefault(rule, set()).add(reason)
    verdicts = {rule: True for rule, reasons in checks.items() if reasons <= tested}
    verdicts[failed] = False
    return verdicts


def pack_verdicts(policy: CompiledPolicy, attrs: dict) -> dict[str, bool]:
    """Per quality rule of the pack: whether the document passes it (True) or the rule drops
    it. A rule that cannot be evaluated (an undefined signal, None) fails, as the engine fails
    closed."""
    facts = {f"attr.{name}": value for name, value in attrs.items()} | REFERENCE_LANGUAGE
    return {rule: matched is False for rule, matched in policy.explain("quality", facts)}


def compare(
    docs, reference, ours, policy: CompiledPolicy
) -> tuple[dict[str, RuleAgreement], dict[str, RuleAgreement]]:
    rules = {
        rule: RuleAgreement(rule)
        for groups in REFERENCE_RULES.values()
        for group in groups
        for rule in group.values()
    }
    filters = {flt: RuleAgreement(flt) for flt in REFERENCE_RULES}
    for doc in docs:
        ours_passes = pack_verdicts(policy, ours[doc["id"]])
        for flt, groups in REFERENCE_RULES.items():
            outcome = reference[doc["id"]][flt]
            if outcome not in REASONS_BEFORE_ANY_RULE and outcome != "pass":
                if not any(outcome in group for group in groups):
                    raise RuntimeError(f"{flt}: unmapped datatrove reason {outcome!r}")
            for rule, verdict in reference_verdicts(flt, outcome).items():
                _tally(rules[rule], doc["id"], verdict, ours_passes[rule])
            ours_filter = all(ours_passes[r] for group in groups for r in group.values())
            _tally(filters[flt], doc["id"], outcome == "pass", ours_filter)
    return rules, filters


def _tally(agreement: RuleAgreement, doc_id: str, ref: bool, ours: bool) -> None:
    agreement.known += 1
    agreement.ref_fail += not ref
    if ref == ours:
        agreement.agree += 1
    else:
        agreement.disagreements.append((doc_id, ref, ours))


def run_conformance(
    n_docs: int, seed: int, python: Path | None = None, pack: str = DEFAULT_PACK
) -> Report:
    policy = compile_policy(packs.load(pack), memoize=False)
    missing = {r for g in REFERENCE_RULES.values() for c in g for r in c.values()} - {
        rule.id for rule in policy.policy.rules("quality")}
    if missing:
        raise RuntimeError(f"pack {pack} has no quality rule {', '.join(sorted(missing))}")
    docs = generate_corpus(n_docs, seed)
    reference, summary = run_reference(docs, python or datatrove_python(), OUT)
    ours, seconds = run_ours(docs)
    rules, filters = compare(docs, reference, ours, policy)
    return Report(len(docs), rules, filters, seconds, summary["seconds"])


def print_report(report: Report, docs: list[dict[str, str]] | None, show: int) -> None:
    texts = {d["id"]: d["text"] for d in docs or []}
    print(f"documents: {report.docs}\n")
    print(
        f"{'rule':36} {'known':>6} {'ref fails':>9} {'agree':>6} {'ratio':>8}  "
        "disagree: only ref fails / only ours fails"
    )
    for rule in report.rules.values():
        fails = sum(1 for _, ref, ours in rule.disagreements if not ref)
        print(
            f"{rule.rule:36} {rule.known:6d} {rule.ref_fail:9d} {rule.agree:6d} "
            f"{rule.ratio:8.2%}  {fails}/{len(rule.disagreements) - fails}"
        )
    header = f"{'filter (whole pass/fail)':36} {'docs':>6} {'ref fails':>9} {'agree':>6}"
    print(f"\n{header} {'ratio':>8}")
    for flt in report.filters.values():
        print(f"{flt.rule:36} {flt.known:6d} {flt.ref_fail:9d} {flt.agree:6d} {flt.ratio:8.2%}")
    print(f"\noverall per-rule agreement: {report.overall:.3%}")
    ref_total = sum(report.reference_seconds.values())
    print(
        "\nthroughput (one process each, CPU time, same documents, every document through every"
        " check):"
    )
    for flt, secs in report.reference_seconds.items():
        print(f"  datatrove {flt:24} {report.docs / secs:10.0f} docs/s")
    print(f"  datatrove all four filters         {report.docs / ref_total:10.0f} docs/s")
    print(f"  govcat quality_v1 (all signals)    {report.docs / report.ours_seconds:10.0f} docs/s")
    print(f"  ratio govcat / datatrove           {ref_total / report.ours_seconds:10.1f}x")
    if show:
        for rule in report.rules.values():
            for doc_id, ref, ours in rule.disagreements[:show]:
                print(
                    f"\n--- {rule.rule}: {doc_id} reference={'pass' if ref else 'fail'} "
                    f"ours={'pass' if ours else 'fail'}"
                )
                print(repr(texts.get(doc_id, "")[:600]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=0, help="disagreements to print per rule")
    parser.add_argument("--min-agreement", type=float, default=0.99)
    parser.add_argument("--python", type=Path, help="datatrove venv interpreter")
    parser.add_argument("--pack", default=DEFAULT_PACK, help="policy pack whose rules decide")
    args = parser.parse_args()
    docs = generate_corpus(args.docs, args.seed)
    report = run_conformance(args.docs, args.seed, args.python, args.pack)
    print_report(report, docs, args.show)
    worst = report.worst
    if worst.ratio < args.min_agreement:
        print(f"\nFAIL: {worst.rule} agrees on {worst.ratio:.2%} < {args.min_agreement:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
