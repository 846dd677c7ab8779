"""A local S3-compatible endpoint for the object-store tests: moto's server on 127.0.0.1.

``s3`` (session-wide) starts :class:`moto.server.ThreadedMotoServer` on a free port and
yields an :class:`S3` with its URL, a boto3 client to look behind skloop's back (list,
tamper, delete), and the fsspec storage options that point s3fs at it. Tests skip when
moto or s3fs is not installed (``pip install 'skloop[dev]'``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3:
    url: str
    client: Any

    @property
    def options(self) -> dict[str, Any]:
        """fsspec storage options for s3fs (``SKLOOP_ARTIFACT_OPTIONS``)."""
        return {"endpoint_url": self.url, "key": "testing", "secret": "testing"}

    def env(self) -> dict[str, str]:
        """What a process needs to reach the endpoint through the AWS variables alone."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def new_bucket(self) -> str:
        name = f"skloop-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        found = self.client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(o["Key"] for o in found)

    def unfinished_uploads(self, bucket: str) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    pytest.importorskip("s3fs", reason="the object-store tests need s3fs (pip install 'skloop[s3]')")
    server_mod = pytest.importorskip("moto.server", reason="the object-store tests need moto[server]")
    import boto3

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        yield S3(url, client)
    finally:
        server.stop()
