import uuid

import pytest

from common.registry import (
    DuplicateNameError,
    InvalidNameError,
    Registry,
    RegistryError,
    UnknownNameError,
    split_version,
)


class Widget:
    def __init__(self, label: str) -> None:
        self.label = label


def widgets(*names: str) -> Registry[Widget]:
    registry: Registry[Widget] = Registry("widget")
    for name in names:
        registry.register(name, Widget(name))
    return registry


@pytest.mark.parametrize("name,parts", [
    ("warc_v1", ("warc", 1)), ("gopher_quality_v12", ("gopher_quality", 12)),
    ("c4_quality_v1", ("c4_quality", 1)), ("quality", None), ("Quality_v1", None),
    ("quality_v", None), ("quality-v1", None), ("_v1", None), ("quality__v1", None),
])
def test_split_version(name, parts):
    assert split_version(name) == parts


def test_register_get_names_items():
    registry = widgets("beta_v1", "alpha_v2", "alpha_v1")
    assert registry.names() == ["alpha_v1", "alpha_v2", "beta_v1"]
    assert [name for name, _ in registry.items()] == registry.names()
    assert registry.get("alpha_v2").label == "alpha_v2"
    assert "beta_v1" in registry and "beta_v2" not in registry
    assert registry.versions("alpha") == ["alpha_v1", "alpha_v2"]


def test_versions_sort_by_number_not_text():
    assert widgets("alpha_v10", "alpha_v2", "alphabet_v1").versions("alpha") == [
        "alpha_v2", "alpha_v10"]


def test_unknown_name_lists_the_known_ones_and_the_versions_of_its_base():
    registry = widgets("quality_v1", "quality_v2", "langid_v1")
    with pytest.raises(UnknownNameError) as info:
        registry.get("quality")
    message = str(info.value)
    assert message.startswith("unknown widget 'quality'; did you mean quality_v1 or quality_v2?")
    assert message.endswith("known widgets: langid_v1, quality_v1, quality_v2")
    with pytest.raises(UnknownNameError, match="did you mean quality_v1"):
        registry.get("qualty_v1")
    with pytest.raises(UnknownNameError, match=r"^unknown widget 'zzz_v1'; known widgets: "):
        registry.get("zzz_v1")
    assert isinstance(info.value, RegistryError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownNameError, match="known widgets: none"):
        widgets().get("a_v1")


def test_the_same_object_twice_is_fine_a_different_one_is_refused():
    registry: Registry[Widget] = Registry("widget")
    one = Widget("one")
    assert registry.register("one_v1", one) is one
    assert registry.register("one_v1", one) is one
    with pytest.raises(DuplicateNameError, match="two widgets claim the name 'one_v1'"):
        registry.register("one_v1", Widget("impostor"))
    assert registry.get("one_v1") is one


def test_equal_objects_are_the_same_registration():
    registry: Registry[tuple[str, int]] = Registry("pair")
    registry.register("pair_v1", ("a", 1))
    registry.register("pair_v1", ("a", 1))
    with pytest.raises(DuplicateNameError):
        registry.register("pair_v1", ("a", 2))


@pytest.mark.parametrize("name", ["quality", "Quality_v1", "quality-v1", "quality_v1.5", ""])
def test_names_must_be_versioned(name):
    with pytest.raises(InvalidNameError, match="is not versioned"):
        widgets().register(name, Widget(name))


def test_a_version_must_agree_with_the_name():
    registry = widgets()
    registry.register("alpha_v2", Widget("a"), version="2")
    with pytest.raises(InvalidNameError, match="says version '1', its name says 2"):
        registry.register("beta_v2", Widget("b"), version="1")


def test_callers_errors_are_raised():
    class NoSuchThing(UnknownNameError):
        pass

    class TakenThing(DuplicateNameError):
        pass

    class BadThing(InvalidNameError):
        pass

    registry: Registry[Widget] = Registry("thing", unknown=NoSuchThing, duplicate=TakenThing,
                                          invalid=BadThing)
    registry.register("a_v1", Widget("a"))
    with pytest.raises(NoSuchThing):
        registry.get("b_v1")
    with pytest.raises(TakenThing):
        registry.register("a_v1", Widget("other"))
    with pytest.raises(BadThing):
        registry.register("a", Widget("a"))


def _plugin_package(tmp_path, monkeypatch, modules: dict[str, str]) -> str:
    package = f"govcat_test_plugins_{uuid.uuid4().hex[:12]}"
    root = tmp_path / package
    (root / "plugins").mkdir(parents=True)
    (root / "__init__.py").write_text(
        "from common.registry import Registry\n"
        f"REGISTRY = Registry('widget', plugins='{package}.plugins')\n", encoding="utf-8")
    (root / "plugins" / "__init__.py").write_text("", encoding="utf-8")
    for name, body in modules.items():
        text = body.replace("PKG", package)
        (root / "plugins" / f"{name}.py").write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_plugins_load_on_the_first_question_and_a_broken_one_is_named(tmp_path, monkeypatch):
    import importlib
    import sys

    package = _plugin_package(tmp_path, monkeypatch, {
        "alpha": "from PKG import REGISTRY\nREGISTRY.register('alpha_v1', 'A')\n",
        "beta": "from PKG import REGISTRY\nREGISTRY.register('beta_v1', 'B')\n",
        "broken": "import govcat_no_such_dependency\n",
    })
    registry = importlib.import_module(package).REGISTRY
    assert f"{package}.plugins.alpha" not in sys.modules  # nothing loaded before it is asked
    assert registry.get("beta_v1") == "B"
    assert registry.names() == ["alpha_v1", "beta_v1"]
    failures = registry.load_failures
    assert list(failures) == [f"{package}.plugins.broken"]
    assert "govcat_no_such_dependency" in failures[f"{package}.plugins.broken"]
    with pytest.raises(UnknownNameError) as info:
        registry.get("gamma_v1")
    assert f"(not loaded: {package}.plugins.broken: " in str(info.value)
    assert "known widgets: alpha_v1, beta_v1" in str(info.value)
