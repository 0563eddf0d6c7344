"""Errors a user of the dedup package can cause. All are ValueError, so the CLI edge reports
them in one line:

    DedupError
    ├── DedupParamsError   parameters that do not fit together (bands × rows != num_perm, ...)
    ├── DedupInputError    inputs of different lengths, a bad content hash, a repeated id, ...
    └── DedupIndexError    an index directory that is missing, damaged, or built with other
                           signature parameters
"""

from __future__ import annotations


class DedupError(ValueError):
    """Base of the errors a user of processing.dedup can cause."""


class DedupParamsError(DedupError):
    """Dedup parameters that are out of range or do not fit together."""


class DedupInputError(DedupError):
    """Inputs to signatures, an index or clustering that are inconsistent."""


class DedupIndexError(DedupError):
    """An index directory that cannot be used with these parameters."""
