"""The bounded YAML loader: aliases, self-reference and depth refused, ordinary YAML kept."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from common.yamlsafe import MAX_ALIAS_NODES, YamlError, load


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic 'billion laughs': each level a list of `width` aliases of the one before."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"a: &a [{','.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands():
    text = alias_bomb()
    assert len(text) < 400  # 9**9 = 387M values, once expanded
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(YamlError) as caught:
            load(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 5 * 1024 * 1024
    assert f"more than {MAX_ALIAS_NODES:,} values" in str(caught.value)
    assert caught.value.line == 6  # 9**6 values: the first level over the budget
    assert "lol" not in str(caught.value)


def test_anchors_and_merge_keys_within_the_budget_load():
    text = ("defaults: &d {kind: books, license: MIT}\n"
            "sources:\n"
            "  - {<<: *d, slug: a}\n"
            "  - {<<: *d, slug: b, license: CC0-1.0}\n"
            "  - &c {slug: c, kind: code}\n"
            "  - *c\n")
    data = load(text)
    assert data["sources"][0] == {"kind": "books", "license": "MIT", "slug": "a"}
    assert data["sources"][1]["license"] == "CC0-1.0"
    assert data["sources"][3] == {"slug": "c", "kind": "code"}
    # The same width of aliases, one level less deep than the bomb, stays under the budget.
    assert len(load(alias_bomb(levels=5, width=9))["e"]) == 9


def test_a_value_that_contains_itself_is_refused():
    with pytest.raises(YamlError, match=r"alias \*x is inside the node it names") as caught:
        load("a: &x [1, {b: *x}]\n")
    assert caught.value.line == 1


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(YamlError, match="nested deeper than 100 levels"):
        load("[" * 5000 + "]" * 5000)
    assert load("[" * 50 + "1" + "]" * 50) is not None


def test_errors_are_one_line_with_the_line_number():
    with pytest.raises(YamlError) as caught:
        load("sources:\n  - {slug: a, kind: code\n")
    assert caught.value.line == 3 and "\n" not in str(caught.value)
    with pytest.raises(YamlError, match="unacceptable character"):
        load("a: \x07\n")
    with pytest.raises(YamlError, match="expected a single document"):
        load("a: 1\n---\nb: 2\n")
    with pytest.raises(YamlError):
        load("!!python/object:os.system {}\n")  # the safe loader builds no objects
    assert isinstance(YamlError("x"), ValueError)


def test_anchors_do_not_leak_between_documents_of_one_loader():
    from common.yamlsafe import SafeLoader

    loader = SafeLoader("a: &x [1, 2]\n---\nb: *x\n")
    try:
        assert loader.get_data() == {"a": [1, 2]}
        with pytest.raises(Exception, match="undefined alias"):
            loader.get_data()
    finally:
        loader.dispose()
