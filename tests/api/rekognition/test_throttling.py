"""Overload and rate limits answer the codes boto3's retry handler treats as throttling.

A real uvicorn server in a thread (the app of a real runtime) and boto3's
real client in ``standard`` retry mode: the client must retry these errors
(``RetryAttempts``) and finally raise ``ClientError`` with the same code.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from framewarden.api import rekognition
from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.store import keys as keys_repo
from tests.e2e.harness import free_port


def _serve(runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _client(runtime: Runtime, url: str) -> Any:
    with runtime.db.begin() as session:
        _, key_id, secret = keys_repo.create_aws_key(
            session, name="t", role="ingest", master=keys_repo.load_key_master(runtime.settings)
        )
    return boto3.client(
        "rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_id,
        aws_secret_access_key=secret, config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )  # fmt: skip


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue()


def test_rate_limit_is_provisioned_throughput_exceeded_and_retried(runtime: Runtime) -> None:
    for url in _serve(runtime):
        rek = _client(runtime, url)
        with pytest.raises(ClientError) as exc:
            rek.detect_moderation_labels(Image={"Bytes": b"not an image"})
        assert exc.value.response["Error"]["Code"] == "InvalidImageFormatException"
        assert exc.value.response["ResponseMetadata"]["RetryAttempts"] == 0  # a client error: no retry
        for _ in range(runtime.settings.image_rate_limit_per_minute - 1):
            rek.detect_moderation_labels(Image={"Bytes": _jpeg()})
        with pytest.raises(ClientError) as exc:
            rek.detect_moderation_labels(Image={"Bytes": _jpeg()})
        response = exc.value.response
        assert response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["ResponseMetadata"]["RetryAttempts"] >= 2  # boto3 retried it as throttling


def test_overload_is_throttling_and_retried(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rekognition, "MAX_CONCURRENT", 0)  # every call finds the server full
    for url in _serve(runtime):
        with pytest.raises(ClientError) as exc:
            _client(runtime, url).detect_moderation_labels(Image={"Bytes": _jpeg()})
        response = exc.value.response
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ThrottlingException",
            500,
        )
        assert response["ResponseMetadata"]["RetryAttempts"] >= 2
