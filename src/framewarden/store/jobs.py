"""Jobs: video moderation and batch scans, with progress persisted as they go.

Counters are incremented in SQL (``done = done + n``), never read-modify-written
in Python, so several workers of one job can report progress at once.  A
restarted process finds its unfinished work with :func:`list_unfinished_jobs`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from framewarden.errors import InputError
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import Job, Result, utcnow
from framewarden.store.pagination import Page, paginate
from framewarden.store.results import top_of

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def create_job(
    session: Session,
    *,
    kind: str,
    inputs: dict[str, Any] | None = None,
    total: int = 0,
    job_id: str | None = None,
) -> Job:
    job = Job(
        id=job_id or uuid.uuid4().hex, kind=kind, inputs=dict(inputs or {}), total=total, status="queued"
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def require_job(session: Session, *, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError("job", job_id)
    return job


def start_job(session: Session, *, job_id: str, total: int | None = None) -> Job:
    job = require_job(session, job_id=job_id)
    if job.status in FINAL_STATUSES:
        raise ConflictError("job", job_id, f"cannot start: already {job.status}")
    job.status = "running"
    job.started_at = job.started_at or utcnow()
    if total is not None:
        job.total = total
    job.updated_at = utcnow()
    session.flush()
    return job


def add_progress(session: Session, *, job_id: str, done: int = 0, failed: int = 0) -> None:
    """Count finished (and failed) items of a job; safe from concurrent workers."""
    stmt = (
        update(Job)
        .where(Job.id == job_id)
        .values(done=Job.done + done, failed=Job.failed + failed, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError("job", job_id)
    session.expire_all()


def finish_job(
    session: Session,
    *,
    job_id: str,
    status: JobStatus = "succeeded",
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> Job:
    if status not in FINAL_STATUSES:
        raise InputError(
            "status", f"{status!r} is not a final job status ({', '.join(sorted(FINAL_STATUSES))})"
        )
    job = require_job(session, job_id=job_id)
    if job.status in FINAL_STATUSES:
        raise ConflictError("job", job_id, f"already {job.status}")
    job.status = status
    job.error = error
    if summary is not None:
        job.summary = dict(summary)
    job.finished_at = job.updated_at = utcnow()
    session.flush()
    return job


def list_jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Job]:
    """Jobs, newest first."""
    stmt = select(Job)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    return paginate(
        session, stmt, sort=Job.created_at, key=Job.id, cursor=cursor, limit=limit, descending=True
    )


def list_unfinished_jobs(session: Session) -> Sequence[Job]:
    """Queued and running jobs, oldest first: what a restarted process resumes."""
    stmt = select(Job).where(Job.status.in_(("queued", "running"))).order_by(Job.created_at, Job.id)
    return session.scalars(stmt).all()


# --- video jobs of the server: per-frame results, progress, idempotency -----------------


def token_job_id(*, owner: str, token: str) -> str:
    """A job id derived from a client's idempotency token (scoped to its key)."""
    return hashlib.sha256(f"{owner}\0{token}".encode()).hexdigest()[:32]


def merge_summary(session: Session, *, job_id: str, patch: dict[str, Any]) -> Job:
    """Merge ``patch`` into the job's summary (written by the job's one worker only)."""
    job = require_job(session, job_id=job_id)
    job.summary = {**(job.summary or {}), **patch}
    job.updated_at = utcnow()
    session.flush()
    return job


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One analyzed frame of a job, as persisted."""

    seq: int
    pts_ms: float
    labels: tuple[dict[str, Any], ...]
    covered_until_ms: float


def add_job_frames(session: Session, *, job_id: str, channel: str, frames: Sequence[FrameRecord]) -> None:
    """Persist analyzed frames of a job (in the caller's transaction, with its progress)."""
    for f in frames:
        top_label, peak = top_of(f.labels)
        session.add(
            Result(
                channel=channel,
                job_id=job_id,
                frame_seq=f.seq,
                pts_ms=f.pts_ms,
                labels=[dict(lab) for lab in f.labels],
                tags=[],
                top_label=top_label,
                peak_confidence=peak,
                covered_until_ms=f.covered_until_ms,
            )
        )
    session.flush()


def cover_last_frame(session: Session, *, job_id: str, until_ms: float) -> None:
    """Extend the job's latest frame over skipped near-duplicates (idempotent: max)."""
    row = session.scalar(
        select(Result)
        .where(Result.job_id == job_id)
        .order_by(Result.pts_ms.desc(), Result.id.desc())
        .limit(1)
    )
    if row is not None and (row.covered_until_ms or row.pts_ms) < until_ms:
        row.covered_until_ms = until_ms
        session.flush()


def job_frames(session: Session, *, job_id: str) -> list[FrameRecord]:
    """Every persisted frame of a job, in media-time order."""
    rows = session.scalars(select(Result).where(Result.job_id == job_id).order_by(Result.pts_ms, Result.id))
    return [
        FrameRecord(r.frame_seq, r.pts_ms, tuple(r.labels or ()), r.covered_until_ms or r.pts_ms)
        for r in rows
    ]


def last_frame_pts(session: Session, *, job_id: str) -> float | None:
    """Media time of the job's latest persisted frame: where a resumed job picks up."""
    value = session.scalar(select(func.max(Result.pts_ms)).where(Result.job_id == job_id))
    return None if value is None else float(value)


def request_cancel(session: Session, *, job_id: str) -> Job:
    """Cancel a queued or running job (its worker notices at its next frame)."""
    job = require_job(session, job_id=job_id)
    if job.status in FINAL_STATUSES:
        raise ConflictError("job", job_id, f"cannot cancel: already {job.status}")
    job.status = "cancelled"
    job.finished_at = job.updated_at = utcnow()
    session.flush()
    return job


def child_jobs(session: Session, *, parent_id: str) -> Sequence[Job]:
    """The video jobs of a batch (manifest) job, in manifest order."""
    return session.scalars(select(Job).where(Job.id.like(f"{parent_id}-%")).order_by(Job.id)).all()


def child_job_id(parent_id: str, index: int) -> str:
    """Children of a batch are named after it, so they are found by prefix, in order."""
    return f"{parent_id}-{index:05d}"
