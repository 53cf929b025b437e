"""S3 without credentials says which credentials are missing and how to set them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from framewarden.config import Settings
from framewarden.errors import InputError
from framewarden.media.s3 import presigned_url


def test_missing_credentials_name_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    with socket.socket() as s:  # an endpoint nobody listens on: credentials fail first
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(data_dir=tmp_path, s3_endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(InputError) as info:
        presigned_url("s3://bucket/video.mp4", settings, timeout_s=2)
    message = str(info.value)
    assert message.startswith("s3://bucket/video.mp4: no S3 credentials")
    assert "FRAMEWARDEN_S3_ACCESS_KEY_ID" in message and "FRAMEWARDEN_S3_SECRET_ACCESS_KEY" in message
    assert "unreachable" not in message
