"""A real S3-compatible server for tests (moto in server mode) and the settings that point at it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

BUCKET = "chexgold-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) with an empty bucket; yields its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3_bucket_create(endpoint, BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def s3_env(endpoint: str, var_dir: Path, *, bucket: str = BUCKET) -> dict[str, str]:
    return {
        "CHEXGOLD_STORAGE": "s3", "CHEXGOLD_S3_BUCKET": bucket, "CHEXGOLD_S3_ENDPOINT_URL": endpoint,
        "CHEXGOLD_S3_REGION": "us-east-1", "CHEXGOLD_S3_ACCESS_KEY_ID": "testing",
        "CHEXGOLD_S3_SECRET_ACCESS_KEY": "testing",
        # Only this worker's own directory: nothing below is visible to another process.
        "CHEXGOLD_VAR_DIR": str(var_dir), "CHEXGOLD_MODEL_DIR": str(var_dir / "models"),
        "CHEXGOLD_UPLOAD_DIR": str(var_dir / "uploads"), "CHEXGOLD_MODEL_CACHE_DIR": str(var_dir / "model-cache"),
    }


def s3_storages(endpoint: str, *, bucket: str = BUCKET) -> dict[str, dict[str, object]]:
    options = {"bucket_name": bucket, "endpoint_url": endpoint, "region_name": "us-east-1", "access_key": "testing",
               "secret_key": "testing", "file_overwrite": True}
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "models": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": "models"}},
        "uploads": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": "uploads"}},
    }


def s3_bucket_create(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
