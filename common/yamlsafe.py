"""YAML that users hand us (source registries, policies): PyYAML's safe loader, bounded.

The safe loader builds no objects from tags, but it keeps YAML's aliases: a 400-byte "billion
laughs" file nests lists of aliases nine deep and stands for hundreds of millions of values,
which anything that walks or prints the result then goes through one by one. `SafeLoader`
counts the nodes each alias stands for and refuses a document whose aliases add more than
`MAX_ALIAS_NODES` of them (a few anchors reused across a registry stay far below), an alias
inside the node it names (a value that contains itself), and nesting deeper than `MAX_DEPTH`
(PyYAML composes recursively and would end in a RecursionError).

Its refusals are `yaml.MarkedYAMLError`s with the line, so code that composes nodes itself
(the policy loader) reports them like any YAML error; `load` turns every YAML error into
`YamlError`.

Exception tree::

    ValueError
    └── YamlError      not YAML, or over a bound; `line` (1-based) when known
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "SafeLoader", "YamlError", "load"]

MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 100


class YamlError(ValueError):
    """The text is not YAML, or exceeds one of this module's bounds."""

    def __init__(self, problem: str, line: int | None = None):
        self.problem = problem
        self.line = line
        super().__init__(f"line {line}: {problem}" if line else problem)


class SafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` with aliases and depth bounded (see the module docstring)."""

    max_alias_nodes = MAX_ALIAS_NODES
    max_depth = MAX_DEPTH

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0
        self._composed = 0  # nodes so far, an alias counting as every node it stands for
        self._through_aliases = 0
        self._anchor_sizes: dict[str, int | None] = {}  # None while the node is composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._anchor_sizes:  # an unknown one is PyYAML's own error
                size = self._anchor_sizes[event.anchor]
                if size is None:
                    raise ComposerError(None, None, f"alias *{event.anchor} is inside the node "
                                        "it names", event.start_mark)
                self._composed += size
                self._through_aliases += size
                if self._through_aliases > self.max_alias_nodes:
                    raise ComposerError(None, None, "aliases stand for more than "
                                        f"{self.max_alias_nodes:,} values; write them out",
                                        event.start_mark)
            return super().compose_node(parent, index)
        if self._depth >= self.max_depth:
            raise ComposerError(None, None, f"nested deeper than {self.max_depth} levels",
                                event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor not in self.anchors:
            self._anchor_sizes[anchor] = None
        before = self._composed
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._composed += 1
        if anchor is not None:
            self._anchor_sizes[anchor] = self._composed - before
        return node

    def compose_document(self) -> Any:
        node = super().compose_document()
        self._anchor_sizes = {}  # anchors are per document, as in PyYAML
        return node


def load(text: str) -> Any:
    """The one YAML document in `text`, as plain Python values; raises YamlError."""
    loader = None
    try:
        loader = SafeLoader(text)  # the reader checks the characters here already
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not YAML"
        raise YamlError(problem, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "not YAML") from None
    finally:
        if loader is not None:
            loader.dispose()
