"""A licence file's prose, cut the way a reader sees it: lines, paragraphs, section headings,
sentences — and the words that give a statement to a part of a package (history,
documentation, bundled code, named files) or to the whole of it. Used by
`ingest.licensing.reading`."""

from __future__ import annotations

import re

__all__ = ["HISTORY", "PARTS", "SENTENCE_END", "WHOLE", "Text", "flatten", "sentence_of"]

_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S+|<[^>\s]*>", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-Z0-9(\"'*\-])")
_UNDERLINE = re.compile(r"^\s*([=\-~^*#_])\1{2,}\s*$")

HISTORY = re.compile(r"\bhistor(?:y|ic|ical|ically)\b|\bformerly\b|\bprevious(?:ly)?\s+"
                     r"(?:licen[cs]ed|released|versions?)\b|\b(?:older|earlier)\s+versions\b",
                     re.IGNORECASE)
PARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("documentation", re.compile(
        r"\b(?:documentation|docs|manuals?|tutorials?|examples?|recipes?|artwork|logos?|"
        r"images?|icons?|fonts?)\b", re.IGNORECASE)),
    ("bundled code", re.compile(
        r"\b(?:bundled?|vendor(?:ed)?|third[- ]party|3rd[- ]party|incorporated|embedded|"
        r"included\s+(?:in|with|into|from)|includes?\s+(?:code|software|files?|portions?|parts?|"
        r"a\s+copy)|contains?\s+(?:code|software|files?|portions?|parts?)|portions?|"
        r"parts?\s+of|derived\s+from|adapted\s+from|copied\s+from|taken\s+from|based\s+on|"
        r"ported\s+from|dependenc(?:y|ies)|sub-?modules?|sub-?projects?|other\s+licen[cs]es|"
        r"different\s+licen[cs]es)\b", re.IGNORECASE)),
    ("named files", re.compile(
        r"\b(?:the|some|these|those|following|other|certain)\s+(?:source\s+)?files?\b|"
        r"\bfiles?\s+(?:in|under|named|called|listed)\b|\bdirector(?:y|ies)\b|\bfolders?\b|"
        # a path: dir/file.ext or dir/ (not "and/or")
        r"\b[\w-]+(?:/[\w-]+)*/[\w-]*\.\w+\b|\b[\w.-]+/(?=[\s,;:)]|$)", re.IGNORECASE)),
)
WHOLE = re.compile(
    r"\bsoftware\s+and\s+(?:its\s+|the\s+|associated\s+)?documentation\b|"
    r"\b(?:this|the|our)\s+(?:software|program|library|project|package|code|work|module|crate|"
    r"product|application|distribution|repository)\s+(?:is|are|may|can)\b",
    re.IGNORECASE)


class Text:
    """A file's lines with its paragraphs and section headings (1-based line numbers)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headings = [n for n in range(1, len(self.lines) + 1) if self._is_heading(n)]

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def blank(self, number: int) -> bool:
        return not self.line(number).strip() or bool(_UNDERLINE.match(self.line(number)))

    def _is_heading(self, number: int) -> bool:
        line = self.line(number).strip()
        if not line or len(line) > 100 or _UNDERLINE.match(line):
            return False
        if line.startswith("#") or _UNDERLINE.match(self.line(number + 1)):
            return True
        letters = [c for c in line if c.isalpha()]
        alone = self.blank(number - 1) and self.blank(number + 1)
        return (alone and len(letters) >= 4 and all(c.isupper() for c in letters)
                and len(line.split()) <= 12 and not line.endswith("."))

    def paragraph(self, number: int) -> tuple[int, int]:
        start = end = number
        while start > 1 and not self.blank(start - 1):
            start -= 1
        while end < len(self.lines) and not self.blank(end + 1):
            end += 1
        return start, end


def flatten(text: str) -> str:
    return " ".join(_URL.sub(" ", text).split())


def sentence_of(paragraph: str, match_text: str) -> str:
    """The sentence of `paragraph` where `match_text` starts (the paragraph when not found)."""
    lowered, needle = paragraph.lower(), flatten(match_text).lower()[:40]
    at = lowered.find(needle) if needle else -1
    if at < 0:
        return paragraph
    start = 0
    for piece in SENTENCE_END.split(paragraph):
        if start <= at < start + len(piece) + 1:
            return piece
        start += len(piece) + 1
    return paragraph
