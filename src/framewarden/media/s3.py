"""``s3://bucket/key`` sources: checked with boto3, read by FFmpeg over HTTP.

FFmpeg cannot sign S3 requests, but it reads a presigned URL with ranged GETs,
so seeking in a large object costs no full download and no local copy.  The
object is checked first (HEAD), so a missing key or a refused credential gets
a clear one-line error instead of FFmpeg's "Server returned 404".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

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
    version: str = ""  # one version of the object (``?versionId=``); empty = the latest


def parse_s3_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise InputError(url, "not an s3://bucket/key URL")
    version = parse_qs(parts.query).get("versionId", [""])[0]
    return S3Location(parts.netloc, unquote(parts.path.lstrip("/")), version)


def s3_url(bucket: str, key: str, version: str = "") -> str:
    """The ``s3://`` URL of an object (of one version of it) that :func:`parse_s3_url` reads back."""
    return f"s3://{bucket}/{quote(key)}" + (f"?versionId={quote(version, safe='')}" if version else "")


def s3_client(settings: Settings, timeout_s: float | None = None) -> Any:
    """The package's one S3 client factory: endpoint, region, keys and timeouts from settings.

    Every part that talks to the S3-compatible store (sources, evidence, the
    Rekognition endpoint's ``S3Object``, the bucket watcher) builds its client
    here, so MinIO / Ceph / AWS S3 are configured once.
    """
    import boto3
    from botocore.config import Config

    timeout = settings.s3_timeout_s if timeout_s is None else timeout_s
    kwargs: dict[str, Any] = {
        "region_name": settings.s3_region,
        "config": Config(
            connect_timeout=timeout,
            read_timeout=timeout,
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


def s3_error(url: str, exc: Exception, timeout_s: float) -> InputError:
    """One typed error for what boto3 raises about an object."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, NoCredentialsError, ReadTimeoutError

    if isinstance(exc, NoCredentialsError):
        return InputError(url, MISSING_CREDENTIALS)
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchVersion"}:
            return InputError(url, "no such S3 object")
        if code in {"403", "AccessDenied", "Forbidden"}:
            return S3AccessDeniedError(url, "access to the S3 object denied")
        return InputError(url, f"S3 error {code}")
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return SourceTimeoutError(url, f"S3 endpoint did not answer within {timeout_s:g} s")
    return InputError(url, f"S3 endpoint unreachable: {exc}")


class S3AccessDeniedError(InputError):
    kind = "access_denied"


def read_object(loc: S3Location, settings: Settings, *, max_bytes: int, version: str | None = None) -> bytes:
    """The bytes of one object (one version of it), refusing objects over ``max_bytes``."""
    from botocore.exceptions import BotoCoreError, ClientError

    from framewarden.errors import TooLargeInputError

    url = f"s3://{loc.bucket}/{loc.key}"
    client = s3_client(settings)
    extra = {"VersionId": version} if version else {}
    try:
        obj = client.get_object(Bucket=loc.bucket, Key=loc.key, **extra)
        size = int(obj.get("ContentLength", 0) or 0)
        if size > max_bytes:
            obj["Body"].close()
            raise TooLargeInputError(url, f"{size} bytes exceeds the limit of {max_bytes}")
        data = bytes(obj["Body"].read(max_bytes + 1))
    except (ClientError, BotoCoreError) as exc:
        raise s3_error(url, exc, settings.s3_timeout_s) from None
    if len(data) > max_bytes:
        raise TooLargeInputError(url, f"more than {max_bytes} bytes")
    return data


def presigned_url(url: str, settings: Settings, timeout_s: float = 10.0) -> str:
    """Check that the object exists and is not empty; return a URL FFmpeg can read."""
    from botocore.exceptions import BotoCoreError, ClientError

    loc = parse_s3_url(url)
    client = s3_client(settings, timeout_s)
    params = {"Bucket": loc.bucket, "Key": loc.key, **({"VersionId": loc.version} if loc.version else {})}
    try:
        head = client.head_object(**params)
    except (ClientError, BotoCoreError) as exc:
        raise s3_error(url, exc, timeout_s) from None
    if int(head.get("ContentLength", 0) or 0) == 0:
        raise EmptyInputError(url, "empty S3 object (0 bytes)")
    return str(client.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGN_EXPIRES_S))
