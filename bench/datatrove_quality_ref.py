"""Run datatrove's four quality filters on a JSONL corpus: the reference for our quality stage.

Runs inside bench/.venv-datatrove (see bench/datatrove_env.sh), never in the project venv.

    python datatrove_quality_ref.py IN.jsonl OUT.jsonl

IN holds {"id", "text"} per line. OUT gets, per document, {"id", "<filter>": "pass" | reason}
for gopher_quality, gopher_repetition, c4_quality and fineweb_quality. A summary with the time
spent inside each filter (CPU seconds of this process, steadier than wall time on a
shared machine) goes to stdout as one JSON object.
"""

from __future__ import annotations

import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)


def outcome(result: bool | tuple[bool, str]) -> str:
    if isinstance(result, tuple):
        kept, reason = result
        return "pass" if kept else reason
    return "pass" if result else "fail"


def main(src: str, dst: str) -> None:
    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4_quality": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }
    with open(src, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]

    # Load the tokenizer (spaCy) before timing, as a long-running pipeline would have.
    warm = Document(text="Warm up the tokenizer. It loads once.", id="warm-up")
    for flt in filters.values():
        flt.filter(Document(text=warm.text, id=warm.id))

    seconds = dict.fromkeys(filters, 0.0)
    rows = []
    for record in records:
        row = {"id": record["id"]}
        # Filters run one after another on the same document, as in a datatrove pipeline
        # (so its per-text tokenizer cache helps it), each on a fresh copy because the C4
        # filter rewrites the text it keeps.
        for name, flt in filters.items():
            doc = Document(text=record["text"], id=record["id"])
            started = time.process_time()
            result = flt.filter(doc)
            seconds[name] += time.process_time() - started
            row[name] = outcome(result)
        rows.append(row)

    with open(dst, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    json.dump({"docs": len(records), "seconds": seconds}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
