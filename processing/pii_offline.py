"""A presidio analyzer that starts and runs without the network.

Out of the box presidio reaches the network twice: `AnalyzerEngine()` asks spaCy to download
`en_core_web_lg` (fetching spaCy's compatibility table first), and its e-mail recognizer calls
`tldextract.extract`, whose default extractor fetches the public-suffix list on first use. Here:

- the NLP engine of presidio's own recognizers (pii_v1) is a blank English spaCy pipeline
  (tokenizer only, plus a component that sets each token's lemma to its lower-cased text, so
  presidio's context words such as "phone" or "ssn" still raise scores), saved to a temporary
  folder and loaded through presidio's `NlpEngineProvider` like any model on disk; or, when
  the caller names one, an installed spaCy model with NER, never downloaded. govcat's
  recognizers (pii_v2) without NER need no pipeline at all (`NoNlpEngine`): their context
  rule reads the text;
- e-mail domains are checked by a `tldextract.TLDExtract` with no suffix-list URLs, no cache
  folder, and the suffix-list snapshot bundled in the tldextract wheel
  (`processing.pii_recognizers.OfflineEmailRecognizer`);
- only the recognizers for the entities asked for are registered (fewer recognizers, faster):
  presidio's own, or govcat's (`govcat_recognizers`).

This module imports spaCy and presidio at the top: it is imported only when a PII engine is
built (`processing.stages.pii`), never by the stage registry.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NlpEngineProvider
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
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

from processing.pii_banking import CardRecognizer, GroupedIbanRecognizer
from processing.pii_phones import JurisdictionPhoneRecognizer
from processing.pii_recognizers import (
    DottedAwareIpRecognizer,
    OfflineEmailRecognizer,
    SsnRecognizer,
    UrlWithCredentialsRecognizer,
    WindowContext,
)

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


# presidio's own pattern recognizers (the pii_v1 stage, and the baseline of the benches).
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
RECOGNIZER_SETS = ("presidio", "govcat")


def govcat_recognizers(regions: Sequence[str]) -> dict[str, Callable[[], EntityRecognizer]]:
    """Entity -> a factory of its pii_v2 recognizer; national phone formats of `regions`."""
    return {
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": lambda: JurisdictionPhoneRecognizer(regions),
        "IP_ADDRESS": DottedAwareIpRecognizer,
        "CREDIT_CARD": CardRecognizer,
        "IBAN_CODE": GroupedIbanRecognizer,
        "US_SSN": SsnRecognizer,
        UrlWithCredentialsRecognizer.ENTITY: UrlWithCredentialsRecognizer,
    }


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


class NoNlpEngine(NlpEngine):
    """An NLP engine that runs no pipeline: govcat's pattern recognizers read only the text,
    and its context rule (`processing.pii_recognizers.WindowContext`) tokenizes the few
    words before a match itself."""

    def load(self) -> None:
        pass

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return NlpArtifacts(
            entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=None,
            language=language,
        )

    def process_batch(self, texts: Iterable[str], language: str, **kwargs: Any) -> Any:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return False

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


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


def build_analyzer(
    entities: Iterable[str],
    ner_model: str | None = None,
    *,
    recognizers: str = "presidio",
    phone_regions: Sequence[str] = (),
) -> AnalyzerEngine:
    """An AnalyzerEngine recognizing exactly `entities`, built without touching the network.

    `recognizers` is "presidio" (its own pattern recognizers and context rule, as pii_v1 runs
    them) or "govcat" (those of `processing.pii_recognizers`, national phone numbers of
    `phone_regions`, context in a window of tokens). PERSON and LOCATION need `ner_model`, an
    installed spaCy model whose pipeline assigns entities (its `ner`, or an `entity_ruler`).
    """
    if recognizers not in RECOGNIZER_SETS:
        raise ValueError(f"recognizers {recognizers!r}: one of {', '.join(RECOGNIZER_SETS)}")
    wanted = list(dict.fromkeys(entities))
    unknown = [e for e in wanted if e not in SUPPORTED_ENTITIES]
    if unknown:
        raise ValueError(
            f"unsupported PII entity {unknown[0]!r}; supported: {', '.join(SUPPORTED_ENTITIES)}"
        )
    ner_wanted = [e for e in wanted if e in NER_ENTITIES]
    if ner_wanted and ner_model is None:
        raise NerModelError(f"{ner_wanted[0]} needs a spaCy NER model, and none was named")

    govcat = recognizers == "govcat"
    if govcat and ner_model is None:
        nlp_engine: NlpEngine = NoNlpEngine()
    else:
        nlp_engine = nlp_engine_for(ner_model)

    factories = dict(PATTERN_RECOGNIZERS)
    if govcat:
        factories.update(govcat_recognizers(phone_regions))
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for entity in wanted:
        if entity in factories:
            registry.add_recognizer(factories[entity]())
    if ner_wanted:
        registry.add_recognizer(
            SpacyRecognizer(supported_language=LANGUAGE, supported_entities=ner_wanted)
        )
    return AnalyzerEngine(
        nlp_engine=nlp_engine,
        registry=registry,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=WindowContext() if govcat else None,
    )
