"""Card numbers and IBANs: numbers with check digits, as govcat's pii_v2 recognizes them.

- CREDIT_CARD: every major issuer range with its lengths (`ISSUERS`: Visa 4, 13-19 digits;
  Mastercard 51-55 and 2221-2720, 16; Amex 34/37, 15; Discover 6011/644-649/65/
  622126-622925, 16-19; JCB 3528-3589, 16-19; Maestro 50/56-69, 12-19; Diners 300-305/36/
  38/39, 14-19; UnionPay 62, 16-19; Mir 2200-2204, 16-19), Luhn-checked, written compact or
  in groups separated by one kind of space or dash (Amex 4-6-5 included). The whole chain of
  digit groups is the number: a piece of a longer chain is not a card.
- IBAN_CODE: upper or lower case, compact or grouped by spaces or dashes; the country's
  length (`IBAN_LENGTHS`, the SWIFT registry) and the mod-97 checksum decide, the longest
  grouping first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from processing.pii_recognizers import (
    DIGITS,
    LANGUAGE,
    Found,
    longest_prefix,
    make_result,
    scan,
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Issuer:
    name: str
    ranges: tuple[tuple[int, int], ...]  # inclusive prefix ranges, each bound of equal length
    lengths: tuple[int, ...]

    def issued(self, digits: str) -> bool:
        if len(digits) not in self.lengths:
            return False
        for low, high in self.ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return True
        return False


ISSUERS = (
    Issuer("Visa", ((4, 4),), tuple(range(13, 20))),
    Issuer("Mastercard", ((51, 55), (2221, 2720)), (16,)),
    Issuer("American Express", ((34, 34), (37, 37)), (15,)),
    Issuer("Discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), (16, 17, 18, 19)),
    Issuer("JCB", ((3528, 3589),), (16, 17, 18, 19)),
    Issuer("Maestro", ((50, 50), (56, 69)), tuple(range(12, 20))),
    Issuer("Diners Club", ((300, 305), (36, 36), (38, 39)), tuple(range(14, 20))),
    Issuer("UnionPay", ((62, 62),), (16, 17, 18, 19)),
    Issuer("Mir", ((2200, 2204),), (16, 17, 18, 19)),
)


def card_issuer(digits: str) -> str | None:
    """The issuer of a Luhn-valid card number, or None."""
    if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        return None
    return next((i.name for i in ISSUERS if i.issued(digits)), None)


# A whole chain of digit groups, at most 6 (19 digits in groups of 3 or more): a piece of a
# longer chain is not a card number.
_CARD_RUN = re.compile(
    r"(?<![\w\-.,])(?<!\d[ \-])\d+(?:[ \-]\d+){0,5}(?![\w]|[\-.,]\d|[ \-]\d)"
)


class CardRecognizer(LocalRecognizer):
    """Card numbers of the issuers in `ISSUERS`, Luhn-checked (rules in the module docstring).

    Groups: one separator kind (space or dash) or none; the first group has four digits, the
    middle ones three to seven, the last one to seven.
    """

    ENTITY = "CREDIT_CARD"
    CONTEXT = [
        "credit", "card", "cards", "visa", "mastercard", "amex", "discover", "jcb", "diners",
        "maestro", "unionpay", "debit", "cc", "cvv", "expiry", "exp",
    ]

    def __init__(self, supported_language: str = LANGUAGE) -> None:
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
            make_result(self, start, end, 1.0, issuer)
            for start, end, issuer in scan(_CARD_RUN, text, _card)
        ]


def _card(m: re.Match[str]) -> Found | None:
    piece = m.group()
    issuer = _card_groups(piece, piece.count(" ") + piece.count("-") + 1)
    return None if issuer is None else (m.start(), m.end(), issuer)


def _card_groups(piece: str, n_groups: int) -> str | None:
    digits = piece.replace(" ", "").replace("-", "")
    if not 12 <= len(digits) <= 19:
        return None
    if n_groups > 1:
        if len({c for c in piece if not c.isdigit()}) != 1:
            return None
        sizes = [len(g) for g in DIGITS.findall(piece)]
        if sizes[0] != 4 or any(not 3 <= s <= 7 for s in sizes[1:-1]) or sizes[-1] > 7:
            return None
    return card_issuer(digits)


# From a country code on: at most 10 groups (34 characters).
_IBAN_RUN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}[A-Za-z0-9]*(?:[ \-][A-Za-z0-9]+){0,9}")
# Country -> IBAN length, from the SWIFT IBAN registry. (presidio's per-country formats are
# not used: some are wrong, Portugal's is four characters short.)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_valid(compact: str) -> bool:
    """`compact` (upper case, no separators) has its country's length and checksum."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _iban_groups(piece: str, n_groups: int) -> str | None:
    if n_groups > 1 and len({c for c in piece if not c.isalnum()}) != 1:
        return None
    compact = piece.replace(" ", "").replace("-", "").upper()
    return compact[:2] if iban_valid(compact) else None


class GroupedIbanRecognizer(LocalRecognizer):
    """IBANs in either case, compact or grouped (rules in the module docstring)."""

    ENTITY = "IBAN_CODE"
    CONTEXT = ["iban", "bank", "account", "transfer", "transaction", "sepa", "bic", "swift"]

    def __init__(self, supported_language: str = LANGUAGE) -> None:
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
            make_result(self, start, end, 1.0, country)
            for start, end, country in scan(
                _IBAN_RUN, text, lambda m: longest_prefix(m, _iban_groups)
            )
        ]
