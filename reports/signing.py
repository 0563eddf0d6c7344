"""Sign and verify a release folder with OpenSSF model-signing, offline, with EC keys.

The signature (`release.sig`, a Sigstore bundle holding an in-toto statement that lists every
file with its sha256) covers every file of the folder except `release.sig` itself and
`reports/`. Those two paths are recorded as `ignore_paths` inside the signed statement, so
`model_signing verify key` skips them too with no option given: reports added after signing
leave the signature valid, while any other added, removed or edited file breaks it
(docs/release-format.md, "Signature").

model-signing accepts EC keys on P-256, P-384 and P-521 only. Keys are loaded and checked
here first, so a wrong key gives one line naming the file instead of the library's error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from common.atomic import atomic_path
from reports.errors import KeyFileError, SignatureError, SigningError
from reports.manifest import REPORTS_DIR, SIGNATURE_NAME, load_manifest

CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}
IGNORED_PATHS = (SIGNATURE_NAME, REPORTS_DIR)
_EC_ONLY = "model-signing accepts EC keys only (P-256, P-384, P-521)"


def _describe(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "an Ed448 key"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return f"a DSA-{key.key_size} key"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    return f"a {type(key).__name__}"


def _check_ec(key: Any, path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or (
            key.curve.name not in CURVES.values()):
        raise KeyFileError(f"{path}: {_EC_ONLY}; this is {_describe(key)}")


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be read ({exc.strerror})") from None


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """The EC private key in a PEM file (unencrypted), or KeyFileError."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    key_path = Path(path)
    data = _read_key_file(key_path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{key_path}: the private key is encrypted; give an unencrypted "
                           "PEM key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = " (this is a public key)" if b"PUBLIC KEY" in data else ""
        raise KeyFileError(f"{key_path}: not a PEM private key{hint} ({exc})") from None
    _check_ec(key, key_path)
    return key


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """The EC public key in a PEM file, or KeyFileError."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    key_path = Path(path)
    data = _read_key_file(key_path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = " (this is a private key)" if b"PRIVATE KEY" in data else ""
        raise KeyFileError(f"{key_path}: not a PEM public key{hint} ({exc})") from None
    _check_ec(key, key_path)
    return key


def _write_key(path: Path, data: bytes, mode: int) -> None:
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def generate_keypair(private_path: str | os.PathLike[str], public_path: str | os.PathLike[str],
                     curve: str = "P-256") -> tuple[Path, Path]:
    """Write a new EC key pair as PEM: the private key readable by its owner only (0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private, public = Path(private_path), Path(public_path)
    if curve not in CURVES:
        raise KeyFileError(f"curve {curve!r} is not one model-signing accepts: "
                           f"{', '.join(CURVES)}")
    for path in (private, public):
        if path.exists():
            raise KeyFileError(f"{path}: already exists; remove it or choose another name")
    if private.resolve() == public.resolve():
        raise KeyFileError(f"{private}: the private and the public key need two files")
    key = ec.generate_private_key(getattr(ec, CURVES[curve].upper())())
    _write_key(private, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)
    _write_key(public, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return private, public


def _hashing_config() -> Any:
    from model_signing import hashing

    return hashing.Config().set_ignored_paths(paths=list(IGNORED_PATHS), ignore_git_paths=True)


def sign_release(release_dir: str | os.PathLike[str],
                 private_key_path: str | os.PathLike[str]) -> Path:
    """Sign every file of the release folder (but release.sig and reports/) into release.sig."""
    folder = Path(release_dir)
    load_manifest(folder)  # only a release folder is signed
    load_private_key(private_key_path)
    signature = folder / SIGNATURE_NAME
    from model_signing import signing

    config = (signing.Config().use_elliptic_key_signer(private_key=Path(private_key_path))
              .set_hashing_config(_hashing_config()))
    try:
        with atomic_path(signature) as tmp:
            config.sign(folder, tmp)
    except Exception as exc:  # the library's own errors become one line
        raise SigningError(f"{folder}: signing failed ({_first_line(exc)})") from None
    return signature


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _mismatch_line(message: str) -> str:
    """model-signing's manifest diff, as one line of file names."""
    parts = []
    # the diff arrives as a list's repr, so its quotes may come backslash-escaped
    changed = re.findall(r"Hash mismatch for \\?'([^'\\]+)\\?'", message)
    if changed:
        parts.append("Hash mismatch for " + ", ".join(changed))
    listed = r" in model \\?'[^']*\\?': ([^\"'\]\\]+)"
    for label, pattern in (("Extra files (not signed)", "Extra files found" + listed),
                           ("Missing files", "Missing files" + listed)):
        found = re.search(pattern, message)
        if found:
            parts.append(f"{label}: {found.group(1).strip()}")
    return "; ".join(parts) if parts else message


def verify_signature(release_dir: str | os.PathLike[str],
                     public_key_path: str | os.PathLike[str],
                     signature_path: str | os.PathLike[str] | None = None) -> Path:
    """Check release.sig against the folder and the public key; raises SignatureError if not."""
    folder = Path(release_dir)
    signature = Path(signature_path) if signature_path is not None else folder / SIGNATURE_NAME
    load_public_key(public_key_path)
    if not signature.is_file():
        raise SignatureError(f"{signature}: no signature file")
    if not folder.is_dir():
        raise SignatureError(f"{folder}: not a folder")
    from model_signing import verifying

    config = verifying.Config().use_elliptic_key_verifier(public_key=Path(public_key_path))
    try:
        config.verify(folder, signature)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("Signature mismatch"):
            raise SignatureError(f"{signature}: {_mismatch_line(message)}") from None
        raise SignatureError(f"{signature}: does not verify with {public_key_path} "
                             f"({_first_line(exc)})") from None
    except Exception as exc:
        raise SignatureError(f"{signature}: does not verify with {public_key_path} "
                             f"({_first_line(exc)})") from None
    return signature


__all__ = [
    "CURVES",
    "IGNORED_PATHS",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "sign_release",
    "verify_signature",
]
