"""The three Rekognition operations framewarden answers, on its own parts.

``DetectModerationLabels`` goes through the server's shared batcher (the
same path as ``POST /v1/images:moderate``); the video operations are the
durable jobs of :mod:`framewarden.jobs.service`.  Inputs are checked as
Rekognition checks them (JPEG or PNG; 5 MB as bytes, 15 MB from S3) and every
refusal is an :class:`AwsError` with Rekognition's code.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from framewarden.api.auth import Principal
from framewarden.api.rekognition.errors import AwsError
from framewarden.api.runtime import Runtime
from framewarden.errors import ConfigError, InputError, TooLargeInputError
from framewarden.jobs.spec import JobSpec
from framewarden.jobs.views import content_moderation_body, decode_token
from framewarden.media.s3 import S3Location, read_object, s3_url
from framewarden.pipeline.batcher import InferenceSaturatedError
from framewarden.store import jobs as jobs_repo

MAX_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


def _need(principal: Principal, *roles: str) -> None:
    if not any(principal.allows(r) for r in roles):
        raise AwsError(
            "AccessDeniedException", f"role {principal.role!r} is not authorized to perform this operation"
        )


def _min_confidence(params: dict[str, Any]) -> float:
    value = params.get("MinConfidence", 50.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise AwsError("InvalidParameterException", "MinConfidence must be a number between 0 and 100")
    return float(value)


def _s3_object(params: dict[str, Any], field: str) -> dict[str, Any]:
    obj = params.get("S3Object")
    if (
        not isinstance(obj, dict)
        or not isinstance(obj.get("Bucket"), str)
        or not isinstance(obj.get("Name"), str)
    ):
        raise AwsError("InvalidParameterException", f"{field}.S3Object needs Bucket and Name")
    if not obj["Bucket"] or not obj["Name"]:
        raise AwsError("InvalidParameterException", f"{field}.S3Object Bucket and Name must not be empty")
    return obj


def _image_bytes(runtime: Runtime, image: Any) -> tuple[bytes, str]:
    if not isinstance(image, dict) or ("Bytes" in image) == ("S3Object" in image):
        raise AwsError("InvalidParameterException", "Image needs exactly one of Bytes or S3Object")
    if "Bytes" in image:
        raw = image["Bytes"]
        if not isinstance(raw, str):
            raise AwsError("InvalidParameterException", "Image.Bytes must be base64 text")
        if len(raw) > (MAX_BYTES * 4) // 3 + 4:
            raise AwsError("ImageTooLargeException", "Image size is too large (more than 5 MB of bytes).")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise AwsError("InvalidParameterException", "Image.Bytes is not valid base64") from None
        if len(data) > MAX_BYTES:
            raise AwsError("ImageTooLargeException", "Image size is too large (more than 5 MB of bytes).")
        return data, "Image.Bytes"
    obj = _s3_object(image, "Image")
    version = obj.get("Version") if isinstance(obj.get("Version"), str) else None
    try:
        data = read_object(
            S3Location(obj["Bucket"], obj["Name"]), runtime.settings, max_bytes=MAX_S3_BYTES, version=version
        )
    except TooLargeInputError:
        raise AwsError("ImageTooLargeException", "Image size is too large (more than 15 MB in S3).") from None
    except InputError:
        raise AwsError(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
        ) from None
    return data, f"s3://{obj['Bucket']}/{obj['Name']}"


def detect_moderation_labels(
    runtime: Runtime, principal: Principal, params: dict[str, Any]
) -> dict[str, Any]:
    _need(principal, "ingest")
    min_confidence = _min_confidence(params)
    data, source = _image_bytes(runtime, params.get("Image"))
    if not (data.startswith(_JPEG) or data.startswith(_PNG)):
        raise AwsError(
            "InvalidImageFormatException", "Request has unsupported image format (JPEG or PNG only)."
        )
    try:
        result = runtime.moderate_bytes(data, source)
    except InferenceSaturatedError:  # inference is full: boto3 retries throttling with backoff
        raise AwsError("ThrottlingException", "Rate exceeded") from None
    except TooLargeInputError:
        raise AwsError("ImageTooLargeException", "Image dimensions are too large.") from None
    except InputError:
        raise AwsError("InvalidImageFormatException", "Request has invalid image format.") from None
    return result.with_min_confidence(min_confidence).to_rekognition()


def start_content_moderation(
    runtime: Runtime, principal: Principal, params: dict[str, Any]
) -> dict[str, Any]:
    _need(principal, "ingest")
    video = params.get("Video")
    if not isinstance(video, dict):
        raise AwsError("InvalidParameterException", "Video.S3Object is required")
    obj = _s3_object(video, "Video")
    tag = params.get("JobTag", "")
    token = params.get("ClientRequestToken")
    channel = params.get("NotificationChannel") or {}
    topic = str(channel.get("SNSTopicArn", "")) if isinstance(channel, dict) else ""
    if topic and topic not in runtime.settings.rekognition_sns_topics:
        raise AwsError(
            "InvalidParameterException", "NotificationChannel.SNSTopicArn is not configured on this server"
        )
    version = obj.get("Version") if isinstance(obj.get("Version"), str) else ""
    try:
        spec = JobSpec(
            source=s3_url(obj["Bucket"], obj["Name"]),
            min_confidence=_min_confidence(params),
            sample_interval_s=runtime.settings.rekognition_sample_interval_s,
            tag=str(tag or ""),
            sns_topic_arn=topic,
            version=version,
        )
    except ValueError as exc:
        raise AwsError("InvalidParameterException", str(exc).splitlines()[0]) from None
    job_id = None
    if token:
        if not isinstance(token, str) or len(token) > 64:
            raise AwsError("InvalidParameterException", "ClientRequestToken must be 1-64 characters")
        job_id = jobs_repo.token_job_id(owner=principal.key_id, token=token)
    try:
        job, created = runtime.jobs.submit(spec, job_id=job_id)
    except ConfigError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from None
    if not created and (job.inputs or {}).get("source") != spec.source:
        raise AwsError(
            "IdempotentParameterMismatchException",
            "ClientRequestToken was used with different parameters.",
        )
    return {"JobId": job.id}


def get_content_moderation(runtime: Runtime, principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
    _need(principal, "viewer", "ingest")
    job_id = params.get("JobId")
    if not isinstance(job_id, str) or not job_id:
        raise AwsError("InvalidParameterException", "JobId is required")
    max_results = params.get("MaxResults", 1000)
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 1000:
        raise AwsError("InvalidParameterException", "MaxResults must be between 1 and 1000")
    sort_by = params.get("SortBy", "TIMESTAMP")
    aggregate_by = params.get("AggregateBy", "TIMESTAMPS")
    if sort_by not in ("TIMESTAMP", "NAME") or aggregate_by not in ("TIMESTAMPS", "SEGMENTS"):
        raise AwsError(
            "InvalidParameterException", "SortBy is TIMESTAMP or NAME; AggregateBy TIMESTAMPS or SEGMENTS"
        )
    token = params.get("NextToken")
    try:
        decode_token(token if isinstance(token, str) else None)
    except InputError:
        raise AwsError("InvalidPaginationTokenException", "Invalid Token") from None
    with runtime.db.read() as session:
        job = jobs_repo.get_job(session, job_id=job_id)
        if job is None or job.kind != "video":
            raise AwsError("ResourceNotFoundException", f"Job {job_id} was not found.")
        records = jobs_repo.job_frames(session, job_id=job_id) if job.status == "succeeded" else []
        return content_moderation_body(
            job,
            records,
            sort_by=sort_by,
            aggregate_by=aggregate_by,
            next_token=token,
            max_results=max_results,
        )


OPERATIONS = {
    "DetectModerationLabels": detect_moderation_labels,
    "StartContentModeration": start_content_moderation,
    "GetContentModeration": get_content_moderation,
}
