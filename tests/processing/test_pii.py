"""pii_v1: presidio finds each entity at the right place, offline; overlaps resolve; redaction."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")
pytest.importorskip("presidio_anonymizer")

from processing import pii_offline  # noqa: E402
from processing.stage import ProcessLocal, StageOptionError, create  # noqa: E402
from processing.stages import pii  # noqa: E402
from processing.stages.pii import (  # noqa: E402
    DEFAULT_ENTITIES,
    PiiSpan,
    PiiStage,
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


def test_network_guard_records_attempts(no_network: list[object]) -> None:
    with pytest.raises(OSError):
        socket.getaddrinfo("publicsuffix.org", 443)
    assert no_network == ["publicsuffix.org"]
    no_network.clear()


def test_engine_starts_and_validates_emails_without_network(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh engine, NLP pipeline and suffix-list extractor, all built under the guard.
    monkeypatch.setattr(pii, "_ANALYZERS", ProcessLocal())
    pii_offline.nlp_engine_for.cache_clear()
    pii_offline._tld_extractor.cache_clear()
    text = "Write to jane.roe@example.co.uk today."
    assert spans_of(text) == [("EMAIL_ADDRESS", "jane.roe@example.co.uk")]
    assert no_network == []
    pii_offline._tld_extractor.cache_clear()


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
def test_each_entity_is_found_at_its_place(entity: str, value: str) -> None:
    text = f"Some words first. The value {value} is here.\nThen more words."
    (span,) = find_pii(text)
    start = text.index(value)
    assert (span.type, span.start, span.end) == (entity, start, start + len(value))
    assert pii.DEFAULT_MIN_SCORE <= span.score <= 1.0


def test_plain_text_has_no_pii() -> None:
    assert find_pii("The committee met on Tuesday, 3 May, and agreed on 12 points.") == []


def test_invalid_numbers_are_not_reported() -> None:
    # Fails the Luhn check, a bad IBAN checksum, and an SSN with area 000.
    text = "Card 4111 1111 1111 1112, IBAN DE00 3704 0044 0532 0130 00, SSN 000-12-3456."
    assert [t for t, _ in spans_of(text)] == []


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


def test_phone_number_inside_an_ipv4_address_yields_to_the_address() -> None:
    text = "The host 203.0.113.195 is up."
    assert spans_of(text, entities=["PHONE_NUMBER"]) == [("PHONE_NUMBER", "203.0.113.195")]
    assert spans_of(text) == [("IP_ADDRESS", "203.0.113.195")]


def test_phone_number_on_an_ssn_shaped_string_yields_to_the_ssn() -> None:
    text = "The value 499-65-1034 ends here."
    assert spans_of(text, entities=["PHONE_NUMBER"]) == [("PHONE_NUMBER", "499-65-1034")]
    assert spans_of(text) == [("US_SSN", "499-65-1034")]


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
    stage = create("pii_v1")
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
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(StageOptionError, match=message):
        create("pii_v1", **options)


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
    assert info["ner"] is False and info["ner_model"] is None
    assert info["entities"] == list(DEFAULT_ENTITIES)
    assert info["versions"]["presidio-analyzer"]
    assert "PERSON" not in PiiStage().entities


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

    stage = create("pii_v1", spacy_model=str(model))
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
