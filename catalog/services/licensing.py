"""A source's documents by concluded licence and by licence class (`govcat license report`).

Concluding a document's licence is ingest's job (ingest/licensing/documents.py); this module
only counts what the index holds.
"""

from __future__ import annotations

from typing import Any


def license_report(session, *, slug: str, taxonomy) -> dict[str, Any]:
    """A source's documents by concluded licence and by licence class, with tokens."""
    from sqlalchemy import func, select

    from catalog.models import Document
    from catalog.repositories import SourceRepository

    source = SourceRepository(session).get(slug)
    lic = func.coalesce(Document.concluded_license, Document.declared_license)
    rows = session.execute(
        select(lic, func.count(), func.coalesce(func.sum(Document.n_tokens), 0))
        .where(Document.source_id == source.id).group_by(lic)).all()
    licences, classes = [], {}
    for expression, docs, tokens in sorted(rows, key=lambda r: -r[1]):
        cls = taxonomy.classify(expression or "LicenseRef-Unknown")
        entry = {"license": expression, "use": cls.use, "attribution": cls.attribution,
                 "share_alike": cls.share_alike, "no_derivatives": cls.no_derivatives,
                 "open": cls.open, "known": cls.known and bool(expression),
                 "documents": int(docs), "tokens": int(tokens)}
        licences.append(entry)
        agg = classes.setdefault(cls.use, {"use": cls.use, "documents": 0, "tokens": 0})
        agg["documents"] += int(docs)
        agg["tokens"] += int(tokens)
    conflicts = session.execute(
        select(func.count()).where(Document.source_id == source.id,
                                   Document.concluded_license.is_not(None),
                                   Document.declared_license.is_not(None),
                                   Document.concluded_license != Document.declared_license)
    ).scalar_one()
    return {"source": slug, "declared": source.declared_license, "licenses": licences,
            "classes": sorted(classes.values(), key=lambda c: -c["documents"]),
            "declared_vs_concluded_differ": int(conflicts)}
