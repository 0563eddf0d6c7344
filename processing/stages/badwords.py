"""Bad-words counts: C4's rule (Raffel et al. 2020) as a measurement, per list and language.

C4 dropped every page containing a word of the "List of Dirty, Naughty, Obscene, and
Otherwise Bad Words". Here the stage only counts: per list, how many times its terms occur in
the lowercased text; the policy decides (the packs' `c4-badwords` rule drops a document with
a hit from a list of its own language). govcat ships no list: users give list files
(docs/content-filters.md says where to get one and under which licence).

A list file is UTF-8 text, one term a line (a term may be a phrase); blank lines and lines
starting with `#` are skipped. Its name is the file name without extension; its language is
given by a first comment `# lang: xx` (`# lang: *` for every language) or, failing that, by
the file name when that is a language tag (`en`, `de-AT`: LDNOOBW's files are named so).

Matching, as C4's reference and its multilingual successors do: a term matches where it is
not preceded or followed by a word character (`\\w`), so "ass" does not match "class"; a term
written in a script without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
Myanmar, Tibetan) matches anywhere as a substring, and so does every term of a list whose
language is written so (zh, ja, th, lo, km, my, bo). Each list is one regular expression,
its terms arranged as a trie so that matching does not try the terms one by one.

Attributes: `badwords_count` (matches over all lists), `badwords_lists` (list -> matches, every
loaded list present), `badwords_langs` (language -> matches, summed over its lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.atomic import bytes_sha256
from processing.stage import (
    InvalidDocumentError,
    Stage,
    StageError,
    StageOptionError,
    register,
)
from processing.types import AttributeValue, Document

STAGE_NAME = "badwords_v1"
ANY_LANGUAGE = "*"
# Languages whose writing puts no spaces between words: their terms match as substrings.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
_NO_SPACE_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LANG_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_HEADER = re.compile(r"^#\s*lang(?:uage)?\s*:\s*(\S+)\s*$", re.IGNORECASE)


class BadWordsListError(StageError):
    """A bad-words list file that cannot be read or says no language."""


@dataclass(frozen=True, slots=True)
class BadWordsList:
    """One list: its name, language, terms (lowercased) and the sha256 of the file."""

    name: str
    language: str
    terms: tuple[str, ...]
    sha256: str
    path: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "language": self.language, "terms": len(self.terms),
                "sha256": self.sha256, "file": Path(self.path).name}


def read_list(path: str | Path) -> BadWordsList:
    """A list file, parsed (see the module docstring for its format)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise BadWordsListError(f"{file}: cannot read the bad-words list ({exc.strerror})") \
            from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadWordsListError(f"{file}: a bad-words list must be UTF-8 ({exc.reason} at "
                                f"byte {exc.start})") from None
    language = None
    terms: dict[str, None] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            header = _HEADER.match(line)
            if header and language is None and not terms:
                language = header.group(1)
            continue
        terms[line.lower()] = None
    if language is None:
        stem = file.name.split(".")[0]
        if not _LANG_TAG.match(stem):
            raise BadWordsListError(
                f"{file}: say the list's language in a first line '# lang: xx' (or '# lang: *'"
                " for every language), or name the file by its language tag (en, de-AT)")
        language = stem
    if language != ANY_LANGUAGE and not _LANG_TAG.match(language):
        raise BadWordsListError(f"{file}: {language!r} is not a language tag (e.g. en, pt-BR)")
    primary = language if language == ANY_LANGUAGE else language.split("-")[0].lower()
    return BadWordsList(name=file.name.split(".")[0], language=primary, terms=tuple(terms),
                        sha256=bytes_sha256(data), path=str(file))


def _trie_pattern(terms: Iterable[str]) -> str:
    """One regular expression matching any of `terms`, longest first, shaped as a trie."""
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie)


def compile_list(words: BadWordsList) -> re.Pattern[str] | None:
    """The list's matcher: word-bounded terms and substring terms in one expression."""
    if not words.terms:
        return None
    substring = words.language in NO_SPACE_LANGUAGES
    bounded = [t for t in words.terms if not substring and not _NO_SPACE_SCRIPT.search(t)]
    anywhere = [t for t in words.terms if substring or _NO_SPACE_SCRIPT.search(t)]
    parts = []
    if bounded:
        parts.append(rf"(?<!\w)(?:{_trie_pattern(bounded)})(?!\w)")
    if anywhere:
        parts.append(f"(?:{_trie_pattern(anywhere)})")
    return re.compile("|".join(parts))


@register
class BadWordsStage(Stage):
    """Occurrences of the terms of each bad-words list, per list and per language."""

    name = STAGE_NAME
    version = "1"
    description = "bad-words counts per list and language (C4's rule as a measurement)"
    attributes = ("badwords_count", "badwords_lists", "badwords_langs")

    def __init__(self, *, lists: Sequence[str] = ()) -> None:
        super().__init__()
        if isinstance(lists, str):
            lists = [lists]
        self.lists = tuple(str(p) for p in lists)
        loaded = [read_list(p) for p in self.lists]
        names = [w.name for w in loaded]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise StageOptionError(f"stage {STAGE_NAME}: two lists are named {twice[0]!r} "
                                   "(a list is named by its file name); rename one")
        self.loaded = tuple(loaded)
        self._matchers = [(w, compile_list(w)) for w in loaded]

    def describe(self) -> list[dict[str, Any]]:
        """What the run record keeps about the lists: names, languages, sizes, hashes."""
        return [w.describe() for w in self.loaded]

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if not isinstance(doc.text, str):
            raise InvalidDocumentError(doc.id, "text-not-a-string", type(doc.text).__name__)
        lowered = doc.text.lower()
        per_list: dict[str, int] = {}
        per_lang: dict[str, int] = {}
        for words, matcher in self._matchers:
            found = sum(1 for _ in matcher.finditer(lowered)) if matcher is not None else 0
            per_list[words.name] = found
            per_lang[words.language] = per_lang.get(words.language, 0) + found
        return {"badwords_count": sum(per_list.values()), "badwords_lists": per_list,
                "badwords_langs": per_lang}
