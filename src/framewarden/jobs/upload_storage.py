"""Where uploaded bytes go: streamed to a temporary file, hashed on the way, named by hash.

Nothing is held whole in memory: the API hands chunks as they arrive, the
file grows, SHA-256 is updated per chunk, and the size limit is checked per
chunk.  The finished file is renamed to ``<root>/<hh>/<sha256>`` (never a
name the client chose), so the same bytes are stored once.  An ``s3://``
reference is copied the same way (streamed from the bucket).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framewarden.errors import EmptyInputError, InputError, TooLargeInputError

if TYPE_CHECKING:
    from framewarden.config import Settings


@dataclass(frozen=True, slots=True)
class StoredUpload:
    path: Path
    sha256: str
    size: int


class UploadWriter:
    """One upload being written: ``write(chunk)`` as bytes come, then ``finish()`` or ``abort()``."""

    def __init__(self, root: Path, limit: int, name: str = "upload") -> None:
        self.root = root
        self.limit = limit
        self.name = name
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=root)
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(tmp)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise TooLargeInputError(self.name, f"more than {self.limit} bytes")
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StoredUpload:
        self._file.flush()
        os.fsync(self._file.fileno())  # durable before the video row says it exists
        self._file.close()
        if self.size == 0:
            self._tmp.unlink(missing_ok=True)
            raise EmptyInputError(self.name, "empty upload (0 bytes)")
        digest = self._hash.hexdigest()
        final = self.root / digest[:2] / digest
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            self._tmp.unlink()
        else:
            os.replace(self._tmp, final)
        return StoredUpload(final, digest, self.size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


def copy_from_s3(url: str, root: Path, limit: int, settings: Settings) -> StoredUpload:
    """Stream ``s3://bucket/key`` into the upload store (the endpoint is the operator's)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from framewarden.media.s3 import parse_s3_url, s3_client

    loc = parse_s3_url(url)
    writer = UploadWriter(root, limit, url)
    try:
        body: Any = s3_client(settings).get_object(Bucket=loc.bucket, Key=loc.key)["Body"]
        for chunk in body.iter_chunks(1024 * 1024):
            writer.write(chunk)
    except ClientError as exc:
        writer.abort()
        code = str(exc.response.get("Error", {}).get("Code", ""))
        reason = "no such S3 object" if code in {"404", "NoSuchKey", "NoSuchBucket"} else f"S3 error {code}"
        raise InputError(url, reason) from None
    except BotoCoreError as exc:
        writer.abort()
        raise InputError(url, f"S3 endpoint unreachable: {type(exc).__name__}") from None
    except BaseException:
        writer.abort()
        raise
    return writer.finish()
