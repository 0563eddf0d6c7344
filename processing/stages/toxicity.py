"""Toxicity / profanity score from a linear classifier whose weights ship inside a PyPI wheel.

The default model is alt-profanity-check's (MIT licence): a TF-IDF vectoriser and a calibrated
linear SVM trained on about 200k human-labelled English strings, shipped in its wheel as two
joblib files. Only those files are loaded (with joblib, pinned with scikit-learn by the
package, so the pickles load with the version that wrote them); the package's own module is
never imported, since it loads the model at import. Of the PyPI classifiers looked at, detoxify
needs torch and downloads its weights at run time, and profanity-check (2019), which
alt-profanity-check continues, is no longer maintained.

Attribute: `toxicity`, the model's probability that the text is offensive, 0..1, over the
whole document (None for an empty one). The model is English; a policy should read it
together with `attr.lang`.

A user can pass another model (`model_path`): a joblib file holding an object with
`predict_proba(list_of_texts)` whose second column is "toxic" — e.g. a scikit-learn
Pipeline of a vectoriser and a classifier. Loading a joblib file runs code from it: pass only
models you trust. Documents are scored a batch at a time (the vectoriser is ~40x faster on a
batch than one by one).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pickle
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from common.atomic import file_sha256, text_sha256
from processing.stage import (
    BatchStage,
    MissingDependencyError,
    ProcessLocal,
    StageError,
    StageOptionError,
    register,
    require,
)
from processing.types import AttributeValue, Document

STAGE_NAME = "toxicity_v1"
DEFAULT_MODEL_NAME = "alt-profanity-check"
DEFAULT_MODEL_LICENCE = "MIT"
_PACKAGE = "alt-profanity-check"
_MODULE = "profanity_check"
_FILES = ("vectorizer.joblib", "model.joblib")


class ToxicityModelError(StageError):
    """The toxicity model is missing or does not score texts."""


@dataclass(frozen=True, slots=True)
class ToxicityModelInfo:
    """What the run record keeps about the model a toxicity stage used."""

    name: str
    version: str
    sha256: str  # of the files' names and hashes, one "name sha256" line each
    licence: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def default_model_dir() -> Path:
    """The data folder of the installed alt-profanity-check, found without importing it."""
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"stage {STAGE_NAME} takes its model from the {_PACKAGE!r} package, which is not "
            f"installed: pip install {_PACKAGE}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [f for f in _FILES if not (folder / f).is_file()]
    if missing:
        raise ToxicityModelError(f"{folder}: {', '.join(missing)} missing from the installed "
                                 f"{_PACKAGE}; reinstall it")
    return folder


@cache
def model_info(path: str | None = None) -> ToxicityModelInfo:
    """Name, version, sha256 and licence of the model at `path` (default: the bundled one)."""
    if path is None:
        folder = default_model_dir()
        files = {f: file_sha256(folder / f) for f in _FILES}
        version = importlib.metadata.version(_PACKAGE)
        name, licence = DEFAULT_MODEL_NAME, DEFAULT_MODEL_LICENCE
    else:
        try:
            files = {Path(path).name: file_sha256(path)}
        except OSError as exc:
            raise ToxicityModelError(f"{path}: cannot read the toxicity model ({exc.strerror})") \
                from None
        name, version, licence = Path(path).name, "user-supplied", "unknown (user-supplied)"
    digest = text_sha256("".join(f"{k} {v}\n" for k, v in sorted(files.items())))
    return ToxicityModelInfo(name=name, version=version, sha256=digest, licence=licence,
                             files=files)


class _Scorer:
    """A vectoriser and a classifier, or one object that takes texts directly."""

    def __init__(self, model: Any, vectorizer: Any = None) -> None:
        if not hasattr(model, "predict_proba"):
            raise ToxicityModelError(
                f"the toxicity model ({type(model).__name__}) has no predict_proba")
        self.model = model
        self.vectorizer = vectorizer

    def scores(self, texts: list[str]) -> list[float]:
        features = self.vectorizer.transform(texts) if self.vectorizer is not None else texts
        probabilities = self.model.predict_proba(features)
        return [float(row[1]) for row in probabilities]


_MODELS: ProcessLocal[str, _Scorer] = ProcessLocal()


def _load(path: str | None) -> _Scorer:
    return _MODELS.get(path or "", lambda: _read_model(path))


def _read_model(path: str | None) -> _Scorer:
    joblib = require("joblib", stage=STAGE_NAME, package=_PACKAGE)
    require("sklearn", stage=STAGE_NAME, package=_PACKAGE)
    if path is None:
        folder = default_model_dir()
        return _Scorer(joblib.load(folder / "model.joblib"),
                       joblib.load(folder / "vectorizer.joblib"))
    try:
        return _Scorer(joblib.load(path))
    except (OSError, EOFError, ValueError, TypeError, AttributeError, ImportError, KeyError,
            IndexError, pickle.UnpicklingError) as exc:
        raise ToxicityModelError(f"{path}: not a joblib toxicity model ({exc})") from None


@register
class ToxicityStage(BatchStage):
    """Probability that a document is offensive, from a linear text classifier."""

    name = STAGE_NAME
    version = "1"
    description = "toxicity score (alt-profanity-check linear SVM, MIT; or a given model)"
    attributes = ("toxicity",)

    def __init__(self, *, model_path: str | None = None, batch_size: int | None = None) -> None:
        super().__init__()
        if model_path is not None and not Path(model_path).is_file():
            raise StageOptionError(f"stage {STAGE_NAME}: model_path {model_path!r} is not a file")
        if batch_size is not None:
            if batch_size < 1:
                raise StageOptionError(f"stage {STAGE_NAME}: batch_size must be >= 1")
            self.batch_size = batch_size
        self.model_path = model_path

    @property
    def model_info(self) -> ToxicityModelInfo:
        return model_info(self.model_path)

    def measure_batch(self, docs: list[Document]) -> list[dict[str, AttributeValue]]:
        texts = [d.text for d in docs]
        scored = [i for i, t in enumerate(texts) if t.strip()]
        out: list[dict[str, AttributeValue]] = [{"toxicity": None} for _ in docs]
        if len(scored) < len(texts):
            self.stats.counters["empty_text"] += len(texts) - len(scored)
        if scored:
            scores = _load(self.model_path).scores([texts[i] for i in scored])
            for i, score in zip(scored, scores, strict=True):
                out[i]["toxicity"] = min(max(score, 0.0), 1.0)
        return out
