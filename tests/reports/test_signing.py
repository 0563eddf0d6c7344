import json
import stat
import subprocess
import sys
from base64 import b64decode
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from reports.errors import KeyFileError, ManifestError, SignatureError
from reports.signing import (
    generate_keypair,
    load_private_key,
    sign_release,
    verify_signature,
)
from reports.verify import verify_release
from tests.reports.release_corpus import cut_release, make_rows

MODEL_SIGNING = Path(sys.executable).with_name("model_signing")


@pytest.fixture
def keys(tmp_path):
    return generate_keypair(tmp_path / "keys" / "ec.pem", tmp_path / "keys" / "ec.pub")


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "demo" / "1.0.0"
    cut_release(folder, make_rows(30), shard_bytes=2000)
    return folder


def _cli_verify(folder, public, *extra):
    return subprocess.run(
        [str(MODEL_SIGNING), "verify", "key", "--public_key", str(public), "--signature",
         str(folder / "release.sig"), *extra, str(folder)],
        capture_output=True, text=True, timeout=120)


def _write_private(path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def test_generate_keypair_writes_a_private_key_only_its_owner_reads(tmp_path, keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(private)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    loaded = serialization.load_pem_public_key(public.read_bytes())
    assert loaded.public_numbers() == key.public_key().public_numbers()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(private, tmp_path / "other.pub")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path / "other.pem", public)
    assert not (tmp_path / "other.pem").exists()
    with pytest.raises(KeyFileError, match="P-256, P-384, P-521"):
        generate_keypair(tmp_path / "a.pem", tmp_path / "a.pub", curve="P-192")
    p384, _ = generate_keypair(tmp_path / "b.pem", tmp_path / "b.pub", curve="P-384")
    assert load_private_key(p384).curve.name == "secp384r1"


def test_sign_then_verify_with_the_api_and_the_model_signing_command(release, keys):
    private, public = keys
    signature = sign_release(release, private)
    assert signature == release / "release.sig"
    verify_signature(release, public)
    assert _cli_verify(release, public).returncode == 0
    assert verify_release(release).ok  # the signature is not an extra file

    bundle = json.loads(signature.read_text())
    statement = json.loads(b64decode(bundle["dsseEnvelope"]["payload"]))
    signed = sorted(r["name"] for r in statement["predicate"]["resources"])
    files = json.loads((release / "manifest.json").read_text())["files"]
    assert signed == sorted(["manifest.json", *(f["path"] for f in files)])
    ignored = statement["predicate"]["serialization"]["ignore_paths"]
    assert "release.sig" in ignored and "reports" in ignored


def test_reports_added_after_signing_keep_the_signature_valid(release, keys):
    private, public = keys
    sign_release(release, private)
    (release / "reports").mkdir()
    (release / "reports" / "datasheet.md").write_text("# Datasheet\n")
    verify_signature(release, public)
    result = _cli_verify(release, public)
    assert result.returncode == 0, result.stderr


def test_an_edited_shard_fails_with_its_name(release, keys):
    private, public = keys
    sign_release(release, private)
    shard = release / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(SignatureError) as err:
        verify_signature(release, public)
    assert str(err.value) == f"{release / 'release.sig'}: Hash mismatch for " \
                             "data/part-00000.parquet"
    result = _cli_verify(release, public)
    assert result.returncode != 0 and "Hash mismatch" in result.stderr


def test_an_added_or_removed_file_fails(release, keys):
    private, public = keys
    sign_release(release, private)
    (release / "smuggled.parquet").write_bytes(b"x")
    with pytest.raises(SignatureError, match="Extra files \\(not signed\\): smuggled.parquet"):
        verify_signature(release, public)
    (release / "smuggled.parquet").unlink()
    (release / "excluded.parquet").unlink()
    with pytest.raises(SignatureError, match="Missing files: excluded.parquet"):
        verify_signature(release, public)


def test_another_key_does_not_verify(release, keys, tmp_path):
    sign_release(release, keys[0])
    _, other = generate_keypair(tmp_path / "o.pem", tmp_path / "o.pub")
    with pytest.raises(SignatureError, match="does not verify with") as err:
        verify_signature(release, other)
    assert "\n" not in str(err.value)


def test_non_ec_keys_get_one_line(release, tmp_path):
    ed = _write_private(tmp_path / "ed.pem", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyFileError) as err:
        sign_release(release, ed)
    assert str(err.value) == (f"{ed}: model-signing accepts EC keys only (P-256, P-384, P-521);"
                              " this is an Ed25519 key")
    assert not (release / "release.sig").exists()
    rsa_key = _write_private(tmp_path / "rsa.pem", rsa.generate_private_key(65537, 2048))
    with pytest.raises(KeyFileError, match="this is an RSA-2048 key"):
        sign_release(release, rsa_key)
    k1 = _write_private(tmp_path / "k1.pem", ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(KeyFileError, match="this is an EC key on secp256k1"):
        sign_release(release, k1)
    ed_pub = tmp_path / "ed.pub"
    ed_pub.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (release / "release.sig").write_text("{}")
    with pytest.raises(KeyFileError, match="this is an Ed25519 key"):
        verify_signature(release, ed_pub)


def test_unusable_inputs_are_named(release, keys, tmp_path):
    private, public = keys
    with pytest.raises(KeyFileError, match="no such key file"):
        sign_release(release, tmp_path / "nope.pem")
    with pytest.raises(KeyFileError, match="not a PEM private key \\(this is a public key\\)"):
        sign_release(release, public)
    with pytest.raises(ManifestError, match="no manifest"):
        sign_release(tmp_path / "keys", private)
    with pytest.raises(SignatureError, match="no signature file"):
        verify_signature(release, public)
    (release / "release.sig").write_text("not a bundle")
    with pytest.raises(SignatureError, match="does not verify") as err:
        verify_signature(release, public)
    assert "\n" not in str(err.value)
