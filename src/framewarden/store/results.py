"""Results: one row per analyzed frame or image, read back by channel and time or by job.

Labels are kept as the Rekognition-shaped list (``ModerationLabel.to_rekognition()``);
the top label and peak confidence are copied into columns so lists can sort
and filter without reading JSON.  A live channel's results are paged by
``analyzed_at``; a job's by media time (``pts_ms``), as Rekognition's
``GetContentModeration`` sorts by timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from framewarden.store.models import Result, utcnow
from framewarden.store.pagination import Page, paginate


def add_result(
    session: Session,
    *,
    channel: str,
    labels: Sequence[dict[str, Any]] = (),
    tags: Sequence[dict[str, Any]] = (),
    job_id: str | None = None,
    frame_seq: int = 0,
    pts_ms: float = 0.0,
    captured_at: datetime | None = None,
    analyzed_at: datetime | None = None,
    evidence_key: str | None = None,
) -> Result:
    """Record one analyzed frame; ``labels`` are Rekognition-shaped dicts (Name, Confidence, ...)."""
    top_label, peak = top_of(labels)
    result = Result(
        channel=channel,
        job_id=job_id,
        frame_seq=frame_seq,
        pts_ms=float(pts_ms),
        captured_at=captured_at,
        analyzed_at=analyzed_at or utcnow(),
        labels=[dict(label) for label in labels],
        tags=[dict(tag) for tag in tags],
        top_label=top_label,
        peak_confidence=peak,
        evidence_key=evidence_key,
    )
    session.add(result)
    session.flush()
    return result


def top_of(labels: Iterable[dict[str, Any]]) -> tuple[str | None, float]:
    """The most confident label (the deepest one on a tie, as it says the most)."""
    best: tuple[float, int, str] | None = None
    for label in labels:
        key = (
            float(label.get("Confidence", 0.0)),
            int(label.get("TaxonomyLevel", 0)),
            str(label.get("Name")),
        )
        if best is None or key[:2] > best[:2]:
            best = key
    return (best[2], best[0]) if best else (None, 0.0)


def get_result(session: Session, *, result_id: int) -> Result | None:
    return session.get(Result, result_id)


def list_channel_results(
    session: Session,
    *,
    channel: str,
    since: datetime | None = None,
    until: datetime | None = None,
    flagged_only: bool = False,
    newest_first: bool = False,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Result]:
    """A channel's results with ``since <= analyzed_at < until``, in time order."""
    stmt = select(Result).where(Result.channel == channel)
    if since is not None:
        stmt = stmt.where(Result.analyzed_at >= since)
    if until is not None:
        stmt = stmt.where(Result.analyzed_at < until)
    if flagged_only:
        stmt = stmt.where(Result.top_label.is_not(None))
    return paginate(
        session,
        stmt,
        sort=Result.analyzed_at,
        key=Result.id,
        cursor=cursor,
        limit=limit,
        descending=newest_first,
    )


def list_job_results(
    session: Session, *, job_id: str, cursor: str | None = None, limit: int = 100
) -> Page[Result]:
    """A job's results in media-time order."""
    stmt = select(Result).where(Result.job_id == job_id)
    return paginate(session, stmt, sort=Result.pts_ms, key=Result.id, cursor=cursor, limit=limit)


def count_results(session: Session, *, channel: str | None = None, job_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Result)
    if channel is not None:
        stmt = stmt.where(Result.channel == channel)
    if job_id is not None:
        stmt = stmt.where(Result.job_id == job_id)
    return int(session.scalar(stmt) or 0)


def delete_results_before(session: Session, *, before: datetime, channel: str | None = None) -> int:
    """Retention: drop results analyzed before ``before``; returns how many."""
    stmt = delete(Result).where(Result.analyzed_at < before)
    if channel is not None:
        stmt = stmt.where(Result.channel == channel)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
