"""Model-based quality: the label probabilities of a fastText supervised classifier.

DCLM (Li et al. 2024) keeps the documents a fastText bigram classifier scores highest for its
`__label__hq`; FineWeb-Edu and others train such classifiers on annotated samples. The user
points the stage at the model file (`model_path`); the run records its name, size and sha256.
No model is shipped: each is trained for a purpose, and their licences vary.

Attributes: `fasttext_labels` (label without the `__label__` prefix -> probability, for the
`k` most probable labels, all of them by default), `fasttext_top` and `fasttext_top_score`
(the most probable label and its probability). A document with no text, or none of whose
words the model knows (fastText then predicts nothing), gets `{}` and None.

The model is loaded with `fasttext.load_model` from the one fastText provider the project
installs (fasttext-predict, which predicts but cannot train), once per process on first use.
Newlines are joined with spaces, as for language identification (processing/stages/langid.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from common.atomic import file_sha256
from processing.stage import (
    InvalidDocumentError,
    ProcessLocal,
    Stage,
    StageError,
    StageOptionError,
    register,
    require,
)
from processing.stages.langid import _fasttext_provider, _one_line
from processing.types import AttributeValue, Document

STAGE_NAME = "fasttext_classifier_v1"
_LABEL_PREFIX = "__label__"


class ClassifierModelError(StageError):
    """The classifier's model file is missing or is not a fastText model."""


@dataclass(frozen=True, slots=True)
class ClassifierModelInfo:
    name: str
    sha256: str
    bytes: int
    licence: str
    provider: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def model_info(path: str, licence: str = "unknown (user-supplied)") -> ClassifierModelInfo:
    file = Path(path)
    try:
        digest = file_sha256(file)
    except OSError as exc:
        raise ClassifierModelError(f"{file}: cannot read the fastText model ({exc.strerror})") \
            from None
    return ClassifierModelInfo(name=file.name, sha256=digest, bytes=file.stat().st_size,
                               licence=licence, provider=_fasttext_provider())


_MODELS: ProcessLocal[str, Any] = ProcessLocal()


def _read_model(path: str) -> Any:
    fasttext = require("fasttext", stage=STAGE_NAME, package="fasttext-predict")
    try:
        return fasttext.load_model(path)
    except ValueError as exc:
        raise ClassifierModelError(f"{path}: not a fastText model ({exc})") from None


@register
class FastTextClassifierStage(Stage):
    """Label probabilities of a user's fastText supervised model (DCLM / FineWeb-Edu style)."""

    name = STAGE_NAME
    version = "1"
    description = "label probabilities of a fastText supervised classifier (model given by path)"
    attributes = ("fasttext_labels", "fasttext_top", "fasttext_top_score")

    def __init__(self, *, model_path: str | None = None, k: int = -1,
                 licence: str = "unknown (user-supplied)") -> None:
        super().__init__()
        if model_path is None:
            raise StageOptionError(f"stage {STAGE_NAME} needs model_path: a fastText "
                                   "supervised model file (.bin or .ftz)")
        if not Path(model_path).is_file():
            raise StageOptionError(f"stage {STAGE_NAME}: model_path {model_path!r} is not a file")
        if k == 0 or k < -1:
            raise StageOptionError(f"stage {STAGE_NAME}: k must be -1 (all labels) or >= 1")
        self.model_path = str(model_path)
        self.k = k
        self.licence = licence

    @property
    def model_info(self) -> ClassifierModelInfo:
        return model_info(self.model_path, self.licence)

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if not isinstance(doc.text, str):
            raise InvalidDocumentError(doc.id, "text-not-a-string", type(doc.text).__name__)
        text = _one_line(doc.text).strip()
        if not text:
            self.stats.counters["empty_text"] += 1
            return {"fasttext_labels": {}, "fasttext_top": None, "fasttext_top_score": None}
        model = _MODELS.get(self.model_path, lambda: _read_model(self.model_path))
        try:
            labels, scores = model.predict(text, k=self.k)
        except TypeError:
            # Lone surrogates (from a lenient decoder upstream) cannot cross into C++.
            self.stats.counters["unencodable_text"] += 1
            labels, scores = model.predict(text.encode("utf-8", "replace").decode("utf-8"),
                                           k=self.k)
        # fastText adds 1e-5 inside its log, so a sure prediction can read 1.00001.
        probs = {label.removeprefix(_LABEL_PREFIX): min(float(score), 1.0)
                 for label, score in zip(labels, scores, strict=True)}
        if not probs:
            self.stats.counters["no_known_word"] += 1
            return {"fasttext_labels": {}, "fasttext_top": None, "fasttext_top_score": None}
        top = labels[0].removeprefix(_LABEL_PREFIX)  # fastText answers most probable first
        return {"fasttext_labels": probs, "fasttext_top": top, "fasttext_top_score": probs[top]}
