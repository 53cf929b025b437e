"""Blob stores: the same behaviour from a folder and from a real local S3 server (moto)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from framewarden.config import Settings
from framewarden.errors import ConfigError, InputError
from framewarden.store.blobs import BlobStore, FileBlobStore, S3BlobStore, check_key, open_blob_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_settings() -> Iterator[Settings]:
    """A real S3-compatible server on loopback, and settings pointing at it."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    settings = Settings(
        s3_endpoint_url=f"http://127.0.0.1:{port}", s3_access_key_id="test", s3_secret_access_key="test"
    )
    boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket="evidence")
    yield settings
    server.stop()


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        return open_blob_store(str(tmp_path / "blobs"))
    settings = request.getfixturevalue("s3_settings")
    return open_blob_store(f"s3://evidence/{tmp_path.name}/ev", settings)


def test_put_get_list_delete(store: BlobStore) -> None:
    assert list(store.list()) == []
    store.put("a/b/one.jpg", b"\xff\xd8jpeg", "image/jpeg")
    store.put("a/two.json", b"{}")
    assert store.get("a/b/one.jpg") == b"\xff\xd8jpeg"
    assert [(i.key, i.size) for i in store.list()] == [("a/b/one.jpg", 6), ("a/two.json", 2)]
    assert [i.key for i in store.list("a/b/")] == ["a/b/one.jpg"]
    store.delete("a/b/one.jpg")
    store.delete("a/b/one.jpg")  # deleting twice is fine
    assert [i.key for i in store.list()] == ["a/two.json"]


@pytest.mark.parametrize(
    "key", ["", "../x", "a/../../x", "/abs", "a//b", ".hidden", "a/b c", "a\\b", "a/./b"]
)
def test_unsafe_keys_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InputError, match="not a safe blob key"):
        store.put(key, b"x")


def test_check_key_accepts_ordinary_keys() -> None:
    assert check_key("flagged/cam-1/2024-01-02/010203-000000-abcd.jpg")


def test_location_selection(tmp_path: Path, s3_settings: Settings) -> None:
    assert isinstance(open_blob_store(str(tmp_path)), FileBlobStore)
    s3 = open_blob_store("s3://evidence/some/prefix", s3_settings)
    assert isinstance(s3, S3BlobStore) and s3.location == "s3://evidence/some/prefix/"
    default = open_blob_store(settings=Settings(data_dir=tmp_path))
    assert default.location == str(tmp_path / "evidence")


@pytest.mark.parametrize("location", ["s3://", "ftp://host/x"])
def test_bad_locations(location: str) -> None:
    with pytest.raises(ConfigError, match="evidence location"):
        open_blob_store(location, Settings())


def test_file_put_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write cut short (disk full at fsync) keeps the old blob whole and leaves no temp file."""
    import os

    from framewarden.store.blobs import FileBlobStore

    store = FileBlobStore(tmp_path)
    store.put("a/b.jpg", b"old")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        store.put("a/b.jpg", b"new" * 1000)
    assert store.get("a/b.jpg") == b"old"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.jpg"]
