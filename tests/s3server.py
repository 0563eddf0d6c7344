"""A real S3 API on localhost for the object-storage tests: moto in server mode.

`s3_endpoint` (session) starts moto's server on 127.0.0.1 at a free port, points the AWS
variables of this process at it (fake keys, `AWS_ENDPOINT_URL`) and stops it after the
session; `s3_root` gives each test a fresh bucket as an `s3://` data root. Without moto or
s3fs the tests skip — except under CI=true, where they fail: CI installs the dev extra.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.support import free_port, in_ci

_ENV = {
    "AWS_ACCESS_KEY_ID": "govcat-test",
    "AWS_SECRET_ACCESS_KEY": "govcat-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}




@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    try:
        import s3fs
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        message = f"moto[server] and s3fs are needed for the S3 tests ({exc})"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in (*_ENV, "AWS_ENDPOINT_URL")}
    os.environ.update(_ENV, AWS_ENDPOINT_URL=endpoint)
    s3fs.S3FileSystem.clear_instance_cache()  # none made before may keep another endpoint
    try:
        yield endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def s3_root(s3_endpoint) -> str:
    """A fresh bucket on the moto server, as a data root URL with a prefix."""
    import fsspec

    bucket = f"govcat-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3").mkdir(bucket)
    return f"s3://{bucket}/data"
