"""How a licence file reads: the licence it grants, what it quotes for parts, GNU versions, choices.

scancode reports every licence a file mentions. A reader of the file draws a narrower
conclusion, and so does `read`, for the findings of one level of evidence (a file's own
notices, or the nearest licence files) with the files' texts when it has them:

1. *Statements*: each scancode match of a detection (`extra["matches"]`, see
   `ingest.licensing.scancode`) is one statement with its lines and kind (licence text, notice,
   reference...). Introductions ("licensed under the") and clues are not statements.
2. *Scope*: a statement whose sentence, introduction or section heading gives it to a part —
   history ("Historically ... GPL-compatible"), documentation or examples, bundled, vendored,
   third-party or derived code, named files or directories — is *secondary* evidence: kept,
   but not concluded. "This software is ..." or "software and documentation" keeps a statement
   primary. A file where every statement is scoped concludes all of them (nothing says which
   part is the whole).
3. *References give way to texts*: a passing reference ("the GPL", "BSD license") in a file that
   holds a licence text or notice of the same family is that licence, not another one.
4. *GNU versions*: a GPL/LGPL/AGPL/GFDL `-only` statement becomes `-or-later` when a notice in
   the same files says so (scancode reads the standard notice as -or-later), when its own
   sentence says "or later" / "or (at your option) any later version", or when the package
   metadata declares the -or-later licence. Otherwise it stays `-only`, with a note: the licence
   text alone does not say which versions the author allows.
5. *Choices*: several primary licences are joined with OR when the files say so ("either ...
   or", "at your option", "dual licensed", "you may choose") outside the GNU "either version 2
   ... or (at your option) any later version" and the Apache "either express or implied"
   formulas; otherwise with AND. When the package metadata names exactly the same licences
   combined differently (LICENSE-MIT and LICENSE-APACHE beside `MIT OR Apache-2.0`), the
   metadata says how they combine.

Without the text (findings built elsewhere, files gone) steps 2 and the text part of 4 and 5
are skipped: every statement is primary.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from common import spdx
from ingest.code_licenses import Declaration
from ingest.licensing.prose import (
    HISTORY,
    PARTS,
    SENTENCE_END,
    WHOLE,
    Text,
    flatten,
    sentence_of,
)
from ingest.types import LicenseFinding

__all__ = ["POINTER", "Reading", "read"]

POINTER = "LicenseRef-scancode-unknown-license-reference"  # "licensed under the" / "see LICENSE"
_NOT_STATEMENTS = frozenset({"intro", "clue"})
_MIN_TEXT_LINES = 3
_DEDICATIONS = frozenset({"CC0-1.0", "Unlicense"})  # public-domain dedications
_PUBLIC_DOMAIN = "LicenseRef-scancode-public-domain"
# What scancode makes of an unversioned "the GPL" / "LGPL" / "AGPL".
_GENERIC = frozenset({"GPL-1.0-or-later", "LGPL-2.0-or-later", "AGPL-1.0-or-later"})
_STRENGTH = {"text": 3, "notice": 2, "other": 2, "reference": 1, "tag": 0}
_GNU = re.compile(r"^(?P<base>(?:A|L)?GPL-\d\.\d|GFDL-1\.\d(?:-(?:no-)?invariants)?)"
                  r"-(?P<range>only|or-later)$")

_GNU_FORMULA = re.compile(
    r"\beither\s+version\s+[\d.]+\s+of\s+the\s+licen[cs]e,?\s+or\b|"
    r"\bor\s*\(?\s*at\s+your\s+option\s*\)?\s*any\s+later\s+version\b|"
    r"\beither\s+express(?:ed)?\s+or\s+implied\b",
    re.IGNORECASE)
_CHOICE = re.compile(
    r"\bdual[- ]?licen[cs](?:ed|e|ing)\b|\bdually\s+licen[cs]ed\b|\bmulti[- ]licen[cs]ed\b|"
    r"\beither\b(?:[^.]|\.(?=\S)){0,300}?\bor\b|\bat\s+(?:your|the\s+user'?s?|licensee'?s?)\s+"
    r"(?:option|choice|discretion|election)\b|\byou\s+(?:may|can)\s+(?:choose|select|pick|"
    r"elect)\b|\b(?:one|any)\s+of\s+the\s+following\s+licen[cs]es\b|\balternatively\b",
    re.IGNORECASE)
_OR_LATER = re.compile(
    r"\bor\s*\(?\s*at\s+your\s+option\s*\)?\s*any\s+later\s+version\b|"
    r"\bor\s+(?:any\s+)?(?:later|newer)\b|\band\s+later\b|\bv?\d(?:\.\d)?\s*\+|-or-later\b",
    re.IGNORECASE)


@dataclass(slots=True)
class Reading:
    expression: str | None  # None: no statement at all
    primary: list[LicenseFinding]  # what the expression rests on
    secondary: list[LicenseFinding]  # licences quoted for parts, history, bundled files
    notes: list[str]
    metadata: list[LicenseFinding]  # package-metadata findings that shaped the expression


@dataclass(slots=True)
class _Statement:
    finding: LicenseFinding
    expression: str
    lines: tuple[int, int]
    kind: str
    text: str
    scope: str | None = None
    context: str = ""
    context_lines: frozenset[int] = frozenset()


# ------------------------------------------------------------------------------ steps


def _statements(finding: LicenseFinding) -> list[_Statement]:
    matches = (finding.extra or {}).get("matches")
    lines = tuple((finding.extra or {}).get("lines") or (0, 0))
    if not matches:
        return [_Statement(finding, finding.expression, (lines[0], lines[-1]), "other",
                           finding.raw)]
    out = []
    for match in matches:
        try:
            expression = spdx.canonical(match.get("expression") or "")
        except spdx.LicenseExpressionError:
            expression = ""
        if not expression or match.get("kind") in _NOT_STATEMENTS or expression == POINTER:
            continue
        first, last = match.get("lines") or lines
        kind = match.get("kind", "other")
        same = next((s for s in out if s.expression == expression
                     and s.lines[0] <= last and first <= s.lines[1]), None)
        if same is not None:  # one statement matched by two rules (a name and its tag)
            same.lines = (min(first, same.lines[0]), max(last, same.lines[1]))
            if _STRENGTH.get(kind, 0) > _STRENGTH.get(same.kind, 0):
                same.kind = kind
            continue
        out.append(_Statement(finding, expression, (first, last), kind, match.get("text", "")))
    return out


def _is_full_text(statement: _Statement) -> bool:
    # A one-line "text" rule ("is in the public domain.") reads like a notice.
    return statement.kind == "text" and statement.lines[1] - statement.lines[0] >= _MIN_TEXT_LINES


def _scope(statement: _Statement, text: Text, covered: set[int]) -> None:
    first, last = statement.lines
    heading = next((text.line(n) for n in reversed(text.headings)
                    if n < first and n not in covered), "")
    if _is_full_text(statement):
        intro = []
        n = first - 1
        while n >= 1 and len(intro) < 3 and not text.blank(n) and n not in covered:
            intro.insert(0, text.line(n))
            n -= 1
        if not intro and text.line(n - 1).rstrip().endswith(":"):
            start, end = text.paragraph(n - 1)
            intro = [text.line(i) for i in range(start, end + 1)]
        statement.context_lines = frozenset(range(n + 1, first))
        if first in text.headings:
            intro.append(text.line(first))
        sentence = flatten(" ".join(intro))
    else:
        start, end = text.paragraph(first)
        end = max(end, text.paragraph(last)[1])
        prose = flatten(" ".join(text.line(n) for n in range(start, end + 1)
                               if n not in covered or start == end))
        sentence = sentence_of(prose, statement.text)
        statement.context_lines = frozenset(range(start, end + 1))
        before = text.line(start - 2).rstrip() if text.blank(start - 1) else ""
        if before.endswith(":") and sentence == SENTENCE_END.split(prose)[0]:
            sentence = f"{flatten(before)} {sentence}"
    heading = flatten(heading)
    statement.context = sentence
    if HISTORY.search(heading) or HISTORY.search(sentence):
        statement.scope = "history"
        statement.context = sentence or heading
        return
    for label, pattern in PARTS:
        if pattern.search(heading) and not WHOLE.search(heading):
            statement.scope, statement.context = label, heading
            return
    if WHOLE.search(sentence):
        return
    for label, pattern in PARTS:
        if pattern.search(sentence):
            statement.scope = label
            return


def _family(key: str) -> str:
    match = _GNU.match(key)
    if match:
        return re.sub(r"-\d.*$", "", match["base"])
    return re.sub(r"-\d[\d.]*(?:-.*)?$", "", key)


def _settle(primary: list[_Statement], notes: list[str]) -> list[_Statement]:
    """Step 3: statements that point at, restate or name part of another give way to it."""
    _pointers(primary, notes)
    texts: dict[str, set[str]] = {}
    for s in primary:
        if _is_full_text(s):
            for key in spdx.license_keys(s.expression):
                texts.setdefault(_family(key), set()).add(key)
    for s in primary:
        if _is_full_text(s):
            continue
        for key in sorted(spdx.license_keys(s.expression)):
            stated = texts.get(_family(key), set())
            if len(stated) != 1 or key in stated:
                continue
            text_key = next(iter(stated))
            mine, theirs = _GNU.match(key), _GNU.match(text_key)
            if mine and key not in _GENERIC and theirs and mine["base"] != theirs["base"]:
                continue  # "GPL-2.0-or-later" beside a GPL-3.0 text: both versions are meant
            s.expression = _replace_key(s.expression, key, text_key)
            notes.append(f"{_where(s)}: {key} is the {text_key} the files state in full")
    dedications = {k for s in primary for k in spdx.license_keys(s.expression)} & _DEDICATIONS
    if len(dedications) == 1:
        dedication = next(iter(dedications))
        for s in primary:
            if _PUBLIC_DOMAIN in spdx.license_keys(s.expression):
                s.expression = _replace_key(s.expression, _PUBLIC_DOMAIN, dedication)
                notes.append(f"{_where(s)}: the public-domain statement is the {dedication} "
                             "dedication")
    kept: list[_Statement] = []
    for s in primary:
        keys = spdx.license_keys(s.expression)
        host = next((o for o in primary
                     if o is not s and keys < spdx.license_keys(o.expression)), None)
        if host is not None:
            notes.append(f"{_where(s)}: {s.expression} is one of the licences of "
                         f"{host.expression} ({_where(host)})")
            continue
        kept.append(s)
    return kept


def _pointers(primary: list[_Statement], notes: list[str]) -> None:
    """A notice that names other licence files of the level ("either of the licenses found in
    LICENSE.APACHE or LICENSE.BSD") means the licences those files state."""
    locations = list(dict.fromkeys(s.finding.location for s in primary))
    for s in primary:
        if _is_full_text(s) or not s.context:
            continue
        pointed = [loc for loc in locations if loc != s.finding.location
                   and re.search(rf"(?<![\w.-]){re.escape(loc.rsplit('/', 1)[-1])}(?![\w-])"
                                 r"(?!\.\w)", s.context)]
        named = list(dict.fromkeys(o.expression for o in primary
                                   if o.finding.location in pointed and o is not s))
        if not named:
            continue
        choice = _CHOICE.search(_GNU_FORMULA.sub(" ", s.context))
        expression = spdx.or_all(named) if choice else spdx.and_all(named)
        notes.append(f"{_where(s)}: points at {', '.join(p.rsplit('/', 1)[-1] for p in pointed)}"
                     f": {expression} (scancode read {s.expression})")
        s.expression = expression


def _replace_key(expression: str, old: str, new: str) -> str:
    replaced = re.sub(rf"(?<![\w.+-]){re.escape(old)}(?![\w.+-])", new, expression)
    try:
        return spdx.canonical(replaced)
    except spdx.LicenseExpressionError:  # over the length limit: conclude reports it
        return replaced


def _gnu_versions(
    primary: list[_Statement], declared: Declaration | None, notes: list[str],
    used: list[LicenseFinding],
) -> None:
    later = {k for s in primary for k in spdx.license_keys(s.expression) if k.endswith("-or-later")}
    declared_keys = spdx.license_keys(declared.expression) if declared and declared.expression \
        else frozenset()
    for s in primary:
        for key in sorted(spdx.license_keys(s.expression)):
            match = _GNU.match(key)
            if match is None or match["range"] != "only":
                continue
            wider = f"{match['base']}-or-later"
            why = None
            if wider in later:
                why = "a notice in the same files says 'or any later version'"
            elif s.kind != "text" and _OR_LATER.search(s.context or s.finding.raw):
                why = f"its sentence says or later ({s.context[:120]!r})"
            elif wider in declared_keys:
                why = "the package metadata declares " + wider
                used.extend(f for f in declared.findings
                            if wider in spdx.license_keys(f.expression) and f not in used)
            if why:
                s.expression = _replace_key(s.expression, key, wider)
                notes.append(f"{_where(s)}: {key} read as {wider}: {why}")
            else:
                notes.append(f"{_where(s)}: {key}: the licence text alone does not say "
                             "'or any later version' (no notice in the files, nothing in the "
                             "package metadata): this version only")


def _choice_marker(texts: dict[str, tuple[Text, set[int]]], secondary: list[_Statement]) -> str:
    for location, (text, covered) in texts.items():
        quoted = {n for s in secondary if s.finding.location == location
                  for n in s.context_lines}
        prose = flatten(" ".join(line for n, line in enumerate(text.lines, 1)
                               if n not in covered and n not in quoted))
        for sentence in SENTENCE_END.split(prose):
            found = _CHOICE.search(_GNU_FORMULA.sub(" ", sentence))
            if found:
                return sentence
    return ""


def _where(statement: _Statement) -> str:
    first, last = statement.lines
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    return f"{statement.finding.location} {lines}" if first else statement.finding.location


def _evidence(statements: list[_Statement], whole: dict[int, int]) -> list[LicenseFinding]:
    """The original finding when all its statements are here (and, for secondary evidence, it
    has only one), else one finding per statement; a secondary one carries its `scope` and
    `context` in `extra`."""
    out: list[LicenseFinding] = []
    counts: dict[int, int] = {}
    for s in statements:
        counts[id(s.finding)] = counts.get(id(s.finding), 0) + 1
    seen: set[int] = set()
    for s in statements:
        extra = dict(s.finding.extra or {})
        if s.scope:
            extra.update(scope=s.scope, context=s.context[:300])
        alone = whole[id(s.finding)]
        if counts[id(s.finding)] == alone and (not s.scope or alone == 1):
            if id(s.finding) not in seen:
                seen.add(id(s.finding))
                out.append(dataclasses.replace(s.finding, extra=extra) if s.scope
                           else s.finding)
            continue
        extra.pop("matches", None)
        extra.update(lines=list(s.lines), kind=s.kind, part_of=s.finding.expression)
        out.append(dataclasses.replace(s.finding, expression=s.expression, extra=extra))
    return out


# ------------------------------------------------------------------------------ reading


def read(
    findings: Sequence[LicenseFinding],
    texts: Mapping[str, str] | None = None,
    declared: Declaration | None = None,
) -> Reading:
    """The primary licence of `findings` (identified findings of one level), see above."""
    texts = {} if texts is None else texts
    notes: list[str] = []
    statements: list[_Statement] = []
    whole: dict[int, int] = {}
    files: dict[str, tuple[Text, set[int]]] = {}
    for finding in findings:
        own = _statements(finding) or [_Statement(finding, finding.expression, (0, 0), "other",
                                                  finding.raw)]
        whole[id(finding)] = len(own)
        statements.extend(own)
    for location in dict.fromkeys(s.finding.location for s in statements):
        text = texts.get(location)
        if text is None:
            continue
        here = [s for s in statements if s.finding.location == location]
        covered = {n for s in here if _is_full_text(s)
                   for n in range(s.lines[0], s.lines[1] + 1)}
        parsed = Text(text)
        files[location] = (parsed, covered)
        for s in here:
            _scope(s, parsed, covered - set(range(s.lines[0], s.lines[1] + 1)))
    if not statements:
        return Reading(None, [], [], notes, [])
    primary = [s for s in statements if s.scope is None]
    secondary = [s for s in statements if s.scope is not None]
    if not primary:
        notes.append("every licence in the files is given to a part; none is stated for the "
                     "whole: all apply")
        primary, secondary = statements, []
        for s in primary:
            s.scope = None
    for s in secondary:
        notes.append(f"{_where(s)}: {s.expression} is secondary ({s.scope}: {s.context[:120]!r})")
    used: list[LicenseFinding] = []
    _gnu_versions(primary, declared, notes, used)
    primary = _settle(primary, notes)
    distinct = list(dict.fromkeys(s.expression for s in primary))
    expression = spdx.and_all(distinct)
    choice = " OR ".join(f"({e})" for e in distinct)
    if len(distinct) > 1 and len(choice) <= spdx.MAX_EXPRESSION_CHARS:
        marker = _choice_marker(files, secondary)
        if marker:
            expression = spdx.or_all(distinct)
            notes.append(f"the files offer a choice ({marker[:120]!r}): joined with OR")
    if declared is not None and declared.expression and len(distinct) > 1:
        same = spdx.license_keys(declared.expression) == spdx.license_keys(expression)
        if same and not spdx.is_equivalent(declared.expression, expression):
            notes.append(f"the package metadata combines the same licences as "
                         f"{declared.expression}: it says how they combine")
            expression = declared.expression
            used.extend(f for f in declared.findings if f not in used)
    return Reading(expression, _evidence(primary, whole), _evidence(secondary, whole), notes,
                   used)
