"""What govcat's pii_v2 recognizers share, and the small ones: presidio recognizers tuned for
recall on real numbers and precision on forum and web text (docs/architecture.md, "Measure,
then decide"). The numbers with check digits are in `processing.pii_banking` (cards, IBANs),
phone numbers in `processing.pii_phones`.

Here:

- EMAIL_ADDRESS: presidio's, the domain checked against tldextract's bundled suffix list;
- URL_WITH_CREDENTIALS: `scheme://user:password@host…`, the whole URL;
- IP_ADDRESS: presidio's patterns, except that an IPv4 address is never the head or tail of
  a longer dotted number ("1.0.1.1.5.8"), and one whose four parts are all under 20
  ("section 6.2.2.11", but also "10.0.0.1") needs a context word;
- US_SSN: presidio's;
- context (`WindowContext`): a context word among the `CONTEXT_TOKENS` tokens before a match
  raises its score, compared whole (presidio compares substrings: "tel" in "hotel").

Each entity declares a SHAPE (`SHAPES`): a pattern every match of its recognizer contains,
starting in the match's first word. The pre-filter (`processing.pii_prefilter`) scans for
the shapes and sends presidio only the regions around them; `MAX_MATCH_WORDS` bounds the
whitespace-separated words one candidate of any recognizer here spans, and `scan` makes a
refused candidate consume no text: together they let regions be cut without changing a span.

This module imports presidio at the top: it is imported only when a PII engine is built,
never by the stage registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

import tldextract
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    EmailRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)

LANGUAGE = "en"
# Tokens before a match whose words can raise its score (every token counts, so the window
# is bounded in text, which the pre-filter relies on).
CONTEXT_TOKENS = 8
# No candidate of a recognizer here spans more whitespace-separated words than this (an IBAN
# in groups of four), and every match has a SHAPE starting in its first word.
MAX_MATCH_WORDS = 10
CONTEXT_BOOST = 0.35


def make_result(
    recognizer: EntityRecognizer, start: int, end: int, score: float, why: str
) -> RecognizerResult:
    return RecognizerResult(
        entity_type=recognizer.supported_entities[0],
        start=start,
        end=end,
        score=score,
        analysis_explanation=AnalysisExplanation(
            recognizer=type(recognizer).__name__, original_score=score, textual_explanation=why
        ),
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
        },
    )


Found = tuple[int, int, str]  # start, end, why
ALNUM = re.compile(r"[A-Za-z0-9]+")
DIGITS = re.compile(r"\d+")


def scan(
    pattern: re.Pattern[str], text: str, accept: Callable[[re.Match[str]], Found | None]
) -> Iterator[Found]:
    """(start, end, why) of each candidate `accept` takes; a refused candidate consumes no
    text, so the next one is looked for from its second character.

    That makes what is found at a place depend only on the few words from there (a candidate
    is at most MAX_MATCH_WORDS words long), not on where a scan started: the property the
    pre-filter's regions rest on.
    """
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        found = accept(m)
        if found is None:
            pos = m.start() + 1
        else:
            yield found
            pos = max(found[1], m.start() + 1)


def longest_prefix(
    m: re.Match[str], check: Callable[[str, int], str | None]
) -> tuple[int, int, str] | None:
    """The longest prefix of whole groups of the candidate `m` that `check` accepts."""
    run = m.group()
    ends = [g.end() for g in ALNUM.finditer(run)]
    for n in range(len(ends), 0, -1):
        verdict = check(run[: ends[n - 1]], n)
        if verdict:
            return m.start(), m.start() + ends[n - 1], verdict
    return None


# --------------------------------------------------------------------------- e-mail


@cache
def _tld_extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, checking the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return _tld_extractor()(pattern_text).fqdn != ""


# --------------------------------------------------------------------------- URL + secret


class UrlWithCredentialsRecognizer(PatternRecognizer):
    """URLs that carry a user name and a password: `scheme://user:password@host[:port][/...]`.

    The whole URL is the span, so redacting it removes the host the secret opens too. A URL with
    a user name only (`https://user@host/`) is not a credential and is not matched. The path
    and host never end in sentence punctuation, so "see ftp://a:b@h/x." stops before the full
    stop.
    """

    ENTITY = "URL_WITH_CREDENTIALS"
    PATTERNS = [
        Pattern(
            "URL with user:password",
            r"(?<![\w+.\-])[a-z][a-z0-9+.\-]*://"  # scheme, not the tail of a longer word
            r"[^\s:/?#@\[\]]+:[^\s/?#@]+@"  # user:password@
            r"(?:\[[0-9a-f:.]+\]|[^\s/?#@:\[\]()<>\"',;]*[^\s/?#@:\[\]()<>\"',;.!])"  # host
            r"(?::\d{1,5})?"  # port
            r"(?:[/?#][^\s<>\"']*[^\s<>\"'.,;:!?)\]}])?"  # path, query, fragment
            r"(?:[/?#](?=[\s<>\"'.,;:!?)\]}]|$))?",  # or a bare trailing "/"
            1.0,
        )
    ]
    CONTEXT = ["password", "login", "credentials"]

    def __init__(self, supported_language: str = LANGUAGE) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )


# --------------------------------------------------------------------------- IP, SSN

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_SMALL_IPV4 = re.compile(r"(?:1?\d\.){3}1?\d(?:/\d+)?")  # every part under 20


class DottedAwareIpRecognizer(IpRecognizer):
    """presidio's IP recognizer, except for dotted numbers (module docstring)."""

    PATTERNS = [
        *(p for p in IpRecognizer.PATTERNS if p.name != "IPv4"),
        Pattern("IPv4", rf"(?<![\w.]){_IPV4}(?:/(?:[0-2]?\d|3[0-2]))?(?![\w]|\.\d)", 0.6),
    ]
    WEAK_SCORE = 0.3  # under the default threshold: a context word must vouch for it
    CONTEXT = [
        "ip", "ipv4", "ipv6", "address", "addresses", "server", "host", "dns", "gateway",
        "router", "ping", "connect", "connecting", "ssh", "vpn", "lan", "subnet", "proxy",
        "dhcp", "static", "firewall", "nameserver",
    ]

    def __init__(self, supported_language: str = LANGUAGE) -> None:
        super().__init__(
            patterns=self.PATTERNS, context=self.CONTEXT, supported_language=supported_language
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            # Four small parts read as a section or step number ("6.2.2.11") as often as an
            # address ("10.0.0.1"): a context word decides.
            parts = _SMALL_IPV4.fullmatch(text[result.start : result.end])
            if parts is not None:
                result.score = min(result.score, self.WEAK_SCORE)
        return results


class SsnRecognizer(UsSsnRecognizer):
    """presidio's US SSN recognizer, context words matched as whole words."""


# --------------------------------------------------------------------------- shapes

_DIGIT_GAP = r"[\-./ \u00a0()]{0,5}+"
# Entity -> its shape as (first character, rest) alternatives: the pre-filter scans for all
# of them with one expression that stops only at those first characters.
SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "EMAIL_ADDRESS": (("@", ""),),
    "URL_WITH_CREDENTIALS": ((":", "//"),),
    # seven digits, as any phone number has (the extension does not count)
    "PHONE_NUMBER": ((r"\d", rf"(?:{_DIGIT_GAP}\d){{6}}"),),
    "CREDIT_CARD": ((r"\d", r"(?:[ \-]?\d){11}"),),
    "US_SSN": ((r"\d", r"(?:[ .\-]?\d){8}"),),
    # IPv4; IPv6 compressed ("::") or in eight groups (seven of them after a colon)
    "IP_ADDRESS": (
        (r"\d", r"\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
        (":", r"(?::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){6})"),
    ),
    # check digits after two letters at a word start (every IBAN's; a country code is
    # checked by the recognizer)
    "IBAN_CODE": ((r"\d", r"(?<=(?<![A-Za-z0-9])[A-Za-z]{2}\d)\d"),),
}
# Entity -> an entity whose shape starts wherever its own does (twelve digits hold seven), so
# a scan for the latter finds every place the former could be.
SHAPE_IMPLIED_BY = {"CREDIT_CARD": "PHONE_NUMBER", "US_SSN": "PHONE_NUMBER"}


# --------------------------------------------------------------------------- context


_TOKEN = re.compile(r"\w+|[^\w\s]")
# Enough text for CONTEXT_TOKENS tokens unless they are absurdly long; a token cut at this
# distance is never among the last CONTEXT_TOKENS unless they are too.
_WINDOW_CHARS = 400


class WindowContext(ContextAwareEnhancer):
    """Context words raise a score: presidio's rule (+`CONTEXT_BOOST`, at least 0.4, at most
    1.0) when one of the `CONTEXT_TOKENS` tokens before a match, lower-cased, is one of the
    recognizer's context words.

    presidio's own enhancer looks back for five spaCy lemmas that are not stop words, however
    far away they are (and spaCy's stop words include "call"); a window of tokens keeps the
    evidence near the match, lets a region around it be analysed alone, and needs no NLP
    pipeline.
    """

    def __init__(self, window: int = CONTEXT_TOKENS) -> None:
        super().__init__(
            context_similarity_factor=CONTEXT_BOOST,
            min_score_with_context_similarity=0.4,
            context_prefix_count=window,
            context_suffix_count=0,
        )
        self.window = window

    def window_words(self, text: str, start: int) -> set[str]:
        """The lower-cased tokens that can vouch for a match starting at character `start`:
        the `window` tokens (runs of word characters, or one other character) before it."""
        before = _TOKEN.findall(text, max(0, start - _WINDOW_CHARS), start)
        return {token.lower() for token in before[-self.window :]}

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        extra = {word.lower() for word in context or ()}
        for result in raw_results:
            meta = result.recognition_metadata or {}
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None or not recognizer.context:
                continue
            if meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self.window_words(text, result.start) | extra
            word = next((w for w in recognizer.context if w.lower() in words), None)
            if word is None:
                continue
            result.score = min(
                max(result.score + self.context_similarity_factor,
                    self.min_score_with_context_similarity),
                self.MAX_SCORE,
            )
            if result.analysis_explanation is not None:
                result.analysis_explanation.set_supportive_context_word(word)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results
