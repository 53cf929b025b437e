"""``/v1/jobs``: moderate stored videos (one, or a CSV manifest of them) as durable jobs.

Ingest keys may submit and cancel (an uploader's pipeline starts its own
jobs) and read the jobs back; viewers read.  Results come in
Rekognition's ``GetContentModeration`` shape, paged by ``next_token``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from framewarden.api.auth import Principal
from framewarden.api.deps import IngestDep, RuntimeDep, SessionDep, get_principal
from framewarden.jobs import report as report_mod
from framewarden.jobs.service import job_view
from framewarden.jobs.spec import JobSpec
from framewarden.jobs.views import content_moderation_body
from framewarden.store import jobs as repo

router = APIRouter(prefix="/v1", tags=["jobs"])


def _reader() -> Callable[..., Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not (principal.allows("viewer") or principal.allows("ingest")):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role!r} may not read jobs")
        return principal

    return check


ReaderDep = Annotated[Principal, Depends(_reader())]


class JobCreate(BaseModel):
    """One video (``source``) or a batch (``manifest``: CSV text, bucket,key rows or URLs)."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, max_length=2048)
    manifest: str | None = Field(None, max_length=5_000_000)
    sample_interval_s: float = Field(1.0, ge=0, le=3600)
    min_confidence: float = Field(50.0, ge=0, le=100)
    analyzers: list[str] | None = None
    dedup: bool = True
    tag: str = Field("", max_length=256)
    notify: list[str] = Field(default_factory=list)


@router.post("/jobs", status_code=status.HTTP_201_CREATED)
async def create_job(body: JobCreate, runtime: RuntimeDep, _: IngestDep) -> dict[str, Any]:
    if (body.source is None) == (body.manifest is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "give exactly one of source or manifest")
    fields = body.model_dump(exclude={"source", "manifest"})
    if body.manifest is not None:
        template = JobSpec(source="manifest", **fields)
        job = await run_in_threadpool(runtime.jobs.submit_batch, body.manifest, template)
    else:
        job, _created = await run_in_threadpool(
            runtime.jobs.submit, JobSpec(source=body.source or "", **fields)
        )
    with runtime.db.read() as session:
        return job_view(repo.require_job(session, job_id=job.id))


@router.get("/jobs")
def list_jobs(
    session: SessionDep,
    _: ReaderDep,
    status_: Annotated[repo.JobStatus | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    page = repo.list_jobs(session, status=status_, cursor=cursor, limit=limit)
    return {"items": [job_view(j) for j in page.items], "next_cursor": page.next_cursor}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, session: SessionDep, _: ReaderDep) -> dict[str, Any]:
    return job_view(repo.require_job(session, job_id=job_id))


@router.get("/jobs/{job_id}/results")
def job_results(
    job_id: str,
    session: SessionDep,
    _: ReaderDep,
    sort_by: Literal["timestamp", "name"] = "timestamp",
    aggregate_by: Literal["timestamps", "segments"] = "timestamps",
    next_token: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    job = repo.require_job(session, job_id=job_id)
    records = repo.job_frames(session, job_id=job_id)
    return content_moderation_body(
        job,
        records,
        sort_by="NAME" if sort_by == "name" else "TIMESTAMP",
        aggregate_by="SEGMENTS" if aggregate_by == "segments" else "TIMESTAMPS",
        next_token=next_token,
        max_results=limit,
    )


@router.get("/jobs/{job_id}/report")
def job_report(job_id: str, session: SessionDep, _: ReaderDep) -> Response:
    """The completion report (CSV, as S3 Batch Operations writes one): a row per video."""
    from framewarden.jobs.views import summary_labels

    job = repo.require_job(session, job_id=job_id)
    videos = list(repo.child_jobs(session, parent_id=job_id)) if job.kind == "batch" else [job]
    rows = []
    for video in videos:
        body = content_moderation_body(video, [])
        body["Source"] = (video.inputs or {}).get("source", "")
        body["Summary"] = {
            "Labels": summary_labels(repo.job_frames(session, job_id=video.id)),
            "FramesAnalyzed": int((video.summary or {}).get("FramesAnalyzed", 0)),
        }
        if video.status not in repo.FINAL_STATUSES:
            body["JobStatus"] = video.status.upper()
        rows.append(report_mod.ReportRow.from_result(body, video.id))
    return Response(report_mod.render(rows), media_type="text/csv")


@router.delete("/jobs/{job_id}")
async def cancel_job(job_id: str, runtime: RuntimeDep, _: IngestDep) -> dict[str, Any]:
    await run_in_threadpool(runtime.jobs.cancel, job_id)
    with runtime.db.read() as session:
        return job_view(repo.require_job(session, job_id=job_id))
