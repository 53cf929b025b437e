"""Blob storage for evidence: a folder, or an S3-compatible bucket.

Both sit behind the narrow :class:`BlobStore` protocol (put, get, delete,
list), so evidence and retention code never knows which one it talks to.
Keys are ``/``-separated and checked here, once: each part is made of safe
characters only and none is ``.`` or ``..``, so a key can never leave the
folder or the bucket prefix, whatever a caller built it from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from framewarden.config import Settings, get_settings
from framewarden.errors import ConfigError, InputError
from framewarden.fsutil import write_atomic
from framewarden.media.s3 import s3_client

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_key(key: str) -> str:
    """``key`` if every part is safe, else :class:`InputError`."""
    parts = key.split("/")
    if not key or any(not _PART.fullmatch(p) for p in parts):
        raise InputError(repr(key), "not a safe blob key (parts of [A-Za-z0-9._-], no leading dot)")
    return key


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int


class BlobStore(Protocol):
    location: str

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> Iterator[BlobInfo]: ...


class FileBlobStore:
    def __init__(self, root: str | Path, *, tmp_suffix: str = ".tmp") -> None:
        self.root = Path(root)
        self.location = str(self.root)
        self.tmp_suffix = tmp_suffix  # what a write cut short leaves behind (scans clean up ".part")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        write_atomic(self._path(key), data, suffix=self.tmp_suffix)  # readers never see half a file

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield BlobInfo(key, path.stat().st_size)


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self._s3 = client

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._s3.put_object(
            Bucket=self.bucket, Key=self.prefix + check_key(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        obj = self._s3.get_object(Bucket=self.bucket, Key=self.prefix + check_key(key))
        return bytes(obj["Body"].read())

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self.prefix + check_key(key))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        for page in pages:
            for obj in page.get("Contents", []):
                yield BlobInfo(obj["Key"][len(self.prefix) :], int(obj["Size"]))


def open_blob_store(location: str | None = None, settings: Settings | None = None) -> BlobStore:
    """The store at ``location`` (default ``Settings.evidence_location``): a path or s3://bucket/prefix."""
    settings = settings or get_settings()
    where = location or settings.evidence_location
    if where.startswith("s3://"):
        bucket, _, prefix = where[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigError(f"evidence location {where!r}: no bucket name")
        return S3BlobStore(bucket, prefix, client=s3_client(settings))
    if "://" in where:
        raise ConfigError(f"evidence location {where!r}: use a folder path or s3://bucket/prefix")
    return FileBlobStore(Path(where).expanduser())
