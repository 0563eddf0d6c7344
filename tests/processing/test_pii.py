"""The pii stages: pii_v2 (govcat's recognizers behind the shape pre-filter) and pii_v1
(presidio alone) find each entity at the right place, offline; card issuers, IBANs, phone
numbers; the hard negatives of forum text; the pre-filter gives exactly the spans of full
analysis; overlaps resolve; redaction."""

from __future__ import annotations

import pickle
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")
tldextract = pytest.importorskip("tldextract")
pytest.importorskip("presidio_anonymizer")

from processing import pii_offline, pii_recognizers  # noqa: E402
from processing.pii_prefilter import Prefilter  # noqa: E402
from processing.stage import ProcessLocal, StageOptionError, create  # noqa: E402
from processing.stages import pii  # noqa: E402
from processing.stages.pii import (  # noqa: E402
    DEFAULT_ENTITIES,
    PiiSpan,
    PiiStage,
    PresidioPiiStage,
    RedactionError,
    find_pii,
    redact,
    resolve_overlaps,
)
from processing.types import Document  # noqa: E402


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every connection or name lookup is recorded and refused; no test may attempt one (a
    library that catches the refusal and falls back would otherwise go unnoticed)."""
    attempts: list[object] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network is blocked in tests")

    def refuse_lookup(host: object, *args: object, **kwargs: object) -> list[object]:
        attempts.append(host)
        raise OSError("network is blocked in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setattr(socket, "create_connection", refuse_lookup)
    yield attempts
    assert attempts == [], f"network attempted: {attempts}"


def spans_of(text: str, **options: object) -> list[tuple[str, str]]:
    return [(s.type, text[s.start : s.end]) for s in find_pii(text, **options)]  # type: ignore[arg-type]


BOTH = pytest.mark.parametrize("recognizers", ["govcat", "presidio"])


def test_network_guard_records_attempts(no_network: list[object]) -> None:
    with pytest.raises(OSError):
        socket.getaddrinfo("publicsuffix.org", 443)
    assert no_network == ["publicsuffix.org"]
    no_network.clear()


@BOTH
def test_engine_starts_and_validates_emails_without_network(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch, recognizers: str,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # A fresh engine, NLP pipeline and suffix-list extractor, all built under the guard.
    monkeypatch.setattr(pii, "_ANALYZERS", ProcessLocal())
    pii_offline.nlp_engine_for.cache_clear()
    pii_recognizers._tld_extractor.cache_clear()
    # tldextract's default extractor as on a fresh machine: the default suffix-list URLs and
    # an empty cache, so any call to it tries the network (and logs a traceback on refusal).
    monkeypatch.setattr(tldextract, "extract", tldextract.TLDExtract(cache_dir=str(tmp_path)))
    text = "Write to jane.roe@example.co.uk today."
    assert spans_of(text, recognizers=recognizers) == [("EMAIL_ADDRESS", "jane.roe@example.co.uk")]
    assert no_network == []
    assert list(tmp_path.iterdir()) == []  # the default extractor was never asked
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    pii_recognizers._tld_extractor.cache_clear()


@pytest.mark.parametrize(
    ("entity", "value"),
    [
        ("EMAIL_ADDRESS", "john.doe@example.com"),
        ("PHONE_NUMBER", "(212) 555-1234"),
        ("IP_ADDRESS", "192.168.1.20"),
        ("IP_ADDRESS", "2001:db8::ff00:42:8329"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("IBAN_CODE", "GB82WEST12345698765432"),
        ("US_SSN", "219-09-9999"),
        ("URL_WITH_CREDENTIALS", "https://admin:hunter2@db.example.com:5432/prod"),
    ],
)
@BOTH
def test_each_entity_is_found_at_its_place(entity: str, value: str, recognizers: str) -> None:
    text = f"Some words first. The value {value} is here.\nThen more words."
    (span,) = find_pii(text, recognizers=recognizers)
    start = text.index(value)
    assert (span.type, span.start, span.end) == (entity, start, start + len(value))
    assert pii.DEFAULT_MIN_SCORE <= span.score <= 1.0


@BOTH
def test_plain_text_has_no_pii(recognizers: str) -> None:
    text = "The committee met on Tuesday, 3 May, and agreed on 12 points."
    assert find_pii(text, recognizers=recognizers) == []


@BOTH
def test_invalid_numbers_are_not_reported(recognizers: str) -> None:
    # Fails the Luhn check, a bad IBAN checksum, and an SSN with area 000.
    text = "Card 4111 1111 1111 1112, IBAN DE00 3704 0044 0532 0130 00, SSN 000-12-3456."
    assert [t for t, _ in spans_of(text, recognizers=recognizers)] == []


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (
            "Login https://user:s3cret@example.com/path. Done",
            "https://user:s3cret@example.com/path",
        ),
        ("see ftp://bob:pw@10.0.0.2/x, then", "ftp://bob:pw@10.0.0.2/x"),
        ("at https://u:p@[2001:db8::1]:8080/ now", "https://u:p@[2001:db8::1]:8080/"),
        ("(postgres://app:pa:ss@db.internal)", "postgres://app:pa:ss@db.internal"),
        ("Login https://u:p@example.com. Bye", "https://u:p@example.com"),
    ],
)
def test_url_with_credentials(text: str, url: str) -> None:
    assert spans_of(text) == [("URL_WITH_CREDENTIALS", url)]


def test_urls_without_a_password_are_not_credentials() -> None:
    text = "Visit https://user@example.com/ or https://example.com/a:b@c or mailto:x:y@z."
    assert spans_of(text, entities=["URL_WITH_CREDENTIALS"]) == []


# --- overlaps: each case first shows the losing recognizer really matches on its own
# (presidio's phone recognizer; govcat's does not read IPv4 or SSN shapes as phone numbers)


@BOTH
def test_phone_number_inside_an_ipv4_address_yields_to_the_address(recognizers: str) -> None:
    text = "The host 203.0.113.195 is up."
    phones = spans_of(text, entities=["PHONE_NUMBER"], recognizers=recognizers)
    expected = [("PHONE_NUMBER", "203.0.113.195")] if recognizers == "presidio" else []
    assert phones == expected
    assert spans_of(text, recognizers=recognizers) == [("IP_ADDRESS", "203.0.113.195")]


@BOTH
def test_phone_number_on_an_ssn_shaped_string_yields_to_the_ssn(recognizers: str) -> None:
    text = "The value 499-65-1034 ends here."
    phones = spans_of(text, entities=["PHONE_NUMBER"], recognizers=recognizers)
    expected = [("PHONE_NUMBER", "499-65-1034")] if recognizers == "presidio" else []
    assert phones == expected
    assert spans_of(text, recognizers=recognizers) == [("US_SSN", "499-65-1034")]


def test_email_inside_a_url_with_credentials_yields_to_the_url() -> None:
    text = "Use https://user:s3cret@example.com/path please."
    assert spans_of(text, entities=["EMAIL_ADDRESS"]) == [("EMAIL_ADDRESS", "s3cret@example.com")]
    assert spans_of(text) == [("URL_WITH_CREDENTIALS", "https://user:s3cret@example.com/path")]


def test_url_inside_an_email_address_yields_to_the_address() -> None:
    text = "Mail john.doe@example.com now."
    urls = spans_of(text, entities=["URL"])
    assert ("URL", "example.com") in urls
    assert spans_of(text, entities=["EMAIL_ADDRESS", "URL"]) == [
        ("EMAIL_ADDRESS", "john.doe@example.com")
    ]


def test_resolve_overlaps_rule() -> None:
    spans = [
        PiiSpan("PHONE_NUMBER", 0, 10, 0.4),
        PiiSpan("IP_ADDRESS", 0, 10, 0.6),  # higher score wins
        PiiSpan("EMAIL_ADDRESS", 20, 30, 1.0),
        PiiSpan("URL_WITH_CREDENTIALS", 15, 40, 1.0),  # same score, longer wins
        PiiSpan("PHONE_NUMBER", 50, 60, 0.5),
        PiiSpan("US_SSN", 50, 60, 0.5),  # same score and length: the more specific type
        PiiSpan("URL", 59, 70, 0.3),  # partial overlap with a kept span: dropped whole
        PiiSpan("EMAIL_ADDRESS", 70, 80, 1.0),  # touching [59,70) is not overlapping
        PiiSpan("PHONE_NUMBER", 90, 95, 0.4),
    ]
    assert resolve_overlaps(spans) == [
        PiiSpan("IP_ADDRESS", 0, 10, 0.6),
        PiiSpan("URL_WITH_CREDENTIALS", 15, 40, 1.0),
        PiiSpan("US_SSN", 50, 60, 0.5),
        PiiSpan("EMAIL_ADDRESS", 70, 80, 1.0),
        PiiSpan("PHONE_NUMBER", 90, 95, 0.4),
    ]
    assert resolve_overlaps(reversed(spans)) == resolve_overlaps(spans)


def test_min_score_drops_weak_candidates_before_overlaps() -> None:
    text = "The value 499-65-1034 ends here."
    assert spans_of(text, min_score=0.45) == [("US_SSN", "499-65-1034")]
    assert spans_of(text, min_score=0.6) == []


def test_context_words_raise_scores() -> None:
    (plain,) = find_pii("The value 219-09-9999 ends here.")
    (with_context,) = find_pii("My SSN is 219-09-9999 here.")
    assert with_context.score > plain.score


def test_long_documents_are_analysed_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii, "CHUNK_CHARS", 200)
    lines = [f"Line {i} of filler text without anything personal in it." for i in range(40)]
    lines[5] += " Mail a.b@example.org now."
    lines[33] += " Card 4111 1111 1111 1111 here."
    text = "\n".join(lines)
    spans = find_pii(text)
    assert [(s.type, text[s.start : s.end]) for s in spans] == [
        ("EMAIL_ADDRESS", "a.b@example.org"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    ]


def test_chunks_cover_the_text_and_cut_after_newlines() -> None:
    text = ("word " * 30 + "\n") * 20 + "x" * 500
    pieces = list(pii._chunks(text, 400))
    assert "".join(piece for _, piece in pieces) == text
    assert all(len(piece) <= 400 for _, piece in pieces)
    assert all(text[offset : offset + len(piece)] == piece for offset, piece in pieces)
    assert all(piece.endswith("\n") for _, piece in pieces[:10])


# --- the stage


def test_stage_writes_counts_and_spans() -> None:
    text = (
        "Contact john.doe@example.com or jane@example.org, call (212) 555-1234.\n"
        "Server 192.168.1.20 failed."
    )
    stage = create("pii_v2")
    (doc,) = stage.run([Document(id="d1", text=text)])
    counts = doc.attributes["pii_counts"]
    assert counts == {entity: 0 for entity in DEFAULT_ENTITIES} | {
        "EMAIL_ADDRESS": 2,
        "PHONE_NUMBER": 1,
        "IP_ADDRESS": 1,
    }
    spans = doc.attributes["pii_spans"]
    assert [(s["type"], text[s["start"] : s["end"]]) for s in spans] == [
        ("EMAIL_ADDRESS", "john.doe@example.com"),
        ("EMAIL_ADDRESS", "jane@example.org"),
        ("PHONE_NUMBER", "(212) 555-1234"),
        ("IP_ADDRESS", "192.168.1.20"),
    ]
    assert set(spans[0]) == {"type", "start", "end", "score"}
    assert stage.stats.counters["spans_EMAIL_ADDRESS"] == 2
    assert stage.stats.counters["docs_with_pii"] == 1
    assert doc.text == text  # measuring never changes the text


def test_stage_restricted_to_some_entities() -> None:
    text = "Mail john.doe@example.com, host 192.168.1.20."
    stage = PiiStage(entities=["IP_ADDRESS"])
    (doc,) = stage.run([Document(id="d", text=text)])
    assert doc.attributes["pii_counts"] == {"IP_ADDRESS": 1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"entities": ["PASSPORT"]}, "unknown entity 'PASSPORT'"),
        ({"entities": ["PERSON"]}, "needs a spaCy NER model"),
        ({"entities": "EMAIL_ADDRESS"}, "must be a list"),
        ({"entities": []}, "empty"),
        ({"min_score": 1.5}, "min_score"),
        ({"language": "fr"}, "unknown option 'language'"),
        ({"jurisdictions": ["Atlantis"]}, "jurisdiction 'Atlantis' names no phone region"),
        ({"jurisdictions": "EU"}, "non-empty list"),
        ({"jurisdictions": []}, "non-empty list"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(StageOptionError, match=f"stage pii_v2: .*{message}"):
        create("pii_v2", **options)


def test_pii_v1_is_presidio_alone_and_takes_no_jurisdictions() -> None:
    with pytest.raises(StageOptionError, match="unknown option 'jurisdictions'"):
        create("pii_v1", jurisdictions=["EU"])
    with pytest.raises(StageOptionError, match="stage pii_v1: unknown entity 'PASSPORT'"):
        create("pii_v1", entities=["PASSPORT"])
    stage = create("pii_v1")
    assert isinstance(stage, PresidioPiiStage)
    assert stage.engine_info["recognizers"] == "presidio"  # type: ignore[attr-defined]
    assert stage.engine_info["prefilter"] is None  # type: ignore[attr-defined]


def test_a_spacy_model_that_is_not_installed_is_an_option_error() -> None:
    stage = PiiStage(spacy_model="xx_no_such_model_sm")
    with pytest.raises(StageOptionError, match="not installed"):
        list(stage.run([Document(id="d", text="Alice lives in Paris.")]))
    with pytest.raises(StageOptionError, match="not installed"):
        _ = stage.engine_info


def test_stage_pickles_without_the_engine() -> None:
    stage = PiiStage(entities=["EMAIL_ADDRESS"], min_score=0.5)
    list(stage.run([Document(id="d", text="warm up a@example.org")]))  # engine built here
    blob = pickle.dumps(stage)
    assert len(blob) < 2_000
    copy = pickle.loads(blob)
    (doc,) = copy.run([Document(id="e", text="mail b@example.org")])
    assert doc.attributes["pii_counts"] == {"EMAIL_ADDRESS": 1}


def test_engine_info_says_ner_is_off_by_default() -> None:
    info = pii.PII_ENGINE_INFO
    assert info["stage"] == "pii_v2"
    assert info["ner"] is False and info["ner_model"] is None
    assert info["entities"] == list(DEFAULT_ENTITIES)
    assert info["versions"]["presidio-analyzer"]
    assert info["prefilter"] and info["jurisdictions"] == list(pii.DEFAULT_JURISDICTIONS)
    assert {"DE", "FR", "GB", "US", "CA", "CH", "NO"} <= set(info["phone_regions"])
    assert "PERSON" not in PiiStage().entities


def test_engine_info_without_shapes_has_no_prefilter() -> None:
    assert pii.engine_info(entities=["EMAIL_ADDRESS", "URL"])["prefilter"] is None


def test_ner_entities_with_an_installed_spacy_pipeline(tmp_path: Path) -> None:
    # No trained NER model ships offline; a rule-based entity recognizer saved as a spaCy
    # pipeline takes the same route (load from disk, SpacyRecognizer, label mapping).
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": "Alice Martin"},
            {"label": "GPE", "pattern": "Paris"},
        ]
    )
    model = tmp_path / "ner_model"
    nlp.to_disk(model)

    stage = create("pii_v2", spacy_model=str(model))
    text = "Alice Martin lives in Paris; mail alice@example.com."
    (doc,) = stage.run([Document(id="d", text=text)])
    found = [(s["type"], text[s["start"] : s["end"]]) for s in doc.attributes["pii_spans"]]
    assert found == [
        ("PERSON", "Alice Martin"),
        ("LOCATION", "Paris"),
        ("EMAIL_ADDRESS", "alice@example.com"),
    ]
    info = stage.engine_info  # type: ignore[attr-defined]
    assert info["ner"] is True
    assert info["ner_model"]["pipeline"] == ["entity_ruler"]


def test_a_spacy_pipeline_without_ner_is_refused(tmp_path: Path) -> None:
    import spacy

    model = tmp_path / "tokenizer_only"
    spacy.blank("en").to_disk(model)
    with pytest.raises(StageOptionError, match="no component that finds entities"):
        find_pii("Alice", entities=["PERSON"], spacy_model=str(model))


def test_entity_lists_agree_between_stage_and_engine() -> None:
    assert set(pii.SUPPORTED_ENTITIES) == set(pii_offline.SUPPORTED_ENTITIES)
    assert set(pii.ENTITY_PRIORITY) == set(pii.SUPPORTED_ENTITIES)


# --- redaction


TEXT = "Mail a@x.org b@y.org or call (212) 555-1234 from 192.168.1.20."


def test_redact_replaces_chosen_types_exactly() -> None:
    spans = [s.to_dict() for s in find_pii(TEXT)]
    assert redact(TEXT, spans, {"EMAIL_ADDRESS", "IP_ADDRESS"}) == (
        "Mail |||EMAIL_ADDRESS||| |||EMAIL_ADDRESS||| or call (212) 555-1234 from |||IP_ADDRESS|||."
    )
    assert redact(TEXT, spans, DEFAULT_ENTITIES, placeholder="<{type}>") == (
        "Mail <EMAIL_ADDRESS> <EMAIL_ADDRESS> or call <PHONE_NUMBER> from <IP_ADDRESS>."
    )


def test_redact_with_nothing_chosen_returns_the_text() -> None:
    spans = find_pii(TEXT)
    assert redact(TEXT, spans, set()) == TEXT
    assert redact(TEXT, spans, {"IBAN_CODE"}) == TEXT


def test_redact_adjacent_spans_keep_their_own_placeholders() -> None:
    text = "ab"
    spans = [PiiSpan("US_SSN", 0, 1, 1.0), PiiSpan("US_SSN", 1, 2, 1.0)]
    assert redact(text, spans, {"US_SSN"}, placeholder="[{type}]") == "[US_SSN][US_SSN]"


def test_redact_gives_what_presidio_anonymizer_gives() -> None:
    """The splice against presidio-anonymizer's replace operator, on random disjoint spans."""
    import random

    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    engine = AnonymizerEngine()
    rng = random.Random(5)
    types = ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN")
    for _ in range(200):
        text = "".join(rng.choice("ab cé\n@.") for _ in range(rng.randint(1, 60)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, 2 * rng.randint(0, 4))))
        spans = [PiiSpan(rng.choice(types), a, b, 1.0)
                 for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
        chosen = set(rng.sample(types, rng.randint(1, 3)))
        wanted = [s for s in spans if s.type in chosen]
        expected = engine.anonymize(
            text=text, analyzer_results=[RecognizerResult(s.type, s.start, s.end, 1.0)
                                         for s in wanted],
            operators={t: OperatorConfig("replace", {"new_value": f"<{t}>"}) for t in chosen},
            merge_entities_with_spaces=False).text
        assert redact(text, spans, chosen, placeholder="<{type}>") == expected, (text, spans)


@pytest.mark.parametrize(
    ("spans", "placeholder", "message"),
    [
        (
            [{"type": "EMAIL_ADDRESS", "start": 5, "end": 99, "score": 1.0}],
            "|||{type}|||",
            "outside the text",
        ),
        (
            [
                {"type": "EMAIL_ADDRESS", "start": 5, "end": 12, "score": 1.0},
                {"type": "EMAIL_ADDRESS", "start": 10, "end": 20, "score": 1.0},
            ],
            "|||{type}|||",
            "overlaps",
        ),
        ([{"type": "EMAIL_ADDRESS", "start": 5}], "|||{type}|||", "malformed"),
        ([{"type": "EMAIL_ADDRESS", "start": 5, "end": 12, "score": 1.0}], "{kind}", "placeholder"),
    ],
)
def test_redact_refuses_what_it_cannot_apply(spans: list, placeholder: str, message: str) -> None:
    with pytest.raises(RedactionError, match=message):
        redact(TEXT, spans, {"EMAIL_ADDRESS"}, placeholder, doc_id="doc-7")


# --- pii_v2: card numbers of every issuer range and length, Luhn-checked


def luhn_complete(body: str) -> str:
    """`body` and the check digit that makes it pass the Luhn check (computed here, not by
    the code under test)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def card(prefix: str, length: int, fill: str = "3") -> str:
    return luhn_complete((prefix + fill * length)[: length - 1])


# (issuer, prefixes at the ends of its ranges, lengths)
ISSUER_CASES = [
    ("Visa", ["4"], range(13, 20)),
    ("Mastercard", ["51", "55", "2221", "2720"], [16]),
    ("American Express", ["34", "37"], [15]),
    ("Discover", ["6011", "644", "649", "65", "622126", "622925"], range(16, 20)),
    ("JCB", ["3528", "3589"], range(16, 20)),
    ("Maestro", ["50", "56", "69"], range(12, 20)),
    ("Diners Club", ["300", "305", "36", "38", "39"], range(14, 20)),
    ("UnionPay", ["62"], range(16, 20)),
    ("Mir", ["2200", "2204"], range(16, 20)),
]
CARDS = [
    pytest.param(card(prefix, length), id=f"{issuer}-{prefix}-{length}")
    for issuer, prefixes, lengths in ISSUER_CASES
    for prefix in prefixes
    for length in lengths
]


def grouped(digits: str, sep: str) -> str:
    if len(digits) == 15:  # Amex and other 15-digit numbers are printed 4-6-5
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@pytest.mark.parametrize("digits", CARDS)
def test_every_issuer_range_and_length_is_a_card(digits: str) -> None:
    for written in (digits, grouped(digits, " "), grouped(digits, "-")):
        text = f"They charged my card {written} twice."
        assert spans_of(text, entities=["CREDIT_CARD"]) == [("CREDIT_CARD", written)], written


@pytest.mark.parametrize("digits", CARDS[::3])
def test_a_number_failing_the_luhn_check_is_not_a_card(digits: str) -> None:
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    for written in (wrong, grouped(wrong, " ")):
        assert spans_of(f"card {written} here", entities=["CREDIT_CARD"]) == []


@pytest.mark.parametrize(
    "digits",
    [card("2220", 16), card("2721", 16), card("1", 16), card("4", 12), card("34", 16)],
    ids=["before-2221", "after-2720", "no-issuer", "visa-12", "amex-16"],
)
def test_luhn_valid_numbers_outside_issuer_ranges_are_not_cards(digits: str) -> None:
    assert spans_of(f"number {digits} here", entities=["CREDIT_CARD"]) == []


def test_a_card_number_is_a_whole_chain_of_digit_groups() -> None:
    text = "card 4111 1111 1111 1111, exp 2027"
    assert spans_of(text, entities=["CREDIT_CARD"]) == [("CREDIT_CARD", "4111 1111 1111 1111")]
    # a longer number whose first sixteen digits would pass is not a card
    assert spans_of("ref 4111 1111 1111 1111 2027 ok", entities=["CREDIT_CARD"]) == []


def test_mixed_separators_are_not_one_card() -> None:
    assert spans_of("card 4111 1111-1111 1111 ok", entities=["CREDIT_CARD"]) == []


# --- pii_v2: IBANs in either case, compact or grouped

IBANS = [  # published example IBANs, each with a valid checksum
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "PT50000201231234567890154",
    "BE68539007547034",
    "CH9300762011623852957",
    "NO9386011117947",
    "PL61109010140000071219812874",
    "MT84MALT011000012345MTLCAST001S",
]


@pytest.mark.parametrize("iban", IBANS)
def test_ibans_upper_or_lower_case_compact_or_grouped(iban: str) -> None:
    four = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    for written in (iban, iban.lower(), four, four.lower(), four.replace(" ", "-")):
        text = f"Please send it to {written} by Friday."
        assert spans_of(text, entities=["IBAN_CODE"]) == [("IBAN_CODE", written)], written


def test_presidio_alone_misses_lower_case_ibans() -> None:
    text = "IBAN de89 3704 0044 0532 0130 00 please"
    assert spans_of(text, entities=["IBAN_CODE"], recognizers="presidio") == []
    assert spans_of(text, entities=["IBAN_CODE"]) == [
        ("IBAN_CODE", "de89 3704 0044 0532 0130 00")
    ]


def test_an_iban_with_a_wrong_check_or_length_is_not_reported() -> None:
    for written in ("DE88370400440532013000", "DE8937040044053201300", "XX89370400440532013000"):
        assert spans_of(f"IBAN {written} here", entities=["IBAN_CODE"]) == []


def test_two_ibans_in_one_run_of_groups() -> None:
    text = "IBAN de89 3704 0044 0532 0130 00 or GB82WEST12345698765432 from"
    assert spans_of(text, entities=["IBAN_CODE"]) == [
        ("IBAN_CODE", "de89 3704 0044 0532 0130 00"),
        ("IBAN_CODE", "GB82WEST12345698765432"),
    ]


# --- pii_v2: phone numbers, international and national


def example_numbers(regions: tuple[str, ...], *formats: int) -> list[str]:
    """libphonenumber's own example fixed-line and mobile numbers of `regions`, written in
    `formats` (phonenumbers' data, not govcat's)."""
    import phonenumbers as pn

    numbers = []
    for region in regions:
        for kind in (pn.PhoneNumberType.FIXED_LINE, pn.PhoneNumberType.MOBILE):
            number = pn.example_number_for_type(region, kind)
            if number is not None:
                numbers += [pn.format_number(number, f) for f in formats]
    return sorted(set(numbers))


def test_international_numbers_of_any_country() -> None:
    import phonenumbers as pn

    regions = ("GB", "DE", "FR", "ES", "US", "JP", "BR", "AU", "IN", "ZA", "SG", "MX")
    numbers = example_numbers(
        regions, pn.PhoneNumberFormat.INTERNATIONAL, pn.PhoneNumberFormat.E164
    )
    numbers += ["+44 (0)20 7946 0958", "+49 (0) 30 901820", "0044 20 7946 0958"]
    numbers += ["(+33) 1 42 68 53 00", "+1-780-563-6083x7783"]
    assert len(numbers) > 40
    for number in numbers:
        text = f"Reach me on {number} after six."
        assert spans_of(text, entities=["PHONE_NUMBER"]) == [("PHONE_NUMBER", number)], number


def test_national_formats_of_the_default_jurisdictions() -> None:
    import phonenumbers as pn

    regions = pii.phone_regions(pii.DEFAULT_JURISDICTIONS)
    numbers = example_numbers(regions, pn.PhoneNumberFormat.NATIONAL)
    numbers += ["(212) 555-1234", "1 (786) 834-4978", "206.269.0743x9150", "01 23 45 67 89"]
    assert len(numbers) > 60
    for number in numbers:
        text = f"Call me on {number} tomorrow."
        assert spans_of(text, entities=["PHONE_NUMBER"]) == [("PHONE_NUMBER", number)], number


def test_national_formats_only_of_the_named_jurisdictions() -> None:
    import phonenumbers as pn

    # National numbers of countries outside the defaults that no default region's plan holds
    # (many do: Japan's "03-1234-5678" is also an Italian number).
    outside = ("BR", "MX", "JP", "KR", "ZA", "TR", "AU", "IN")
    checked = 0
    for region in outside:
        for national in example_numbers((region,), pn.PhoneNumberFormat.NATIONAL):
            text = f"Call me on {national} tomorrow."
            if spans_of(text, entities=["PHONE_NUMBER"]):
                continue
            assert spans_of(text, entities=["PHONE_NUMBER"], jurisdictions=[region]) == [
                ("PHONE_NUMBER", national)
            ], (region, national)
            checked += 1
    assert checked >= 3
    stage = create("pii_v2", jurisdictions=["EU", "MX"])
    assert stage.engine_info["phone_regions"][-1] == "MX"  # type: ignore[attr-defined]


def test_jurisdictions_name_regions_in_order() -> None:
    eu = pii.phone_regions(["EU"])
    assert len(eu) == 27 and "DE" in eu and "GB" not in eu
    assert pii.phone_regions(["UK", "us", "EU"])[:2] == ("GB", "US")
    assert pii.phone_regions(["EEA"])[-3:] == ("IS", "LI", "NO")
    assert pii.phone_regions(["EU", "DE"]) == eu


def test_a_bare_or_short_national_number_needs_a_context_word() -> None:
    for number in ("3420837783", "8118-467"):
        assert spans_of(f"The part {number} fits.", entities=["PHONE_NUMBER"]) == []
        assert spans_of(f"Call me on {number} please.", entities=["PHONE_NUMBER"]) == [
            ("PHONE_NUMBER", number)
        ]


def test_a_phone_number_followed_by_a_number_is_found_without_it() -> None:
    text = "Ring +44 20 7946 0958 24 hours a day."
    assert spans_of(text, entities=["PHONE_NUMBER"]) == [("PHONE_NUMBER", "+44 20 7946 0958")]


def test_a_group_inside_a_written_number_is_not_a_number() -> None:
    # "(11) 2345-6789" is a Brazilian number; "2345-6789" alone would be valid in Denmark.
    text = "Call (11) 2345-6789 now."
    assert spans_of(text, entities=["PHONE_NUMBER"]) == []
    assert spans_of(text, entities=["PHONE_NUMBER"], jurisdictions=["BR"]) == [
        ("PHONE_NUMBER", "(11) 2345-6789")
    ]


def test_context_words_are_whole_words_in_a_window_before_the_match() -> None:
    far = "Call " + "and then more words to say " * 2 + "3420837783 today."
    assert spans_of(far, entities=["PHONE_NUMBER"]) == []  # "call" is 14 tokens back
    assert spans_of("Hotel 3420837783 today.", entities=["PHONE_NUMBER"]) == []  # not "tel"
    assert spans_of("Tel. 3420837783 today.", entities=["PHONE_NUMBER"]) == [
        ("PHONE_NUMBER", "3420837783")
    ]


# --- pii_v2: the hard negatives of forum and web text

HARD_NEGATIVES = [
    "The house was built 1698-1700 by his family.",
    "Years 1998/2004 were the best.",
    "Last edited on 20150328.",
    "Posted 2015-03-28 14:22 by a moderator.",
    "Meet at 7:48 on 28.03.2015.",
    "Due 03/28/2015 at the latest.",
    "Macros today: 169 12.5g protein, 220g carbs.",
    "See section 1.0.1.1.5.8 of the spec.",
    "Step 6.2.2.11 in the guide is wrong.",
    "Step 4.2.1.3 and 12.10.0.5 too.",
    "Running version 5.15.0-91 on Ubuntu 20.04.3.",
    "Windows build 10.0.19045.3803 here.",
    "Population grew from 8 342 827 to 9 100 200 in a decade.",
    "Sequence: 1 2 4 8 16 32 64 128 256 512 1024",
    "Pages 120-135 cover it.",
    "ISBN 978-3-16-148410-0",
    "Coordinates 48.8566, 2.3522 if you want to find it.",
    "Unix time 1427500800 in the log.",
    "Order #4500012345 still hasn't shipped.",
    "Screen is 1920x1080 at 144 Hz.",
    "Paid $1,299.99 for it in 2019.",
    "CVE-2021-44228 is the one.",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_are_not_phone_numbers_or_ip_addresses(text: str) -> None:
    assert spans_of(text, entities=["PHONE_NUMBER", "IP_ADDRESS"]) == []


def test_presidio_alone_reads_the_issue_hard_negatives_as_phones_and_ips() -> None:
    text = "Built 1698-1700; weighs 169 12.5g; see 1.0.1.1.5.8."
    found = spans_of(text, entities=["PHONE_NUMBER", "IP_ADDRESS"], recognizers="presidio")
    assert ("PHONE_NUMBER", "1698-1700") in found and ("IP_ADDRESS", "1.0.1.1") in found
    assert spans_of(text, entities=["PHONE_NUMBER", "IP_ADDRESS"]) == []


def test_an_ip_of_small_parts_needs_a_context_word() -> None:
    assert spans_of("ping 10.0.0.1 fails", entities=["IP_ADDRESS"]) == [("IP_ADDRESS", "10.0.0.1")]
    assert spans_of("Step 10.0.0.1 fails", entities=["IP_ADDRESS"]) == []
    assert spans_of("Step 10.0.0.138 fails", entities=["IP_ADDRESS"]) == [
        ("IP_ADDRESS", "10.0.0.138")
    ]


# --- pii_v2: the pre-filter gives the spans of full analysis

FRAGMENTS = [
    "john.doe@example.com", "JANE+tag@mail.example.co.uk", "(212) 555-1234", "+44 20 7946 0958",
    "+49 (0) 9141 777631", "0161 496 0000", "01 23 45 67 89", "3420837783", "206.269.0743x9150",
    "4111 1111 1111 1111", "3782 822463 10005", "2221-0000-0000-0009", "6759649826438453",
    "DE89 3704 0044 0532 0130 00", "gb82west12345698765432", "192.168.1.20", "10.0.0.1",
    "2001:db8::ff00:42:8329", "::1", "219-09-9999", "123456789", "https://u:p@host.example/x",
    "1698-1700", "20150328", "2015-03-28", "28.03.2015", "169 12.5g", "1.0.1.1.5.8", "6.2.2.11",
    "v2.3.1", "ISBN 978-3-16-148410-0", "1920x1080", "$1,299.99", "8 342 827", "(06 1) 234 5678",
    "phone", "call", "ssn", "card", "iban", "ip", "server", "tel.", "mobile:", "social security",
    "the", "and", "of", "a", "x", "-", ".", ",", ":", "(", ")", "/", "#", "DE89", "ab12 cd34",
]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\t", "\u00a0", " - ", ", ", "\n\n"]


def mixed_document(rng: random.Random, faker: object | None) -> str:
    """Personal data, hard negatives, context words, chains of numbers, long words and odd
    whitespace in random order: what a region boundary could cut wrongly."""
    parts = []
    for _ in range(rng.randint(5, 100)):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(FRAGMENTS))
        elif r < 0.55 and faker is not None:
            parts.append(
                rng.choice(
                    (faker.phone_number, faker.email, faker.iban, faker.ipv4,  # type: ignore[attr-defined]
                     faker.ssn, faker.credit_card_number)  # type: ignore[attr-defined]
                )()
            )
        elif r < 0.7:
            parts.append(" ".join(str(rng.randint(0, 10 ** rng.randint(1, 5)))
                                  for _ in range(rng.randint(1, 30))))
        elif r < 0.8:
            parts.append("".join(rng.choice("0123456789 -./()") for _ in range(rng.randint(3, 40))))
        elif r < 0.84:
            parts.append("w" * rng.randint(1, 600))
        else:
            parts.append(" ".join(rng.choice(("word", "Words", "zz12", "and", "then"))
                                  for _ in range(rng.randint(1, 20))))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


def test_prefilter_gives_the_spans_of_full_analysis_document_by_document() -> None:
    try:
        from faker import Faker
    except ImportError:  # a dev dependency; the fragments alone still test the claim
        faker = None
    else:
        faker = Faker(["en_US", "de_DE", "fr_FR", "en_GB"])
        faker.seed_instance(15)
    rng = random.Random(15)
    docs = [mixed_document(rng, faker) for _ in range(400)]
    stage = create("pii_v2")
    out = list(stage.run(Document(id=f"m/{i}", text=t) for i, t in enumerate(docs)))
    holding = 0
    for text, doc in zip(docs, out, strict=True):
        full = [s.to_dict() for s in find_pii(text, prefilter=False)]
        assert doc.attributes["pii_spans"] == full, text
        holding += bool(full)
    assert holding > 300  # most documents hold personal data
    counters = stage.stats.counters
    assert counters["chars_analysed"] < sum(map(len, docs))  # and regions were cut


def test_too_small_a_region_changes_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    # The comparison above can fail: a pre-filter whose regions start at the shape loses the
    # context word before it.
    text = "My SSN is 219099999 here."
    key = pii._EngineKey(
        tuple(DEFAULT_ENTITIES), None, "govcat", pii.phone_regions(pii.DEFAULT_JURISDICTIONS)
    )
    good = pii._build_engine(key, "pii_v2")
    shapes = {e: pii_recognizers.SHAPES[e] for e in key.entities}
    local: ProcessLocal = ProcessLocal()
    local.get(key, lambda: pii._Engine(good.analyzer, Prefilter(shapes, before=0, after=10)))
    monkeypatch.setattr(pii, "_ANALYZERS", local)
    assert spans_of(text, prefilter=False) == [("US_SSN", "219099999")]
    assert spans_of(text) == []


def test_documents_without_any_shape_never_reach_presidio() -> None:
    stage = create("pii_v2")
    texts = ["Thanks, that fixed it for me too.", "Joined in March 2019, 12 posts.", "v2.3 ok"]
    out = list(stage.run(Document(id=str(i), text=t) for i, t in enumerate(texts)))
    assert all(doc.attributes["pii_spans"] == [] for doc in out)
    assert stage.stats.counters["regions_analysed"] == 0
    (doc,) = stage.run([Document(id="x", text="Thanks. " * 50 + "Mail a@example.org.")])
    assert stage.stats.counters["regions_analysed"] == 1
    assert 0 < stage.stats.counters["chars_analysed"] < len(doc.text) / 2


def test_every_match_of_a_recognizer_holds_its_shape() -> None:
    # The pre-filter's premise, on what the recognizers found in the mixed set.
    import re

    rng = random.Random(3)
    for _ in range(100):
        text = mixed_document(rng, None)
        for span in find_pii(text, prefilter=False):
            if span.type not in pii_recognizers.SHAPES:
                continue
            first_word = re.match(r"\S+", text[span.start : span.end]).group()  # type: ignore[union-attr]
            shape = "|".join(lead + tail for lead, tail in pii_recognizers.SHAPES[span.type])
            hit = re.compile(shape).search(text, span.start, span.end)
            assert hit is not None and hit.start() < span.start + len(first_word), span


def test_national_validity_agrees_with_libphonenumber() -> None:
    # pii_phones compiles libphonenumber's per-type patterns into one expression per length;
    # it must say what is_valid_number_for_region says.
    import phonenumbers as pn

    from processing import pii_phones

    rng = random.Random(8)
    regions = (*pii.phone_regions(pii.DEFAULT_JURISDICTIONS), "JP", "BR", "MX", "AU", "IN")
    valid = 0
    for code in regions:
        country = pn.country_code_for_region(code)
        examples = [
            pn.national_significant_number(n)
            for n in (pn.example_number_for_type(code, t) for t in (0, 1))
            if n is not None
        ]
        for _ in range(120):
            if examples and rng.random() < 0.4:  # an example with one digit changed
                digits = list(rng.choice(examples))
                digits[rng.randrange(len(digits))] = str(rng.randint(0, 9))
                nsn = "".join(digits)
            else:
                nsn = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(5, 13)))
            zeros = len(nsn) - len(nsn.lstrip("0"))
            number = pn.PhoneNumber(
                country_code=country,
                national_number=int(nsn),
                italian_leading_zero=zeros > 0 or None,
                number_of_leading_zeros=zeros if zeros > 1 else None,
            )
            expected = pn.is_valid_number_for_region(number, code)
            assert pii_phones.national_valid(nsn, code) == expected, (code, nsn)
            valid += expected
    assert valid > 300
