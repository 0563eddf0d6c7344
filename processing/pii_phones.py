"""Phone numbers as govcat's pii_v2 recognizes them.

International numbers (`+CC …`, `00CC …`, `(+CC) …`, `+CC (0) …`) valid by libphonenumber's
metadata for their country, and national numbers valid for one of the regions the policy's
jurisdictions name (`processing.pii_jurisdictions`), written with the trunk prefix where the
country writes one ("0161 …", not "161 …"; North America's "1" optional). The trunk prefix
is the only rewriting applied: national formats that libphonenumber transforms further when
parsing (Argentina's mobile "15") are recognized in international format only. A candidate starts
a chain of digit groups (never a group inside "1 2 4 8 16 32 64"); if it is not a number,
it may be one without a last group after a space ("0161 496 0000 24 hours"), never a
shorter piece of a longer chain ("4111 1111" of a card number).

Refused before any lookup, as forum and web text is full of them: fewer than 7 digits,
lists and ranges of years ("1698-1700"), dates ("20150328", "2015-03-28", "28.03.2015",
"03/28/2015"), dotted IPv4 shapes, a national grouping with a single-digit group
("8 342 827", "2 4 8 16"), the US SSN grouping (the SSN recognizer's), numbers glued to
letters or to a decimal part ("169 12.5g"). A national number written bare ("3420837783")
or with fewer than 8 digits ("8118-467") scores under the default threshold: a context word
("phone", "call", ...) must vouch for it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import phonenumbers
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from processing.pii_recognizers import DIGITS, LANGUAGE, Found, make_result, scan

_LAST_GROUP = re.compile(r"[ \u00a0]\d+$")
_PHONE_SEP = r"[\-./ \u00a0]"
_PHONE = re.compile(
    # the start of a chain of digit groups, not a group inside one ("1 2 4 8 16 32 64")
    r"(?<![\w\-./+)])(?<![\d)][ \u00a0])"
    r"(?P<main>"
    r"(?:\(\+?\d{1,5}(?:[ \-]\d{1,5})?\)|\+?\d{1,17})"  # first: +CC, (+CC), (area), digits
    r"(?:"
    r"[ \u00a0]?\(\d{1,5}(?:[ \-]\d{1,5})?\)"  # in parentheses: "(0)", " (212)", "(06 1)"
    rf"|(?<=\)){_PHONE_SEP}?\d{{1,17}}"  # digits after a parenthesis
    rf"|{_PHONE_SEP}\d{{1,17}}"  # digits after one separator
    r"){0,7}"
    r")"
    r"(?P<ext>[ \u00a0]?(?:x|ext\.?|extn\.?|extension)[ \u00a0]?\d{1,6})?"
    r"(?![\w]|[\-./]\w)",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"\([^)]*\)")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_YEAR = re.compile(r"1\d{3}|2[01]\d\d")


def _is_date(groups: Sequence[str]) -> bool:
    def valid(year: str, month: str, day: str) -> bool:
        try:
            datetime.date(int(year), int(month), int(day))
        except ValueError:
            return False
        return 1800 <= int(year) <= 2199

    sizes = [len(g) for g in groups]
    if sizes == [8]:
        g = groups[0]
        return valid(g[:4], g[4:6], g[6:]) or valid(g[4:], g[2:4], g[:2]) or valid(
            g[4:], g[:2], g[2:4]
        )
    if sizes[:3] == [4, 2, 2]:
        return valid(groups[0], groups[1], groups[2])
    if sizes[:3] == [2, 2, 4] or sizes[:3] == [1, 2, 4] or sizes[:3] == [2, 1, 4]:
        return valid(groups[2], groups[1], groups[0]) or valid(groups[2], groups[0], groups[1])
    return False


def phone_shape_refused(main: str) -> bool:
    """True for digit strings that are never reported as phone numbers (module docstring)."""
    groups = DIGITS.findall(main)
    digits = "".join(groups)
    international = main.lstrip("(").startswith(("+", "00"))
    if international and len(digits) > 17 or not international and len(digits) > 15:
        return True
    if len(digits) < 7:
        return True
    if international:
        return False
    # National groupings, outside parentheses (an area code may be "(06 1)"): a single digit
    # opens only North America's "1 (786) …", and no later group is a single digit (counts,
    # sequences and thousands: "8 342 827").
    loose = DIGITS.findall(_PARENTHESISED.sub(" ", main))
    if loose and not main.startswith("(") and len(loose[0]) == 1:
        if loose[0] != "1" or len(digits) != 11:
            return True
    if any(len(g) == 1 for g in loose[1:]):
        return True
    if "." in main and len(groups) == 4 and all(len(g) <= 3 for g in groups):
        return True
    if _SSN_SHAPE.fullmatch(main):  # the US_SSN recognizer's
        return True
    # "1698-1700", "1998/2004" (with spaces, "2100 1234" is a Maltese number)
    years = len(groups) > 1 and not any(c.isspace() for c in main) and all(
        _YEAR.fullmatch(g) for g in groups
    )
    return years or _is_date(groups)


@dataclass(frozen=True, slots=True)
class _Region:
    code: str
    country_code: int
    trunk: str  # the national (trunk) prefix written before national numbers, "" if none
    trunk_optional: bool
    lengths: frozenset[int]


@cache
def _region(code: str) -> _Region:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
    trunk = meta.national_prefix or ""
    rules = [
        (f.national_prefix_formatting_rule, f.national_prefix_optional_when_formatting)
        for f in meta.number_format
    ]
    written = [rule for rule, optional in rules if rule is not None]
    return _Region(
        code=code,
        country_code=meta.country_code,
        trunk=trunk,
        # Optional where the country's own formats leave it out: North America's "1",
        # Brazil's "(11) 96123-4567", Lithuania's flagged formats.
        trunk_optional=(
            meta.country_code == 1
            or not written
            or any(trunk not in rule for rule in written)
            or any(optional for _, optional in rules)
        ),
        lengths=frozenset(meta.general_desc.possible_length or ()),
    )


@cache
def _national_index(regions: tuple[str, ...]) -> tuple[tuple[str, dict[int, list[str]]], ...]:
    """(what a national number is written with first: a trunk prefix or nothing,
    {length of the number after it: the regions, in order, it can be valid in})."""
    index: dict[str, dict[int, list[str]]] = {}
    for code in regions:
        region = _region(code)
        written = [region.trunk] if region.trunk else []
        if not region.trunk or region.trunk_optional:
            written.append("")
        for prefix in written:
            for length in region.lengths:
                index.setdefault(prefix, {}).setdefault(length, []).append(code)
    return tuple(index.items())


# The number types libphonenumber tells apart; a national number of a region is valid when
# it matches the region's general pattern and one of these (its `_number_type_helper`).
_NUMBER_TYPES = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)


@cache
def _plan(code: str) -> dict[int, re.Pattern[str]]:
    """Length of a national significant number -> one expression for "valid in `code`":
    libphonenumber's `is_valid_number_for_region` (length lists and patterns of the general
    description and of each number type), compiled once instead of ten matches a number."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
    general = meta.general_desc
    plan: dict[int, re.Pattern[str]] = {}
    for length in general.possible_length or ():
        kinds = [
            desc.national_number_pattern
            for desc in (getattr(meta, name) for name in _NUMBER_TYPES)
            if desc is not None and desc.national_number_pattern
            and (not desc.possible_length or length in desc.possible_length)
        ]
        if kinds:
            either = "|".join(f"(?:{k})" for k in kinds)
            plan[length] = re.compile(f"(?=(?:{general.national_number_pattern})$)(?:{either})")
    return plan


def national_valid(nsn: str, code: str) -> bool:
    """`nsn` (digits, no trunk prefix) is a valid national significant number of `code`."""
    pattern = _plan(code).get(len(nsn))
    return pattern is not None and pattern.fullmatch(nsn) is not None


def _national_region(digits: str, regions: tuple[str, ...]) -> str | None:
    """The first of `regions` whose numbering plan holds `digits` as a national number."""
    tried = []
    for prefix, by_length in _national_index(regions):
        if digits.startswith(prefix):
            nsn = digits[len(prefix) :]
            tried += [(regions.index(code), code, nsn) for code in by_length.get(len(nsn), ())]
    for _, code, nsn in sorted(tried):
        if national_valid(nsn, code):
            return code
    return None


def phone_region(main: str, regions: Sequence[str]) -> tuple[str, bool] | None:
    """(region, international) of a written number valid in that region (its own country for
    `+CC …`), else None."""
    if phone_shape_refused(main):
        return None
    stripped = main.lstrip("(")
    if stripped.startswith(("+", "00")):
        text = main if stripped.startswith("+") else main.replace("00", "+", 1)
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.region_code_for_number(number), True
    region = _national_region("".join(DIGITS.findall(main)), tuple(regions))
    return None if region is None else (region, False)


class JurisdictionPhoneRecognizer(LocalRecognizer):
    """Phone numbers, international or national in `regions` (rules in the module docstring)."""

    ENTITY = "PHONE_NUMBER"
    SCORE = 0.4  # presidio's phone score
    # Under the default threshold, so a context word must vouch for a national number written
    # bare ("3420837783") or of fewer than eight digits ("8118-467").
    WEAK_SCORE = 0.3
    CONTEXT = [
        "phone", "phones", "phoned", "telephone", "tel", "cell", "cellphone", "mobile", "mob",
        "call", "calls", "called", "calling", "ring", "fax", "whatsapp", "sms", "text",
        "contact", "reach", "dial", "hotline",
    ]

    def __init__(self, regions: Sequence[str], supported_language: str = LANGUAGE) -> None:
        self.regions = tuple(regions)
        super().__init__(
            supported_entities=[self.ENTITY], supported_language=supported_language,
            context=self.CONTEXT,
        )

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            make_result(
                self, start, end, self.WEAK_SCORE if why.startswith("weak") else self.SCORE,
                f"valid {why} phone number",
            )
            for start, end, why in scan(_PHONE, text, self._accept)
        ]

    def _accept(self, m: re.Match[str]) -> Found | None:
        """The candidate with its extension, else without a last group after a space
        ("0161 496 0000 24 hours" is "0161 496 0000"); no shorter piece of a longer chain."""
        main = m.group("main")
        tries = [(main, m.end())]
        last = _LAST_GROUP.search(main)
        if last is not None and m.group("ext") is None:
            tries.append((main[: last.start()], m.start() + last.start()))
        for written, stop in tries:
            found = phone_region(written, self.regions)
            if found is not None:
                region, international = found
                weak = not international and (
                    written.isdigit() or sum(c.isdigit() for c in written) < 8
                )
                return m.start(), stop, f"{'weak ' if weak else ''}{region}"
        return None
