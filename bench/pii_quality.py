"""Recall and precision of the pattern PII entities: presidio alone vs govcat's pii stage.

    .venv/bin/python bench/pii_quality.py [--n 2000] [--seed 15] [--show 10]

A labelled set generated here with Faker (fixed seed, so every run scores the same text): ~1 KB
forum posts and web comments made of forum chatter and the hard negatives of forum and web text
(years, year ranges "1698-1700", dates "20150328" / "2015-03-28" / "28.03.2015", times,
quantities "169 12.5g", dotted section and version numbers "1.0.1.1.5.8", prices, order and
ticket numbers, ISBNs, resolutions, coordinates, Unix times, number lists), and in about two
posts of three a few pieces of personal data in realistic sentences:

- EMAIL_ADDRESS: Faker addresses (free, company, plus-tagged, sub-domains, upper case);
- PHONE_NUMBER: Faker numbers of 24 locales that libphonenumber holds valid for the locale's
  region (Faker also writes numbers no numbering plan issues; those are left out), written as
  Faker wrote them, in the international format (`+CC …`) or in the national one; national
  formats only for the regions of the stage's default jurisdictions, international ones for
  every locale;
- CREDIT_CARD: every issuer range and length (Visa 13-19, Mastercard 51-55 and 2221-2720, Amex,
  Discover, JCB, Maestro 12-19, Diners, UnionPay), Luhn-valid, compact or grouped by spaces or
  dashes (Amex and Diners 4-6-5 / 4-6-4);
- IBAN_CODE: Faker IBANs of 19 countries, compact or grouped by four, upper or lower case;
- IP_ADDRESS: public and private IPv4, IPv6 in full and compressed form, in log lines too;
- US_SSN: Faker SSNs with dashes.

A detection counts when its type, start and end equal a label's (what redaction needs); every
other detection of these six types is a false positive. Printed per entity, side by side:
labels, recall and precision of (a) presidio alone — its default pattern recognizers on the
same offline engine (the pii_v1 stage) — and (b) govcat's pii stage (pii_v2), and the false
positives per 1,000 posts that hold no personal data at all.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
# Locale -> region. National formats of the first group are inside the stage's default
# jurisdictions (EEA, UK, CH, US, CA); the others are written in international format only.
NATIONAL_LOCALES = {
    "en_US": "US", "en_CA": "CA", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES",
    "it_IT": "IT", "nl_NL": "NL", "pl_PL": "PL", "pt_PT": "PT", "sv_SE": "SE", "de_AT": "AT",
    "fr_CH": "CH", "da_DK": "DK", "fi_FI": "FI", "cs_CZ": "CZ", "el_GR": "GR", "ro_RO": "RO",
    "no_NO": "NO", "en_IE": "IE",
}
INTERNATIONAL_LOCALES = {"ja_JP": "JP", "pt_BR": "BR", "en_IN": "IN", "en_AU": "AU"}
IBAN_LOCALES = (
    "de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT", "pl_PL", "pt_PT", "sv_SE", "fi_FI",
    "da_DK", "de_AT", "fr_CH", "nl_BE", "cs_CZ", "el_GR", "ro_RO", "hu_HU", "en_IE",
)
# (issuer, prefixes to draw from as (low, high) inclusive, lengths)
CARD_ISSUERS = (
    ("visa", ((4, 4),), (13, 14, 15, 16, 17, 18, 19)),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), (16, 17, 18, 19)),
    ("jcb", ((3528, 3589),), (16, 17, 18, 19)),
    ("maestro", ((50, 50), (56, 58), (6304, 6304), (6759, 6759), (6761, 6763)),
     (12, 13, 14, 15, 16, 17, 18, 19)),
    ("diners", ((300, 305), (36, 36), (38, 39)), (14,)),
    ("unionpay", ((62, 62),), (16, 17, 18, 19)),
)


@dataclass
class Labelled:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)


def luhn_complete(body: str) -> str:
    """`body` with the check digit that makes it Luhn-valid."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def card_number(rng: random.Random) -> str:
    name, ranges, lengths = rng.choice(CARD_ISSUERS)
    low, high = rng.choice(ranges)
    prefix = str(rng.randint(low, high))
    length = rng.choice(lengths)
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digits = luhn_complete(body)
    style = rng.random()
    if style < 0.35:
        return digits
    sep = " " if style < 0.8 else "-"
    if name in ("amex", "diners"):
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


class Pii:
    """Values of each entity, drawn from seeded Faker instances."""

    def __init__(self, seed: int) -> None:
        import phonenumbers
        from faker import Faker

        self.rng = random.Random(seed)
        self.pn = phonenumbers
        self.fakers: dict[str, Faker] = {}
        for i, locale in enumerate({**NATIONAL_LOCALES, **INTERNATIONAL_LOCALES, "nl_BE": "BE",
                                    "hu_HU": "HU"}):
            self.fakers[locale] = Faker(locale)
            self.fakers[locale].seed_instance(seed * 1000 + i)
        self.en = self.fakers["en_US"]

    def email(self) -> str:
        f, r = self.en, self.rng.random()
        if r < 0.3:
            return f.free_email()
        if r < 0.55:
            return f.company_email()
        if r < 0.7:
            return f"{f.user_name()}+{f.word()}@{f.domain_word()}.{f.tld()}"
        if r < 0.8:
            return f"{f.first_name().lower()}.{f.last_name().lower()}@mail.{f.domain_name()}"
        if r < 0.85:
            return f.email().upper()
        return f.email()

    def phone(self) -> str:
        pn = self.pn
        for _ in range(50):
            if self.rng.random() < 0.8:
                locale, region = self.rng.choice(sorted(NATIONAL_LOCALES.items()))
            else:
                locale, region = self.rng.choice(sorted(INTERNATIONAL_LOCALES.items()))
            written = self.fakers[locale].phone_number()
            try:
                number = pn.parse(written, region)
            except pn.NumberParseException:
                continue
            if not pn.is_valid_number(number) or pn.region_code_for_number(number) != region:
                continue
            international = locale in INTERNATIONAL_LOCALES
            style = self.rng.random()
            if international or style < 0.25:
                return pn.format_number(number, pn.PhoneNumberFormat.INTERNATIONAL)
            if style < 0.4:
                return pn.format_number(number, pn.PhoneNumberFormat.NATIONAL)
            if style < 0.45:
                return pn.format_number(number, pn.PhoneNumberFormat.E164)
            if written.startswith("+") or written[:1].isdigit() or written[:1] == "(":
                return written
        raise RuntimeError("no valid phone number in 50 draws")

    def card(self) -> str:
        return card_number(self.rng)

    def iban(self) -> str:
        value = self.fakers[self.rng.choice(IBAN_LOCALES)].iban()
        assert iban_valid(value), value
        if self.rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        if self.rng.random() < 0.35:
            value = value.lower()
        return value

    def ip(self) -> str:
        f, r = self.en, self.rng.random()
        if r < 0.4:
            return f.ipv4_public()
        if r < 0.6:
            return f.ipv4_private()
        if r < 0.8:
            return f.ipv6()
        return str(ipaddress.IPv6Address(f"2001:db8:{self.rng.randint(0, 0xffff):x}::"
                                         f"{self.rng.randint(1, 0xffff):x}"))

    def ssn(self) -> str:
        return self.en.ssn()


PII_SENTENCES: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": (
        "You can reach me at {} if you want the files.",
        "Email: {}",
        "send it to {} thanks",
        "PM me or write to {} and I'll share the config.",
        "({}) was the address on the invoice.",
        "Contact the seller, {}, before buying.",
    ),
    "PHONE_NUMBER": (
        "Call me on {} after 6pm.",
        "My number is {} if anything goes wrong.",
        "Tel. {}",
        "WhatsApp {} for the pickup.",
        "Office: {} (Mon-Fri).",
        "or just ring {} and ask for Sam.",
        "Their support line {} was useless.",
        "phone {} - ask for the workshop.",
        "I got a call from {} twice yesterday.",
        "The shop, {}, opens at 9.",
    ),
    "CREDIT_CARD": (
        "They charged my card {} twice this month.",
        "paid with {} and never got the order",
        "Visa ending... no wait, the whole number was {} on the receipt.",
        "card number {} exp 04/27 - is this a scam?",
        "The test card {} worked in the sandbox.",
    ),
    "IBAN_CODE": (
        "IBAN {} for the deposit.",
        "transfer to {} (reference: forum sale).",
        "Please send the money to {} by Friday.",
        "account {} is the club's.",
    ),
    "IP_ADDRESS": (
        "my server {} keeps dropping connections.",
        "ping {} times out since the update.",
        "Banned IP {} after 300 login attempts.",
        '{} - - [12/Mar/2024:10:15:32 +0000] "GET /index.php HTTP/1.1" 200 5123',
        "The router hands out {} to the NAS.",
        "Try connecting to {} instead.",
    ),
    "US_SSN": (
        "SSN {} was on the form they mailed back.",
        "my social security number {} got leaked",
        "The letter listed {} as the number on file.",
    ),
}
PII_MAKERS: dict[str, Callable[[Pii], str]] = {
    "EMAIL_ADDRESS": Pii.email,
    "PHONE_NUMBER": Pii.phone,
    "CREDIT_CARD": Pii.card,
    "IBAN_CODE": Pii.iban,
    "IP_ADDRESS": Pii.ip,
    "US_SSN": Pii.ssn,
}


def _chatter(rng: random.Random, pii: Pii, numeric_share: float) -> str:
    f = pii.en
    y = rng.randint(1650, 2024)
    prose = (
        lambda: "Has anyone tried the new firmware on the older boards?",
        lambda: f"Thanks {f.first_name()}, that fixed it for me too.",
        lambda: "Same problem here, it started after the last update.",
        lambda: f"We moved to {f.city()} last year and the shop there is great.",
        lambda: "I'm not sure that's right, the manual says otherwise.",
        lambda: "Bumping this because I still don't have an answer.",
        lambda: f"{f.company()} support told me to reinstall everything.",
        lambda: "Edit: never mind, it was the cable.",
        lambda: "Does this work on Linux as well or only Windows?",
        lambda: "Quoting the original post so people know what we're talking about.",
        lambda: f"{f.first_name()} said the same thing in the other thread, worth a read.",
        lambda: "I returned mine and got a refund without any questions.",
        lambda: f"Our club in {f.city()} meets every other week if anyone is interested.",
        lambda: "This is the best explanation I have found so far, thank you.",
        lambda: "Not sure why this got downvoted, it answers the question.",
        lambda: f"Try asking on the {f.word()} subforum, they know more about it.",
        lambda: "Mine arrived with a scratch on the lid but works fine otherwise.",
        lambda: "Wait for the next release, the current one has a memory leak.",
    )
    numeric = (
        lambda: f"Posted {rng.randint(2005, 2024)}-{rng.randint(1, 12):02d}-"
        f"{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        lambda: f"Joined: {f.month_name()} {rng.randint(2001, 2024)}",
        lambda: f"Last edited on {rng.randint(2005, 2024)}{rng.randint(1, 12):02d}"
        f"{rng.randint(1, 28):02d}.",
        lambda: f"The house was built {y}-{y + rng.randint(1, 30)} by his family.",
        lambda: f"It ran from {y} to {y + rng.randint(1, 40)}, as far as I know.",
        lambda: f"Macros today: {rng.randint(100, 250)} {rng.randint(5, 40)}.{rng.randint(0, 9)}g "
        f"protein, {rng.randint(20, 300)}g carbs.",
        lambda: f"See section {'.'.join(str(rng.randint(0, 9)) for _ in range(rng.randint(3, 7)))}"
        " of the spec.",
        lambda: f"Step {'.'.join(str(rng.randint(0, 12)) for _ in range(rng.randint(4, 6)))} "
        "in the guide is wrong.",
        lambda: f"Running version {rng.randint(1, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        f" on kernel {rng.randint(4, 6)}.{rng.randint(0, 19)}.0-{rng.randint(10, 120)}-generic.",
        lambda: f"Windows build 10.0.{rng.randint(17000, 22631)}.{rng.randint(100, 4000)}",
        lambda: f"Paid ${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(0, 99):02d} "
        f"for it in {rng.randint(2010, 2024)}.",
        lambda: f"Order #{rng.randint(10**8, 10**10)} still hasn't shipped.",
        lambda: f"Ticket {rng.randint(10**6, 10**7)} was closed without a reply.",
        lambda: f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}"
        f"-{rng.randint(0, 9)}",
        lambda: f"Pages {(p := rng.randint(10, 900))}-{p + rng.randint(2, 40)} cover it.",
        lambda: f"Screen is {rng.choice(('1920x1080', '2560x1440', '3840x2160'))} at "
        f"{rng.choice((60, 120, 144, 165))} Hz.",
        lambda: f"Coordinates {rng.uniform(-80, 80):.4f}, {rng.uniform(-170, 170):.4f} if you "
        "want to find it.",
        lambda: f"Unix time {rng.randint(1_300_000_000, 1_720_000_000)} in the log.",
        lambda: "Sequence: " + " ".join(str(2**i) for i in range(rng.randint(5, 11))),
        lambda: f"Scores were {rng.randint(0, 5)}-{rng.randint(0, 5)} and "
        f"{rng.randint(0, 5)}-{rng.randint(0, 5)}.",
        lambda: f"Meet at {rng.randint(1, 12)}:{rng.randint(0, 59):02d} on "
        f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2010, 2024)}.",
        lambda: f"Due {rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2010, 2024)}.",
        lambda: f"Zip {rng.randint(10000, 99999)}, {rng.randint(1, 400)} miles away.",
        lambda: f"Part no. {rng.randint(1000, 9999)}-{rng.randint(100, 999)} fits the "
        f"{rng.randint(1998, 2015)} model.",
        lambda: f"CVE-{rng.randint(2014, 2024)}-{rng.randint(1000, 49999)} is the one.",
        lambda: f"Mix {rng.randint(2, 6)} x {rng.choice((250, 330, 500))} ml with "
        f"{rng.randint(1, 3)}.{rng.randint(1, 9)} kg flour.",
        lambda: f"Population grew from {rng.randint(1, 9)} {rng.randint(100, 999)} "
        f"{rng.randint(100, 999)} to {rng.randint(1, 9)} {rng.randint(100, 999)} "
        f"{rng.randint(100, 999)} in a decade.",
    )
    return rng.choice(numeric if rng.random() < numeric_share else prose)()


def generate(
    n: int, seed: int = 15, *, pii_share: float = 2 / 3, numeric_share: float = 0.7
) -> list[Labelled]:
    """`n` labelled ~1 KB forum posts (module docstring): `pii_share` of them with personal
    data, `numeric_share` of the other sentences hard negatives."""
    rng = random.Random(seed)
    pii = Pii(seed)
    docs = []
    for _ in range(n):
        doc = Labelled("")
        with_pii = rng.random() < pii_share
        parts: list[str] = []
        size = 0
        while size < 1000:
            if with_pii and rng.random() < 0.18:
                entity = rng.choice(ENTITIES)
                value = PII_MAKERS[entity](pii)
                template = rng.choice(PII_SENTENCES[entity])
                before = template.index("{}")
                offset = size + before
                doc.spans.append((entity, offset, offset + len(value)))
                sentence = template.format(value)
            else:
                sentence = _chatter(rng, pii, numeric_share)
            joiner = "\n" if rng.random() < 0.2 else " "
            parts.append(sentence + joiner)
            size += len(sentence) + 1
        doc.text = "".join(parts).rstrip()
        for entity, start, end in doc.spans:
            assert doc.text[start:end] and entity
        docs.append(doc)
    return docs


def forum_posts(
    n: int, seed: int = 15, *, pii_share: float = 1 / 3, numeric_share: float = 0.3
) -> list[str]:
    """~1 KB forum posts for the speed bench: by default one in three with personal data, and
    three sentences in ten of the others holding numbers that are not."""
    return [d.text for d in generate(n, seed, pii_share=pii_share, numeric_share=numeric_share)]


@dataclass
class Score:
    gold: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    right: Counter = field(default_factory=Counter)
    clean_fp: Counter = field(default_factory=Counter)  # false positives in posts without PII
    misses: list = field(default_factory=list)
    wrong: list = field(default_factory=list)


def score(docs: list[Labelled], stage_name: str) -> Score:
    from processing.stage import create
    from processing.types import Document

    stage = create(stage_name, entities=list(ENTITIES))
    out = stage.run(Document(id=f"q/{i}", text=d.text) for i, d in enumerate(docs))
    s = Score()
    for doc, result in zip(docs, out, strict=True):
        gold = set(doc.spans)
        found = {(p["type"], p["start"], p["end"]) for p in result.attributes["pii_spans"]}
        for entity, start, end in gold:
            s.gold[entity] += 1
            if (entity, start, end) in found:
                s.right[entity] += 1
            else:
                s.misses.append((entity, doc.text[start:end]))
        for entity, start, end in found:
            s.found[entity] += 1
            if (entity, start, end) not in gold:
                s.wrong.append((entity, doc.text[max(0, start - 25) : end + 10].replace("\n", " "),
                                doc.text[start:end]))
                if not gold:
                    s.clean_fp[entity] += 1
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="posts (default 2000)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--show", type=int, default=0, help="print N misses and N false positives")
    args = parser.parse_args()

    docs = generate(args.n, args.seed)
    clean = sum(1 for d in docs if not d.spans)
    mean = sum(len(d.text) for d in docs) / len(docs)
    print(f"{len(docs):,} posts (seed {args.seed}), mean {mean:,.0f} characters, "
          f"{clean:,} without personal data, {sum(len(d.spans) for d in docs):,} labels\n")
    results = {"presidio alone (pii_v1)": score(docs, "pii_v1"),
               "govcat (pii_v2)": score(docs, "pii_v2")}
    names = list(results)
    print(f"{'entity':<15} {'labels':>6} | " + " | ".join(f"{n:^34}" for n in names))
    print(f"{'':<15} {'':>6} | " + " | ".join(
        f"{'recall':>8} {'precision':>10} {'FP/1k clean':>12}" for _ in names))
    for entity in ENTITIES:
        cells = []
        for name in names:
            s = results[name]
            recall = s.right[entity] / s.gold[entity] if s.gold[entity] else float("nan")
            precision = s.right[entity] / s.found[entity] if s.found[entity] else float("nan")
            per_k = 1000 * s.clean_fp[entity] / clean if clean else float("nan")
            cells.append(f"{recall:>8.3f} {precision:>10.3f} {per_k:>12.1f}")
        gold = results[names[0]].gold[entity]
        print(f"{entity:<15} {gold:>6} | " + " | ".join(cells))
    for name in names:
        s = results[name]
        right, gold, found = sum(s.right.values()), sum(s.gold.values()), sum(s.found.values())
        print(f"\n{name}: all six, recall {right / max(gold, 1):.3f}, "
              f"precision {right / max(found, 1):.3f}")
        if args.show:
            for entity, text in s.misses[: args.show]:
                print(f"  missed {entity:<14} {text!r}")
            for entity, around, text in s.wrong[: args.show]:
                print(f"  wrong  {entity:<14} {text!r:<28} in …{around}…")


if __name__ == "__main__":
    main()
