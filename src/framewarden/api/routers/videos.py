"""Uploads: ``POST /v1/videos`` in, status / verdict / tags / transcript / subtitles out.

The body is streamed to the upload store chunk by chunk (raw body, or the
multipart field ``file``), never held whole in memory; or a JSON body
``{"source": "s3://bucket/key"}`` names an object on the operator's
S3-compatible endpoint.  The answer (202) is the new video; its status then
moves on in the background (see :mod:`framewarden.jobs.uploads`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from framewarden.api.deps import IngestDep, ModeratorDep, RuntimeDep, SessionDep, ViewerDep
from framewarden.api.schemas import Page
from framewarden.errors import InputError, TooLargeInputError
from framewarden.jobs.upload_storage import StoredUpload, UploadWriter, copy_from_s3
from framewarden.speech.models import TranscriptSegment
from framewarden.speech.subtitles import to_srt, to_vtt
from framewarden.store import videos as repo

router = APIRouter(prefix="/v1", tags=["videos"])
StatusName = Literal["uploaded", "processing", "approved", "rejected", "needs_review", "failed"]
MAX_JSON_BYTES = 16 * 1024
WRITE_BATCH = 1024 * 1024


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["approved", "rejected"] = Field(description="The moderator's decision.")
    note: str = Field("", max_length=2000, description="Why (kept in the history).")


async def _receive(request: Request, runtime: Any, limit: int) -> tuple[StoredUpload, str]:
    """Stream the body into the upload store; returns what was stored and the client's file name."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise TooLargeInputError("upload", f"{declared} bytes exceeds the limit of {limit}")
    content_type = request.headers.get("content-type", "")
    root = runtime.settings.uploads_location
    if content_type.startswith("application/json"):
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_JSON_BYTES:
                raise InputError("upload", "JSON body too large")
        try:
            source = str(json.loads(raw)["source"])
        except (ValueError, KeyError, TypeError):
            raise InputError("upload", 'JSON body must be {"source": "s3://bucket/key"}') from None
        if not source.startswith("s3://") or "s3" not in runtime.settings.allowed_source_schemes:
            raise InputError(
                "upload", "a reference must be an s3://bucket/key URL on the configured endpoint"
            )
        stored = await run_in_threadpool(copy_from_s3, source, root, limit, runtime.settings)
        return stored, source.rsplit("/", 1)[-1]
    if content_type.startswith("multipart/form-data"):
        # Starlette spools multipart files to disk past 1 MiB: bounded memory, then copied through.
        form = await request.form(max_files=1, max_fields=8, max_part_size=limit)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "multipart body needs a 'file' field")
        writer = UploadWriter(root, limit, "upload")
        try:
            while chunk := await upload.read(WRITE_BATCH):
                await run_in_threadpool(writer.write, chunk)
        except BaseException:
            writer.abort()
            raise
        return await run_in_threadpool(writer.finish), upload.filename or ""
    writer = UploadWriter(root, limit, "upload")
    batch: list[bytes] = []
    held = 0
    try:
        async for chunk in request.stream():
            batch.append(chunk)
            held += len(chunk)
            if held >= WRITE_BATCH:  # disk writes off the event loop, about a MiB at a time
                await run_in_threadpool(writer.write, b"".join(batch))
                batch, held = [], 0
        if batch:
            await run_in_threadpool(writer.write, b"".join(batch))
    except BaseException:
        writer.abort()
        raise
    return await run_in_threadpool(writer.finish), request.headers.get("x-filename", "")


@router.post("/videos", status_code=status.HTTP_202_ACCEPTED)
async def upload_video(request: Request, runtime: RuntimeDep, principal: IngestDep) -> dict[str, Any]:
    """Upload a video (raw body, multipart ``file``, or JSON ``{"source": "s3://..."}``); 202 + the video."""
    stored, filename = await _receive(request, runtime, runtime.settings.upload_max_bytes)

    def create() -> dict[str, Any]:
        with runtime.db.begin() as session:
            video = repo.create_video(
                session,
                content_hash=stored.sha256,
                size_bytes=stored.size,
                source=str(stored.path),
                filename=filename,
                uploader=principal.name,
            )
            body = repo.video_dict(video)
        runtime.uploads.announce(body)
        runtime.uploads.submit(body["id"])
        return body

    return await run_in_threadpool(create)


def _analysis(session: Any, video: Any) -> dict[str, Any]:
    if video.analysis_of is None:
        return dict(video.analysis)
    owner = repo.get_video(session, video_id=video.analysis_of)
    return dict(owner.analysis) if owner is not None else {}


@router.get("/videos")
def list_videos(
    session: SessionDep,
    _: ViewerDep,
    status: StatusName | None = None,
    tag: Annotated[str | None, Query(max_length=200, description="A label, tag or keyword.")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    """Newest first; filter by status and by tag (taxonomy label, content tag, OCR or spoken keyword)."""
    page = repo.list_videos(session, status=status, tag=tag, cursor=cursor, limit=limit)
    return Page(
        items=[repo.video_dict(v, _analysis(session, v)) for v in page.items], next_cursor=page.next_cursor
    )


@router.get("/videos/{video_id}")
def get_video(video_id: str, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    """Status, verdict, reasons, tags (with time ranges), transcript and history."""
    video = repo.require_video(session, video_id=video_id)
    history = [
        {"at": e.at, "from": e.from_status, "to": e.to_status, "actor": e.actor, "note": e.note}
        for e in repo.history(session, video_id=video_id)
    ]
    return {**repo.video_dict(video, _analysis(session, video)), "history": history}


@router.get("/videos/{video_id}/subtitles.{fmt}")
def subtitles(video_id: str, fmt: Literal["vtt", "srt"], session: SessionDep, _: ViewerDep) -> Response:
    """The transcript as WebVTT or SRT (404 until the video is transcribed)."""
    video = repo.require_video(session, video_id=video_id)
    analysis = _analysis(session, video)
    if not analysis.get("transcribed"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"video {video_id}: no transcript (yet)")
    segments = [TranscriptSegment.from_dict(s) for s in analysis.get("transcript", [])]
    if fmt == "vtt":
        return Response(to_vtt(segments), media_type="text/vtt; charset=utf-8")
    return Response(to_srt(segments), media_type="application/x-subrip; charset=utf-8")


@router.post("/videos/{video_id}/override")
def override(video_id: str, body: Override, runtime: RuntimeDep, principal: ModeratorDep) -> dict[str, Any]:
    """A moderator's decision on a decided (or failed) video, recorded with their identity."""
    with runtime.db.begin() as session:
        video = repo.require_video(session, video_id=video_id)
        repo.override_status(session, video, body.status, actor=principal.identity, note=body.note)
        out = repo.video_dict(video, _analysis(session, video))
    runtime.uploads.announce(out)
    return out
