"""The stage base, its statistics, and the registry of stages by versioned name.

A stage measures documents and writes attributes; it never drops one: the policy decides,
from the attributes (docs/architecture.md). Stages chain as plain generators, and each keeps
`StageStats` whose counters add up across workers:

    quality = create("quality_v1")
    for doc in quality.run(docs):      # every document comes out, with attributes added
        ...
    total = StageStats.sum(stats_from_every_worker)

A stage subclass sets `name` (its versioned registry name, e.g. "gopher_quality_v1"),
`version`, `attributes` (what it writes) and implements `measure(doc) -> {attribute: value}`.
A `BatchStage` implements `measure_batch(docs)` instead, for measurements that are much
cheaper a batch at a time (a vectoriser, a hashed lookup); documents still come out one by one.
Optional heavy dependencies are imported inside the stage with `require(...)`, so listing
the registry never imports them. The registry is `common.registry.Registry`, the one the
ingest connectors use too.

Exceptions (all ValueError, so the CLI edge can report them in one line):

    StageError
    ├── UnknownStageError        no stage is registered under that name (lists the known ones)
    ├── DuplicateStageError      two different stages claim one name
    ├── StageNameError           a stage name is not `<words>_v<N>`
    ├── StageOptionError         an option given to a stage is unknown
    ├── InvalidDocumentError     a document the stage cannot measure (names the document)
    └── MissingDependencyError   an optional package is not installed (also an ImportError)
"""

from __future__ import annotations

import importlib
import inspect
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from time import perf_counter
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

from common.registry import DuplicateNameError, InvalidNameError, Registry, UnknownNameError
from processing.types import AttributeValue, Document

K = TypeVar("K")
V = TypeVar("V")


class StageError(ValueError):
    """Base of the errors a user of processing stages can cause."""


class UnknownStageError(StageError, UnknownNameError):
    """No stage is registered under that name."""


class DuplicateStageError(StageError, DuplicateNameError):
    """Two different stages claim one name."""


class StageNameError(StageError, InvalidNameError):
    """A stage name that is not versioned (`<words>_v<N>`) or disagrees with its `version`."""


class StageOptionError(StageError):
    """An option given to a stage is unknown."""


class InvalidDocumentError(StageError):
    """A document the stage cannot measure; the stage records it and passes the document on."""

    def __init__(self, doc_id: str, reason: str, detail: str = "") -> None:
        self.doc_id = doc_id
        self.reason = reason
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"document {doc_id!r}: {reason}{suffix}")


class MissingDependencyError(StageError, ImportError):
    """An optional package a stage needs is not installed."""


def require(module: str, *, stage: str, package: str | None = None) -> ModuleType:
    """Import an optional dependency of `stage`, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        wanted = package or module
        raise MissingDependencyError(
            f"stage {stage} needs the {wanted!r} package, which is not installed: "
            f"pip install {wanted}"
        ) from exc


@dataclass(slots=True)
class StageStats:
    """What a stage saw. Every counter is a sum, so stats from workers add up with `merge`.

    `measured[a]` counts documents where attribute `a` has a value, `undefined[a]` those where
    it is None; `true[a]` counts documents where a boolean attribute is True, and `sums[a]`
    adds numeric values (mean = sums[a] / measured[a]). `errors` counts documents the stage
    could not measure, by reason; `counters` holds stage-specific totals (e.g. lines seen).
    """

    stage: str
    docs_in: int = 0
    docs_out: int = 0
    seconds: float = 0.0
    measured: Counter[str] = field(default_factory=Counter)
    undefined: Counter[str] = field(default_factory=Counter)
    true: Counter[str] = field(default_factory=Counter)
    sums: dict[str, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)

    def record(self, values: dict[str, AttributeValue]) -> None:
        sums = self.sums
        for name, value in values.items():
            if value is None:
                self.undefined[name] += 1
                continue
            self.measured[name] += 1
            if value is True:
                self.true[name] += 1
            elif isinstance(value, int | float) and not isinstance(value, bool):
                sums[name] = sums.get(name, 0) + value

    def mean(self, attribute: str) -> float | None:
        n = self.measured[attribute]
        return self.sums.get(attribute, 0) / n if n else None

    def merge(self, other: StageStats) -> StageStats:
        if other.stage != self.stage:
            raise StageError(f"cannot merge stats of stage {other.stage} into {self.stage}")
        sums = dict(self.sums)
        for name, value in other.sums.items():
            sums[name] = sums.get(name, 0) + value
        return StageStats(
            stage=self.stage,
            docs_in=self.docs_in + other.docs_in,
            docs_out=self.docs_out + other.docs_out,
            seconds=self.seconds + other.seconds,
            measured=self.measured + other.measured,
            undefined=self.undefined + other.undefined,
            true=self.true + other.true,
            sums=sums,
            errors=self.errors + other.errors,
            counters=self.counters + other.counters,
        )

    @staticmethod
    def sum(stats: Iterable[StageStats]) -> StageStats:
        items = list(stats)
        if not items:
            raise StageError("no stage stats to add up")
        total = items[0]
        for item in items[1:]:
            total = total.merge(item)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "seconds": self.seconds,
            "measured": dict(self.measured),
            "undefined": dict(self.undefined),
            "true": dict(self.true),
            "sums": dict(self.sums),
            "errors": dict(self.errors),
            "counters": dict(self.counters),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageStats:
        return cls(
            stage=data["stage"],
            docs_in=data["docs_in"],
            docs_out=data["docs_out"],
            seconds=data["seconds"],
            measured=Counter(data["measured"]),
            undefined=Counter(data["undefined"]),
            true=Counter(data["true"]),
            sums=dict(data["sums"]),
            errors=Counter(data["errors"]),
            counters=Counter(data["counters"]),
        )


class ProcessLocal(Generic[K, V]):
    """One value per key per process, built on first use and shared by the process's threads.

    For heavy things a stage loads (models, engines): worker processes build their own on
    first use, never at unpickling.
    """

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        value = self._values.get(key)
        if value is not None:
            return value
        with self._lock:
            value = self._values.get(key)
            if value is None:
                value = self._values[key] = build()
        return value


class Stage(ABC):
    """Measures documents and writes attributes; yields every document it is given."""

    name: ClassVar[str]  # versioned registry name, e.g. "quality_v1"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    attributes: ClassVar[tuple[str, ...]] = ()  # the attributes it writes

    def __init__(self) -> None:
        self.stats = StageStats(stage=self.name)

    @property
    def error_attribute(self) -> str:
        """Where the reason goes when a document cannot be measured."""
        return f"{self.name}_error"

    @abstractmethod
    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        """The attributes of one document. Raise InvalidDocumentError for one it cannot read."""

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        stats = self.stats
        for doc in docs:
            stats.docs_in += 1
            started = perf_counter()
            try:
                values = self.measure(doc)
            except InvalidDocumentError as exc:
                # Passed on, not dropped: the policy sees the error attribute and decides.
                stats.seconds += perf_counter() - started
                stats.errors[exc.reason] += 1
                doc.attributes[self.error_attribute] = str(exc)
            else:
                stats.seconds += perf_counter() - started
                doc.attributes.update(values)
                stats.record(values)
            stats.docs_out += 1
            yield doc


class BatchStage(Stage):
    """A stage that measures documents many at a time (a vectoriser, a hashed lookup).

    Subclasses implement `measure_batch(docs) -> [{attribute: value}, ...]`, one dict per
    document in order; documents still come out one by one and in order, with the same stats
    as `Stage.run` gives. A document whose text is not a string gets the error attribute.
    """

    batch_size: int = 256

    @abstractmethod
    def measure_batch(self, docs: list[Document]) -> list[dict[str, AttributeValue]]:
        """The attributes of each document, in order."""

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if not isinstance(doc.text, str):
            raise InvalidDocumentError(doc.id, "text-not-a-string", type(doc.text).__name__)
        return self.measure_batch([doc])[0]

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        chunk: list[Document] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= self.batch_size:
                yield from self._run_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._run_chunk(chunk)

    def _run_chunk(self, chunk: list[Document]) -> Iterator[Document]:
        stats = self.stats
        started = perf_counter()
        good = [d for d in chunk if isinstance(d.text, str)]
        measured = iter(self.measure_batch(good) if good else [])
        stats.seconds += perf_counter() - started
        for doc in chunk:
            stats.docs_in += 1
            if isinstance(doc.text, str):
                values = next(measured)
                doc.attributes.update(values)
                stats.record(values)
            else:
                # Passed on, not dropped: the policy sees the error attribute and decides.
                exc = InvalidDocumentError(doc.id, "text-not-a-string", type(doc.text).__name__)
                stats.errors[exc.reason] += 1
                doc.attributes[self.error_attribute] = str(exc)
            stats.docs_out += 1
            yield doc


_STAGES: Registry[type[Stage]] = Registry(
    "stage", plugins="processing.stages", unknown=UnknownStageError,
    duplicate=DuplicateStageError, invalid=StageNameError)


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available under its versioned `name`."""
    return _STAGES.register(cls.name, cls, version=cls.version)


def names() -> list[str]:
    return _STAGES.names()


def get(name: str) -> type[Stage]:
    return _STAGES.get(name)


def create(name: str, **options: Any) -> Stage:
    """Build the stage registered under `name`, with keyword options checked by name."""
    cls = get(name)
    accepted = {
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    unknown = sorted(set(options) - accepted)
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        raise StageOptionError(
            f"stage {name}: unknown option {unknown[0]!r}; known options: {known}"
        )
    return cls(**options)
