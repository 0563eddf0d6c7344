"""A presidio analyzer that starts and runs without the network.

Out of the box presidio reaches the network twice: `AnalyzerEngine()` asks spaCy to download
`en_core_web_lg` (fetching spaCy's compatibility table first), and its e-mail recognizer calls
`tldextract.extract`, whose default extractor fetches the public-suffix list on first use. Here:

- the NLP engine is a blank English spaCy pipeline (tokenizer only, plus a component that sets
  each token's lemma to its lower-cased text, so presidio's context words such as "phone" or
  "ssn" still raise scores), saved to a temporary folder and loaded through presidio's
  `NlpEngineProvider` like any model on disk; or, when the caller names one, an installed spaCy
  model with NER, never downloaded;
- e-mail domains are checked by a `tldextract.TLDExtract` with no suffix-list URLs, no cache
  folder, and the suffix-list snapshot bundled in the tldextract wheel;
- only the recognizers for the entities asked for are registered (fewer recognizers, faster).

This module imports spaCy and presidio at the top: it is imported only when a PII engine is
built (`processing.stages.pii`), never by the stage registry.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.nlp_engine import NlpEngine, NlpEngineProvider
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from spacy.attrs import LEMMA, LOWER
from spacy.language import Language
from spacy.tokens import Doc

LANGUAGE = "en"
NER_ENTITIES = ("PERSON", "LOCATION")
_LOWER_LEMMA = "govcat_lower_lemma"


class NerModelError(ValueError):
    """The spaCy model named for NER is not installed or has no entity recognizer."""


@Language.component(_LOWER_LEMMA)
def _lower_lemma(doc: Doc) -> Doc:
    # A blank pipeline has no lemmatizer; presidio compares its context words with lemmas.
    # Copied as one array (the lower-case strings are already in the vocabulary): 4x faster
    # than setting `token.lemma_` one token at a time.
    doc.from_array([LEMMA], doc.to_array([LOWER]))
    return doc


@cache
def _tld_extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, checking the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return _tld_extractor()(pattern_text).fqdn != ""


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


PATTERN_RECOGNIZERS: dict[str, Callable[[], EntityRecognizer]] = {
    "EMAIL_ADDRESS": OfflineEmailRecognizer,
    "PHONE_NUMBER": PhoneRecognizer,
    "IP_ADDRESS": IpRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": IbanRecognizer,
    "US_SSN": UsSsnRecognizer,
    UrlWithCredentialsRecognizer.ENTITY: UrlWithCredentialsRecognizer,
    "URL": UrlRecognizer,
}
SUPPORTED_ENTITIES = (*PATTERN_RECOGNIZERS, *NER_ENTITIES)


def _provider_engine(model_path: str) -> NlpEngine:
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": LANGUAGE, "model_name": model_path}],
        }
    )
    engine = provider.create_engine()
    engine.load()
    return engine


def _blank_engine() -> NlpEngine:
    nlp = spacy.blank(LANGUAGE)
    nlp.add_pipe(_LOWER_LEMMA)
    folder = tempfile.mkdtemp(prefix="govcat-spacy-blank-")
    try:
        nlp.to_disk(folder)
        # Loaded into memory: the folder is not needed once the engine is built.
        return _provider_engine(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _resolve_ner_model(model: str) -> str:
    """An installed spaCy package name or a model folder; never a download."""
    if spacy.util.is_package(model) or Path(model).is_dir():
        return model
    raise NerModelError(
        f"spaCy model {model!r} is not installed (no package or folder of that name); "
        "install it, or run the PII stage without NER"
    )


def ner_model_meta(model: str) -> dict[str, Any]:
    """Name, version and pipeline of an installed spaCy model, for the run record."""
    path = Path(_resolve_ner_model(model))
    meta = spacy.util.get_model_meta(path) if path.is_dir() else spacy.util.get_package_meta(model)
    return {
        "name": f"{meta.get('lang', '?')}_{meta.get('name', '?')}",
        "version": meta.get("version"),
        "pipeline": list(meta.get("pipeline", [])),
    }


@cache
def nlp_engine_for(ner_model: str | None) -> NlpEngine:
    """The NLP engine for a spaCy NER model, or the blank one; one per process, shared by the
    analyzers of every entity set (an engine only reads its pipeline)."""
    if ner_model is None:
        return _blank_engine()
    engine = _provider_engine(_resolve_ner_model(ner_model))
    nlp = engine.get_nlp(LANGUAGE)
    if not any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        raise NerModelError(f"spaCy model {ner_model!r} has no component that finds entities")
    return engine


def build_analyzer(entities: Iterable[str], ner_model: str | None = None) -> AnalyzerEngine:
    """An AnalyzerEngine recognizing exactly `entities`, built without touching the network.

    PERSON and LOCATION need `ner_model`, an installed spaCy model whose pipeline assigns
    entities (its `ner`, or an `entity_ruler`).
    """
    wanted = list(dict.fromkeys(entities))
    unknown = [e for e in wanted if e not in SUPPORTED_ENTITIES]
    if unknown:
        raise ValueError(
            f"unsupported PII entity {unknown[0]!r}; supported: {', '.join(SUPPORTED_ENTITIES)}"
        )
    ner_wanted = [e for e in wanted if e in NER_ENTITIES]
    if ner_wanted and ner_model is None:
        raise NerModelError(f"{ner_wanted[0]} needs a spaCy NER model, and none was named")

    nlp_engine = nlp_engine_for(ner_model)

    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for entity in wanted:
        if entity in PATTERN_RECOGNIZERS:
            registry.add_recognizer(PATTERN_RECOGNIZERS[entity]())
    if ner_wanted:
        registry.add_recognizer(
            SpacyRecognizer(supported_language=LANGUAGE, supported_entities=ner_wanted)
        )
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=[LANGUAGE])
