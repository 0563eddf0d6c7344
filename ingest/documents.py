"""What makes a document one: its stable id and its size in tokens.

Ids are content-independent (docs/architecture.md, "Documents"): `<source-slug>/<hash of the
native id>`, where the native id is the WARC-Record-ID, `repo@commit:path`, the post id, the
book id...; the same record ingested again gets the same id, so re-ingesting is idempotent.
"""

from __future__ import annotations

import hashlib
import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def document_id(source_slug: str, native_id: str) -> str:
    digest = hashlib.sha256(native_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{source_slug}/{digest}"


def count_tokens(text: str) -> int:
    """Pre-tokenizer tokens: runs of word characters, and each other non-space character.

    A stable, model-free count for sizing; BPE counts of common tokenizers are within ~±30%.
    """
    return sum(1 for _ in _TOKEN.finditer(text))
