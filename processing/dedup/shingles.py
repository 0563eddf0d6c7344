"""Text normalisation and word shingles, the sets that MinHash signs.

Normalisation (as FineWeb simplifies text before MinHash), in this order:

1. lowercase (`str.lower`);
2. accents stripped: canonical decomposition (NFD), then combining marks (Unicode Mn) dropped,
   so "Café" and "cafe" are one word; invisible format characters (Cf: soft hyphen,
   zero-width joiners) are dropped too;
3. punctuation and symbols (Unicode P* and S*) and control characters become spaces — unlike
   datatrove, which deletes them, so "end.Start" is two words here;
4. every run of decimal digits (Unicode Nd) becomes "0", as FineWeb does, so "2023" and "17"
   are the same word;
5. whitespace collapsed: words are what `str.split()` separates, joined by single spaces.

A shingle is `shingle_words` consecutive words joined by one space, as UTF-8 bytes (what
datasketch hashes). A document with fewer words than that has one shingle, all its words; one
with no word left has none (its signature is datasketch's empty MinHash and it is never a
near-duplicate candidate; exact duplicates are still found by content hash).

`processing.dedup.minhash.signatures` hashes these shingles document by document.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

_DIGITS = re.compile(r"\d+")


@cache
def _translation() -> dict[int, str | None]:
    # Built once per process (~0.5 s): every code point whose category the rules above name.
    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(cp))
        if category == "Mn" or category == "Cf":
            table[cp] = None
        elif category[0] in "PS" or category == "Cc":
            table[cp] = " "
    return table


def normalize(text: str) -> str:
    """The text as shingles see it (see the module docstring for the rules)."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFD", text)
    text = text.translate(_translation())
    text = _DIGITS.sub("0", text)
    return " ".join(text.split())


def shingles(text: str, size: int = 5) -> list[bytes]:
    """The word shingles of one document, in order, repeats kept."""
    return _shingles_of(normalize(text).encode(), size)


def _shingles_of(normalised: bytes, size: int) -> list[bytes]:
    if not normalised:
        return []
    words = normalised.split(b" ")
    if len(words) < size:
        return [normalised]
    # zip over shifted views of the word list: the joins run in C, one per shingle.
    return list(map(b" ".join, zip(*(words[k:] for k in range(size)), strict=False)))
