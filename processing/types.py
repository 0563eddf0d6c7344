"""What processing stages read and write: plain records, no database, so they run in any worker.

A `Document` carries its text and the attributes stages have measured on it. Stages only add
attributes (`gopher_word_count`, `lang`, ...); a policy decides later what to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AttributeValue = bool | int | float | str | None | list[Any] | dict[str, Any]
"""An attribute is a plain value that Parquet and JSON can hold. `None` means "not defined for
this document" (a ratio over zero words), never "zero"."""


@dataclass(slots=True)
class Document:
    """One document as processing sees it.

    `id` is the catalog's stable document id; `metadata` is what came with the document
    (source, url, ...) and is read, not written, by stages; `attributes` is where stages
    write what they measured, keyed by attribute name.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
