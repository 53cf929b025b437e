"""``s3://bucket/key`` sources: checked with boto3, read by FFmpeg over HTTP.

FFmpeg cannot sign S3 requests, but it reads a presigned URL with ranged GETs,
so seeking in a large object costs no full download and no local copy.  The
object is checked first (HEAD), so a missing key or a refused credential gets
a clear one-line error instead of FFmpeg's "Server returned 404".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from framewarden.errors import EmptyInputError, InputError, SourceTimeoutError

if TYPE_CHECKING:
    from framewarden.config import Settings

PRESIGN_EXPIRES_S = 6 * 3600  # long enough to decode a long video
MISSING_CREDENTIALS = (
    "no S3 credentials: set FRAMEWARDEN_S3_ACCESS_KEY_ID and FRAMEWARDEN_S3_SECRET_ACCESS_KEY "
    "(or s3_access_key_id / s3_secret_access_key in framewarden.toml; AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY and ~/.aws/credentials also work)"
)


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str


def parse_s3_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise InputError(url, "not an s3://bucket/key URL")
    return S3Location(parts.netloc, unquote(parts.path.lstrip("/")))


def s3_client(settings: Settings, timeout_s: float = 10.0) -> Any:
    """A boto3 S3 client for the configured endpoint (empty = AWS)."""
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {
        "region_name": settings.s3_region,
        "config": Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": 2},
            signature_version="s3v4",
            s3={"addressing_style": "path"} if settings.s3_endpoint_url else {},
        ),
    }
    if settings.s3_endpoint_url:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_access_key_id:
        kwargs["aws_access_key_id"] = settings.s3_access_key_id
        kwargs["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    return boto3.client("s3", **kwargs)


def presigned_url(url: str, settings: Settings, timeout_s: float = 10.0) -> str:
    """Check that the object exists and is not empty; return a URL FFmpeg can read."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    loc = parse_s3_url(url)
    client = s3_client(settings, timeout_s)
    try:
        head = client.head_object(Bucket=loc.bucket, Key=loc.key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}:
            raise InputError(url, "no such S3 object") from None
        if code in {"403", "AccessDenied", "Forbidden"}:
            raise InputError(url, "access to the S3 object denied") from None
        raise InputError(url, f"S3 error {code}") from None
    except NoCredentialsError:
        raise InputError(url, MISSING_CREDENTIALS) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise SourceTimeoutError(url, f"S3 endpoint did not answer within {timeout_s:g} s") from None
    except BotoCoreError as exc:
        raise InputError(url, f"S3 endpoint unreachable: {exc}") from None
    if int(head.get("ContentLength", 0) or 0) == 0:
        raise EmptyInputError(url, "empty S3 object (0 bytes)")
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": loc.bucket, "Key": loc.key}, ExpiresIn=PRESIGN_EXPIRES_S
        )
    )
