import hashlib

from common.atomic import text_sha256


def test_the_content_hash_is_sha256_of_utf8():
    assert text_sha256("") == hashlib.sha256(b"").hexdigest()
    assert text_sha256("é") == hashlib.sha256("é".encode()).hexdigest()
    assert text_sha256("é") != text_sha256("e")
