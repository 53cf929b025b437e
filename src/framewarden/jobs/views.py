"""A job's stored frames as Rekognition's ``GetContentModeration`` returns them.

Sorting (TIMESTAMP or NAME), aggregation (TIMESTAMPS or SEGMENTS) and pages
(an opaque ``NextToken``) are computed from the persisted frames, so a job
resumed after a restart answers exactly as an uninterrupted one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Literal

from framewarden.errors import InputError
from framewarden.jobs.results import AnalyzedFrame, peak_labels, segments, timestamp_entries
from framewarden.media.s3 import parse_s3_url
from framewarden.result import ModerationLabel
from framewarden.store.jobs import FrameRecord

SortBy = Literal["TIMESTAMP", "NAME"]
AggregateBy = Literal["TIMESTAMPS", "SEGMENTS"]


def analyzed_frames(records: Sequence[FrameRecord]) -> list[AnalyzedFrame]:
    return [
        AnalyzedFrame(
            r.pts_ms,
            tuple(
                ModerationLabel(
                    lab["Name"], lab.get("ParentName", ""), int(lab["TaxonomyLevel"]), lab["Confidence"]
                )
                for lab in r.labels
            ),
            r.covered_until_ms,
        )
        for r in records
    ]


def label_entries(
    records: Sequence[FrameRecord], *, sort_by: SortBy, aggregate_by: AggregateBy, merge_gap_ms: float
) -> list[dict[str, Any]]:
    frames = analyzed_frames(records)
    if aggregate_by == "SEGMENTS":
        entries = [s.to_rekognition() for s in segments(frames, merge_gap_ms)]
        for e in entries:
            e["Timestamp"] = e["StartTimestampMillis"]
    else:
        entries = timestamp_entries(frames)
    if sort_by == "NAME":
        entries.sort(key=lambda e: (e["ModerationLabel"]["Name"], e["Timestamp"]))
    return entries


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "o" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InputError("NextToken", "not a token this server issued")


def page(
    entries: list[dict[str, Any]], token: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    start = decode_token(token)
    chunk = entries[start : start + limit]
    nxt = start + len(chunk)
    return chunk, (encode_token(nxt) if nxt < len(entries) else None)


def summary_labels(records: Sequence[FrameRecord]) -> list[dict[str, Any]]:
    return peak_labels(analyzed_frames(records))


def content_moderation_body(
    job: Any,
    records: Sequence[FrameRecord],
    *,
    sort_by: SortBy = "TIMESTAMP",
    aggregate_by: AggregateBy = "TIMESTAMPS",
    next_token: str | None = None,
    max_results: int = 1000,
) -> dict[str, Any]:
    """A ``GetContentModeration`` response for a job row and its frames."""
    from framewarden.result import model_version

    summary = dict(job.summary or {})
    inputs = dict(job.inputs or {})
    status = {"succeeded": "SUCCEEDED", "failed": "FAILED", "cancelled": "FAILED"}.get(
        job.status, "IN_PROGRESS"
    )
    body: dict[str, Any] = {"JobStatus": status, "JobId": job.id}
    if job.status == "failed":
        body["StatusMessage"] = job.error or "failed"
    elif job.status == "cancelled":
        body["StatusMessage"] = "cancelled"
    if summary.get("VideoMetadata"):
        body["VideoMetadata"] = summary["VideoMetadata"]
    source = str(inputs.get("source", ""))
    if source.startswith("s3://"):
        loc = parse_s3_url(source)
        obj: dict[str, Any] = {"Bucket": loc.bucket, "Name": loc.key}
        if inputs.get("version"):
            obj["Version"] = inputs["version"]
        body["Video"] = {"S3Object": obj}
    if inputs.get("tag"):
        body["JobTag"] = inputs["tag"]
    entries: list[dict[str, Any]] = []
    if status == "SUCCEEDED":
        entries = label_entries(
            records,
            sort_by=sort_by,
            aggregate_by=aggregate_by,
            merge_gap_ms=float(summary.get("MergeGapMs", 0.0)),
        )
    chunk, nxt = page(entries, next_token, max_results)
    body["ModerationLabels"] = chunk
    if nxt:
        body["NextToken"] = nxt
    body["ModerationModelVersion"] = model_version(dict(summary.get("ModelVersions") or {}))
    body["GetRequestMetadata"] = {"SortBy": sort_by, "AggregateBy": aggregate_by}
    return body
