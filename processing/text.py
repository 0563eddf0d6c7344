"""Splitting text into words, lines, paragraphs and sentences, as the quality signals count them.

The quality signals are defined on top of these splits, so the splits decide whether our values
agree with the reference implementation (datatrove 0.10.1). For English, datatrove splits words
with spaCy's rule-based tokenizer. `split_words` reproduces the parts of that behaviour that move
the signals — punctuation peeled off the ends of each whitespace-separated chunk, hyphens and
ellipses split inside, contractions split (`don't` -> `do n't`), URLs, e-mail addresses,
emoticons and common abbreviations kept whole — in plain Python, about 30x faster than running
spaCy. It is not a spaCy clone: bench/RESULTS-quality.md lists where it still differs and how
much that moves the pass/fail of each rule.

The line splits differ per signal family on purpose, because the reference does:
`str.splitlines` (Gopher quality, C4), runs of `\\n` (Gopher repetition), `\\n` with blank
lines dropped (FineWeb). Each has its own function here so the choice is visible at the call.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# Unicode Sentence_Terminal property (generated with the `regex` module's \p{Sentence_Terminal},
# Unicode 15): the characters that end a sentence in any script.
SENTENCE_TERMINALS = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d"
    "\u083e\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5"
    "\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b4e\u1b4f\u1b5a\u1b5b\u1b5e"
    "\u1b5f\u1b7d\u1b7e\u1b7f\u1c3b\u1c3c\u1c7e\u1c7f\u2024\u203c\u203d\u2047\u2048"
    "\u2049\u2cf9\u2cfa\u2cfb\u2e2e\u2e3c\u2e53\u2e54\u2e60\u2e61\u3002\ua4ff\ua60e"
    "\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f"
    "\uaaf0\uaaf1\uabeb\ufe12\ufe15\ufe16\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61"
    "\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59"
    "\U00010f86\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be"
    "\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5"
    "\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b"
    "\U0001123c\U000112a9\U000113d4\U000113d5\U0001144b\U0001144c\U000115c2"
    "\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce"
    "\U000115cf\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5"
    "\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d\U0001173e"
    "\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41"
    "\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f"
    "\U00016af5\U00016b37\U00016b38\U00016b44\U00016d6e\U00016d6f\U00016e98"
    "\U0001bc9f\U0001da88"
)

_QUOTES = (
    "'\"\u201d\u201c`\u2018\u00b4\u2019\u201a\u201e\u00bb\u00ab"
    "「」『』（）〔〕【】《》〈〉\u2329\u232a⟦⟧"
)
_PUNCT = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_CURRENCY = "$£€¥฿₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿﷼"
# Characters peeled off either end of a chunk; some only off the front or only off the back.
_EDGE = frozenset(_QUOTES + _PUNCT)
_PREFIX_ONLY = frozenset("§%=—–" + _CURRENCY)
_SUFFIX_ONLY = frozenset("—–")
# A "." is peeled off the end after these (and after a digit or a lower-case letter).
_DOT_AFTER = frozenset("%²-+" + _QUOTES + _PUNCT)
# Units split off a number's end ("5km" -> "5 km"); longest first so "km" wins over "m".
_UNITS = sorted(
    "km m cm mm kg g mg lb oz mph kmh ft in yd ha am pm kb KB MB GB TB K M %".split(),
    key=len,
    reverse=True,
)

_APOSTROPHES = ("'", "\u2019")
# Single characters always split off the end of a word (the fast path of split_words).
_PLAIN_TAIL = frozenset(",;:!?)\"'")
_SUFFIX_S = ("'s", "'S", "\u2019s", "\u2019S")

_URL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://(?=[^\s/])|www\.)\S*[\w/]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,63}"
    r"|(?:[^\W_][\w-]*\.)+[a-z]{2,63}(?::\d+)?(?:/\S*[\w/])?"
)
_ACRONYM = re.compile(r"(?:[A-ZÀ-ÖØ-Þ]\.){2,}")

_ALPHA = r"[^\W\d_]"
_LOWER = r"a-zß-öø-ÿ"
_UPPER = r"A-ZÀ-ÖØ-Þ"
_Q = "'\"`\u2018\u2019\u201c\u201d"
_INFIX = re.compile(
    r"\.\.+|…"
    r"|(?<=[0-9])[+\-*^](?=[0-9-])"
    rf"|(?<=[{_LOWER}{_Q}])\.(?=[{_UPPER}{_Q}])"
    rf"|(?<={_ALPHA}),(?={_ALPHA})"
    rf"|(?<=[^\W_])(?:---|--|——|-|–|—|~)(?={_ALPHA})"
    rf"|(?<=[^\W_])[:<>=/](?={_ALPHA})"
)
_ELLIPSIS_RUN = re.compile(r"\.\.+$")
# `ALNUM.search(word)` / `ALPHA.search(word)`: does the word hold a letter or digit / a letter.
ALNUM = re.compile(r"[^\W_]")
ALPHA = re.compile(_ALPHA)


def _build_specials() -> dict[str, tuple[str, ...]]:
    """Chunks that split in a fixed way (or not at all), as spaCy's English exceptions do."""
    specials: dict[str, tuple[str, ...]] = {}

    def add(parts: tuple[str, ...]) -> None:
        for variant in (parts, (parts[0][:1].upper() + parts[0][1:], *parts[1:])):
            specials["".join(variant)] = variant

    aux = (
        "do does did is are was were have has had could would should might must need dare "
        "ought ca wo sha ai"
    ).split()
    for stem in aux:
        for apo in _APOSTROPHES:
            add((stem, f"n{apo}t"))
    # Without the apostrophe spaCy splits only forms that are not words themselves
    # ("dont" but not "ill", "were", "its", "hell", "shell").
    for stem in "do does did is are was were could would should has have had ca wo sha ai".split():
        add((stem, "nt"))
    clitics = {
        "re": "you we they who what",
        "ve": "i you we they who what could should would might must",
        "ll": "i you he she it we they who what that there this",
        "d": "i you he she it we they who what that there how where when why",
        "m": "i",
    }
    for clitic, stems in clitics.items():
        for stem in stems.split():
            for apo in _APOSTROPHES:
                add((stem, apo + clitic))
    for spec in (
        "i|m i|ve i|d you|re you|ve you|ll you|d they|re they|ve they|ll they|d we|ve we|d "
        "he|s he|d she|s it|d it|ll that|s that|ll there|s this|ll what|s who|s how|s why|s "
        "where|s when|s can|not gon|na got|ta"
    ).split():
        add(tuple(spec.split("|")))
    for abbr in (
        "Mr Mrs Ms Dr Prof Jr St Gov Gen Rev Sen Rep Mt Capt Col Lt Sgt Inc Ltd Co Corp vs "
        "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
    ).split():
        specials[abbr + "."] = (abbr + ".",)
    for abbr in ("e.g.", "i.e.", "a.m.", "p.m.", "Ph.D."):
        specials[abbr] = (abbr,)
    for letter in "abcdefghijklmnopqrstuvwxyz":
        specials[letter + "."] = (letter + ".",)
    for whole in (*_EMOTICONS, "''", "and/or", *_SUFFIX_S, "E.g.", "I.e."):
        specials[whole] = (whole,)
    return specials


_EMOTICONS = frozenset(
    ":) :-) :( :-( ;) ;-) :D :P :p <3 </3 =) =( =D :/ :| :] :-] :o :O XD xD :'( "
    "^_^ -_- o_O O_o 8) (: ): ._. (^_^) <333".split()
)
_SPECIALS = _build_specials()
_MERGEABLE = frozenset(k for k, v in _SPECIALS.items() if len(v) == 1 and not k.isalnum())
_MERGE_STARTS = frozenset(m[:i] for m in _MERGEABLE for i in range(1, len(m)))


@cache
def _other_symbols() -> frozenset[str]:
    # Unicode "So" (icons, emoji, (c), degree sign...): always split off as single tokens.
    # Every So character sits below U+20000, so scanning the first two planes is complete.
    return frozenset(ch for ch in map(chr, range(0x20000)) if unicodedata.category(ch) == "So")


def split_words(text: str) -> list[str]:
    """Split `text` into words and punctuation tokens (see the module docstring)."""
    out: list[str] = []
    append = out.append
    for chunk in text.split():
        if chunk.isalpha():
            special = _SPECIALS.get(chunk)
            if special is None:
                append(chunk)
            else:
                out.extend(special)
        elif chunk.isdigit():
            append(chunk)
        elif (
            (chunk[-1] in _PLAIN_TAIL or (chunk[-1] == "." and chunk[-2:-1].islower()))
            and chunk[:-1].isalpha()
            and chunk not in _SPECIALS
            and chunk[:-1] not in _SPECIALS
        ):
            # "word," and "word." -- most chunks with punctuation -- without the general loop.
            append(chunk[:-1])
            append(chunk[-1])
        else:
            _split_chunk(chunk, out)
    return out


def _split_chunk(s: str, out: list[str]) -> None:
    symbols = _other_symbols()
    tokens: list[str] = []
    suffixes: list[str] = []
    while s and s not in _SPECIALS and not _is_whole(s):
        n = _prefix_len(s, symbols)
        if n:
            tokens.append(s[:n])
            s = s[n:]
            continue
        n = _suffix_len(s, symbols)
        if n:
            suffixes.append(s[-n:])
            s = s[:-n]
            continue
        break
    if s:
        special = _SPECIALS.get(s)
        if special is not None:
            tokens.extend(special)
        elif _is_whole(s):
            tokens.append(s)
        else:
            _split_infixes(s, tokens, symbols)
    tokens.extend(reversed(suffixes))
    out.extend(_merge_specials(tokens) if len(tokens) > 1 else tokens)


def _merge_specials(tokens: list[str]) -> list[str]:
    # Pieces split off one by one can spell a special token again ("value):" -> "value" "):",
    # "c.Emin" -> "c." "Emin"); spaCy re-merges those, so do we.
    if not any(token in _MERGE_STARTS for token in tokens[:-1]):
        return tokens
    merged: list[str] = []
    i = 0
    while i < len(tokens):
        for width in (3, 2):
            joined = "".join(tokens[i : i + width])
            if i + width <= len(tokens) and joined in _MERGEABLE:
                merged.append(joined)
                i += width
                break
        else:
            merged.append(tokens[i])
            i += 1
    return merged


def _is_whole(s: str) -> bool:
    # URLs, e-mail addresses and dotted acronyms ("U.S.", "e.g.") are never split.
    return ("." in s or ":" in s) and (
        _URL.fullmatch(s) is not None or _ACRONYM.fullmatch(s) is not None
    )


def _prefix_len(s: str, symbols: frozenset[str]) -> int:
    c = s[0]
    if c == "." and s.startswith(".."):
        return len(s) - len(s.lstrip("."))
    if c in _EDGE or c in _PREFIX_ONLY or c in symbols:
        return 1
    if c == "+" and not s[1:2].isdigit():
        return 1
    return 0


def _suffix_len(s: str, symbols: frozenset[str]) -> int:
    c = s[-1]
    if c == ".":
        run = _ELLIPSIS_RUN.search(s)
        if run is not None:
            return run.end() - run.start()
        if len(s) < 2:
            return 0
        before = s[-2]
        if before.isdigit() or before.islower() or before in _DOT_AFTER:
            return 1
        if len(s) >= 3 and before.isupper() and s[-3].isupper():
            return 1
        return 0
    if c in _EDGE or c in _SUFFIX_ONLY or c in symbols:
        return 1
    if len(s) > 2 and s.endswith(_SUFFIX_S):
        return 2
    if len(s) > 1:
        if (c == "+" or c in _CURRENCY) and s[-2].isdigit():
            return 1
        for unit in _UNITS:
            if s.endswith(unit) and len(s) > len(unit) and s[-len(unit) - 1].isdigit():
                return len(unit)
    return 0


def _split_infixes(s: str, out: list[str], symbols: frozenset[str]) -> None:
    if symbols.isdisjoint(s):
        _split_plain_infixes(s, out)
        return
    start = 0
    for i, ch in enumerate(s):
        if ch in symbols:
            _split_plain_infixes(s[start:i], out)
            out.append(ch)
            start = i + 1
    _split_plain_infixes(s[start:], out)


def _split_plain_infixes(s: str, out: list[str]) -> None:
    if not s:
        return
    start = 0
    for m in _INFIX.finditer(s):
        if m.start() > start:
            out.append(s[start : m.start()])
        out.append(m.group())
        start = m.end()
    if start < len(s):
        out.append(s[start:])


def is_symbol_word(word: str) -> bool:
    """True when every character is punctuation, a symbol or a control character."""
    if ALNUM.search(word) is not None:
        return False
    return all(_is_symbol_char(ch) for ch in word)


def _is_symbol_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "PS" or category == "Cc"


def is_punct(word: str) -> bool:
    """True when every character is Unicode punctuation (category P*)."""
    return all(unicodedata.category(ch)[0] == "P" for ch in word)


def count_sentences(words: list[str]) -> int:
    """Sentences in a run of words: a new one starts at the first word after a terminal mark.

    A word made only of punctuation right after the mark (a closing quote or bracket) still
    belongs to the sentence that ends there. A non-empty input has at least one sentence.
    """
    if not words:
        return 0
    count = 1
    after_terminal = False
    for word in words:
        terminal = word in SENTENCE_TERMINALS
        if after_terminal and not terminal and not is_punct(word):
            count += 1
            after_terminal = False
        elif terminal:
            after_terminal = True
    return count


_LINE_RUNS = re.compile(r"\n+")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


def lines(text: str) -> list[str]:
    """Lines as `str.splitlines` gives them (any line boundary, blank lines kept)."""
    return text.splitlines()


def line_runs(text: str) -> list[str]:
    """The text split at each run of `\\n`; a leading or trailing `\\n` leaves an empty line."""
    return _LINE_RUNS.split(text)


def nonblank_lines(text: str) -> list[str]:
    """Lines split at `\\n` only, unstripped, without the ones that are blank."""
    return [line for line in text.split("\n") if line.strip()]


def paragraphs(text: str) -> list[str]:
    """The stripped text split at each run of two or more `\\n`."""
    return _PARAGRAPH_BREAK.split(text.strip())
