"""What the release and report library raises: one tree, all ValueError, one line each.

    ReportsError (ValueError)
    ├── ReleaseDataError     a row or leaf the release format cannot hold (ids out of order,
    │                        a missing field, a NUL in an id, a malformed sha256)
    ├── ManifestError        manifest.json missing, unparsable, or not "govcat-release/1"
    ├── ProofError           an inclusion-proof file unreadable, malformed, or not verifying
    ├── SigningError
    │   ├── KeyFileError     a key file missing, unreadable, already there, or not an EC key
    │   └── SignatureError   a signature missing, unreadable, or not matching the folder
    ├── CardError            a dataset card that cannot be written (existing card unreadable,
    │                        a header value the Hub does not accept)
    └── CroissantError       Croissant metadata missing a field the specification requires

The catalog maps these onto its own typed errors; the message is written for a user and
always names the file or document concerned.
"""

from __future__ import annotations


class ReportsError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ReleaseDataError(ReportsError):
    pass


class ManifestError(ReportsError):
    pass


class ProofError(ReportsError):
    pass


class SigningError(ReportsError):
    pass


class KeyFileError(SigningError):
    pass


class SignatureError(SigningError):
    pass


class CardError(ReportsError):
    pass


class CroissantError(ReportsError):
    pass


__all__ = [
    "CardError",
    "CroissantError",
    "KeyFileError",
    "ManifestError",
    "ProofError",
    "ReleaseDataError",
    "ReportsError",
    "SignatureError",
    "SigningError",
]
