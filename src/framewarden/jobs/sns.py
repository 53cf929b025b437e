"""Job completion in the shape of an Amazon SNS notification.

A Rekognition client names an SNS topic ARN in ``NotificationChannel``; the
operator maps that ARN to one of framewarden's notification targets
(``rekognition_sns_topics``), which then receives the HTTP body SNS would
deliver to an HTTP subscriber: ``Type``, ``MessageId``, ``TopicArn``,
``Message`` (a JSON string with ``JobId``, ``Status``, ``API``, ``JobTag``,
``Timestamp``, ``Video``), ``Timestamp``.  Delivery goes through the
notification dispatcher, so it is retried and recorded like an alert's.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from framewarden.actions.notifiers.base import Message
from framewarden.media.s3 import parse_s3_url


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, slots=True)
class SnsMessage(Message):
    """A :class:`Message` whose body is an SNS HTTP notification."""

    topic_arn: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "Type": "Notification",
            "MessageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.topic_arn}/{self.payload.get('JobId')}")),
            "TopicArn": self.topic_arn,
            "Subject": "",
            "Message": json.dumps(self.payload, separators=(",", ":")),
            "Timestamp": _iso(self.at),
            "SignatureVersion": "1",
        }


def completion_message(
    *, job_id: str, status: str, source: str, tag: str, topic_arn: str, api: str = "StartContentModeration"
) -> SnsMessage:
    loc = parse_s3_url(source) if source.startswith("s3://") else None
    bucket, key = (loc.bucket, loc.key) if loc else ("", source)
    now = time.time()
    payload = {
        "JobId": job_id,
        "Status": status,
        "API": api,
        "JobTag": tag,
        "Timestamp": int(now * 1000),
        "Video": {"S3ObjectName": key, "S3Bucket": bucket},
    }
    return SnsMessage(
        kind="job",
        channel=f"job:{job_id}",
        alert_id=None,
        summary=f"job {job_id} {status}",
        payload=payload,
        at=now,
        topic_arn=topic_arn,
    )
