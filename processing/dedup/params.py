"""Dedup parameters: one frozen dataclass, FineWeb's values by default.

FineWeb (Penedo et al. 2024) deduplicates with 5-word shingles and 112 MinHash permutations
split into 14 bands of 8 rows, which makes two documents likely candidates above a Jaccard
similarity of about (1/14)^(1/8) ≈ 0.72. Signatures use datasketch's default permutation
scheme (`affine32`: sha1 → 32 bits, MurmurHash3 finaliser, `a·h + b mod 2^32`), so they are
the values `datasketch.MinHash(num_perm, seed)` computes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from processing.dedup.errors import DedupParamsError

SCHEME = "affine32"
"""datasketch's permutation scheme (its default since 2.0); signatures are uint32."""

NORMALISATION = "govcat-norm-1"
"""Version of the text normalisation in `processing.dedup.shingles`; it is part of what makes
two signatures comparable, so an index records it."""


@dataclass(frozen=True, slots=True)
class DedupParams:
    """How documents are shingled, signed and banded.

    `chunk_shingles` is how many shingle hashes are multiplied by every permutation at once
    (chunk × num_perm × 4 bytes, best when it fits in cache); it changes no result.
    """

    shingle_words: int = 5
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    seed: int = 1
    chunk_shingles: int = 4096

    def __post_init__(self) -> None:
        for name in ("shingle_words", "num_perm", "bands", "rows", "chunk_shingles"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DedupParamsError(
                    f"dedup parameter {name} must be a positive integer, got {value!r}"
                )
        if self.bands * self.rows != self.num_perm:
            raise DedupParamsError(
                f"dedup parameters: bands × rows must equal num_perm, got "
                f"{self.bands} × {self.rows} = {self.bands * self.rows} != {self.num_perm}"
            )
        if self.bands < 2:
            raise DedupParamsError(f"dedup parameter bands must be at least 2, got {self.bands}")
        # numpy's RandomState, which draws datasketch's permutations, takes seeds in [0, 2^32).
        if (
            not isinstance(self.seed, int)
            or isinstance(self.seed, bool)
            or not 0 <= self.seed < 2**32
        ):
            raise DedupParamsError(f"dedup parameter seed must be in [0, 2^32), got {self.seed!r}")

    @property
    def threshold(self) -> float:
        """Jaccard similarity at which two documents become LSH candidates with probability ~½."""
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def signature_key(self) -> dict[str, Any]:
        """What two signatures must share to be comparable (banding may differ)."""
        return {
            "shingle_words": self.shingle_words,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "scheme": SCHEME,
            "normalisation": NORMALISATION,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DedupParams:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DedupParamsError(
                f"unknown dedup parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)
