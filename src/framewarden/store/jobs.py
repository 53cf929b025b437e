"""Jobs: video moderation and batch scans, with progress persisted as they go.

Counters are incremented in SQL (``done = done + n``), never read-modify-written
in Python, so several workers of one job can report progress at once.  A
restarted process finds its unfinished work with :func:`list_unfinished_jobs`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from framewarden.errors import InputError
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import Job, utcnow
from framewarden.store.pagination import Page, paginate

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
