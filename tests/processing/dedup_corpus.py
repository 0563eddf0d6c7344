"""Small generated corpora for the dedup tests: paragraphs and their near copies."""

from __future__ import annotations

import random

_SYLLABLES = "ka lo mi ne ru sa te vo xi ba de fu go hi ju".split()


def vocabulary(size: int = 4000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return sorted({"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(size)})


def paragraph(rng: random.Random, words: int = 150, vocab: list[str] | None = None) -> str:
    vocab = vocab or vocabulary()
    out = rng.choices(vocab, k=words)
    out[0] = out[0].capitalize()
    return " ".join(out) + "."


def change_one_word(text: str, position: int, word: str = "zzzchanged") -> str:
    words = text.split(" ")
    words[position] = word
    return " ".join(words)


def families(n: int, copies: int, seed: int) -> list[tuple[int, str]]:
    """n base paragraphs, each with `copies` near copies (one word changed, at different
    places): (family, text) pairs, shuffled."""
    rng = random.Random(seed)
    vocab = vocabulary(seed=seed)
    out: list[tuple[int, str]] = []
    for family in range(n):
        base = paragraph(rng, rng.randint(80, 200), vocab)
        out.append((family, base))
        for c in range(copies):
            out.append((family, change_one_word(base, 10 + 17 * c, f"zz{'q' * (c + 1)}")))
    rng.shuffle(out)
    return out
