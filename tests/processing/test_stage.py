from collections import Counter

import pytest

from common.registry import DuplicateNameError, InvalidNameError, UnknownNameError
from processing import stage as registry
from processing.stage import (
    DuplicateStageError,
    InvalidDocumentError,
    MissingDependencyError,
    Stage,
    StageError,
    StageNameError,
    StageOptionError,
    StageStats,
    UnknownStageError,
    create,
    register,
    require,
)
from processing.types import AttributeValue, Document


class LengthStage(Stage):
    """A stage written for these tests: measures length, refuses texts that say so."""

    name = "test_length_v1"
    attributes = ("length", "has_digit", "first_digit")

    def __init__(self, *, limit: int = 100) -> None:
        super().__init__()
        self.limit = limit

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if doc.text == "unreadable":
            raise InvalidDocumentError(doc.id, "unreadable-text", "the test said so")
        digits = [c for c in doc.text if c.isdigit()]
        return {
            "length": min(len(doc.text), self.limit),
            "has_digit": bool(digits),
            "first_digit": int(digits[0]) if digits else None,
        }


register(LengthStage)


def docs(*texts: str) -> list[Document]:
    return [Document(id=f"d{i}", text=t) for i, t in enumerate(texts)]


def test_run_yields_every_document_in_order_with_attributes_added():
    given = docs("abc", "", "a1b2")
    given[0].attributes["lang"] = "en"
    out = list(LengthStage().run(given))
    assert [d.id for d in out] == ["d0", "d1", "d2"]
    assert out[0].attributes == {"lang": "en", "length": 3, "has_digit": False, "first_digit": None}
    assert out[2].attributes["first_digit"] == 1


def test_run_is_lazy_like_a_generator():
    seen = []

    def source():
        for doc in docs("a", "b"):
            seen.append(doc.id)
            yield doc

    stream = LengthStage().run(source())
    assert seen == []
    next(stream)
    assert seen == ["d0"]


def test_unmeasurable_document_is_passed_on_with_its_error_and_counted():
    stage = LengthStage()
    out = list(stage.run(docs("fine", "unreadable")))
    assert len(out) == 2
    assert out[1].attributes == {
        "test_length_v1_error": "document 'd1': unreadable-text (the test said so)"
    }
    assert stage.stats.errors == Counter({"unreadable-text": 1})
    assert stage.stats.docs_in == stage.stats.docs_out == 2


def test_stats_count_measured_undefined_true_and_sums():
    stage = LengthStage()
    list(stage.run(docs("abc", "7x", "")))
    stats = stage.stats
    assert stats.docs_in == 3
    assert stats.measured["length"] == 3
    assert stats.sums["length"] == 5
    assert stats.mean("length") == pytest.approx(5 / 3)
    assert stats.undefined["first_digit"] == 2
    assert stats.measured["first_digit"] == 1
    assert stats.true["has_digit"] == 1
    assert "has_digit" not in stats.sums  # booleans are counted, not summed
    assert stats.mean("never_written") is None


def test_stats_from_workers_add_up():
    a, b = LengthStage(), LengthStage()
    list(a.run(docs("abc", "1")))
    list(b.run(docs("de", "unreadable")))
    a.stats.counters["lines"] = 4
    b.stats.counters["lines"] = 1
    total = StageStats.sum([a.stats, b.stats])
    assert total.docs_in == 4
    assert total.measured["length"] == 3
    assert total.sums["length"] == 6
    assert total.true["has_digit"] == 1
    assert total.errors["unreadable-text"] == 1
    assert total.counters["lines"] == 5
    assert total.seconds == pytest.approx(a.stats.seconds + b.stats.seconds)


def test_stats_round_trip_through_a_dict():
    stage = LengthStage()
    list(stage.run(docs("abc", "9", "unreadable")))
    again = StageStats.from_dict(stage.stats.to_dict())
    assert again == stage.stats


def test_stats_of_different_stages_do_not_merge():
    with pytest.raises(StageError, match="cannot merge stats of stage other_v1"):
        StageStats("test_length_v1").merge(StageStats("other_v1"))
    with pytest.raises(StageError, match="no stage stats"):
        StageStats.sum([])


def test_registry_creates_stages_by_versioned_name_with_checked_options():
    stage = create("test_length_v1", limit=2)
    assert isinstance(stage, LengthStage)
    assert next(stage.run(docs("abcdef"))).attributes["length"] == 2
    assert "quality_v1" in registry.names()
    assert "test_length_v1" in registry.names()


def test_unknown_stage_lists_the_known_ones():
    with pytest.raises(UnknownStageError) as info:
        registry.get("qualty_v1")
    message = str(info.value)
    assert "unknown stage 'qualty_v1'" in message
    assert "quality_v1" in message and "gopher_quality_v1" in message


def test_an_unversioned_stage_name_gets_its_versions_suggested():
    with pytest.raises(UnknownStageError, match="did you mean quality_v1?") as info:
        registry.get("quality")
    assert isinstance(info.value, UnknownNameError)  # the one registry's error, too


def test_stage_names_are_versioned_and_agree_with_the_version():
    class Unversioned(LengthStage):
        name = "test_unversioned"

    class Disagrees(LengthStage):
        name = "test_disagrees_v2"

    with pytest.raises(StageNameError, match="is not versioned") as info:
        register(Unversioned)
    assert isinstance(info.value, InvalidNameError) and isinstance(info.value, StageError)
    with pytest.raises(StageNameError, match="says version '1', its name says 2"):
        register(Disagrees)
    assert "test_unversioned" not in registry.names()
    assert "test_disagrees_v2" not in registry.names()


def test_unknown_option_lists_the_known_ones():
    with pytest.raises(StageOptionError, match="unknown option 'limt'; known options: limit"):
        create("test_length_v1", limt=3)


def test_two_stages_cannot_claim_one_name():
    class Impostor(LengthStage):
        pass

    with pytest.raises(DuplicateStageError, match="two stages claim the name 'test_length_v1'"):
        register(Impostor)
    assert issubclass(DuplicateStageError, StageError)
    assert issubclass(DuplicateStageError, DuplicateNameError)
    assert registry.get("test_length_v1") is LengthStage
    assert register(LengthStage) is LengthStage  # registering the same class again is fine


def test_missing_optional_dependency_says_what_to_install():
    with pytest.raises(MissingDependencyError) as info:
        require("govcat_no_such_module", stage="pii_v1", package="govcat-no-such-package")
    assert "stage pii_v1 needs" in str(info.value)
    assert "pip install govcat-no-such-package" in str(info.value)
    assert isinstance(info.value, ImportError) and isinstance(info.value, ValueError)
    assert require("json", stage="x_v1").dumps([1]) == "[1]"
