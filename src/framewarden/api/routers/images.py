"""``POST /v1/images:moderate``: moderate one pushed image (the REST path of the IVS sample)."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from starlette.concurrency import run_in_threadpool

from framewarden.api.deps import IngestDep, RuntimeDep
from framewarden.api.runtime import Runtime
from framewarden.errors import TooLargeInputError
from framewarden.media.frame import Frame
from framewarden.pipeline.batcher import InferenceSaturatedError
from framewarden.result import ModerationResult

router = APIRouter(prefix="/v1", tags=["images"])


async def _read_limited(request: Request, limit: int) -> tuple[bytes, str]:
    """The image bytes (raw body or the multipart ``file``/``image`` field), refusing more than ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise TooLargeInputError("upload", f"{declared} bytes exceeds the limit of {limit}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=8, max_part_size=limit)
        upload = form.get("file") or form.get("image")
        if upload is None or isinstance(upload, str):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "multipart body needs a 'file' field")
        data = await upload.read(limit + 1)
        name = f"upload:{upload.filename or 'file'}"
    else:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLargeInputError("upload", f"more than {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
        name = "upload"
    if len(data) > limit:
        raise TooLargeInputError("upload", f"more than {limit} bytes")
    return data, name


@router.post("/images:moderate")
async def moderate_image(
    request: Request,
    runtime: RuntimeDep,
    principal: IngestDep,
    min_confidence: Annotated[float | None, Query(ge=0, le=100)] = None,
) -> dict[str, Any]:
    """Moderate one image sent as the raw body (``image/*``) or as multipart field ``file``.

    Answers a ``DetectModerationLabels``-shaped body plus framewarden's
    ``Tags`` and ``Detections``.
    """
    allowed, retry_after = runtime.image_rate_limiter.allow(principal.key_id)
    if not allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate limit exceeded for this key",
            headers={"Retry-After": str(max(1, int(retry_after + 0.999)))},
        )
    if not runtime.image_admission.try_enter():  # refused before the body is read or decoded
        raise _saturated(f"{runtime.image_admission.limit} images in flight", runtime.batcher.retry_after_s())
    try:
        data, name = await _read_limited(request, runtime.settings.max_upload_bytes)
        frame = await run_in_threadpool(runtime.image_frame, data, name)
        result = await _infer(runtime, frame)
    except InferenceSaturatedError as exc:
        raise _saturated(str(exc), exc.retry_after_s) from None
    finally:
        runtime.image_admission.leave()
    result.source = name
    if min_confidence is not None:
        result = result.with_min_confidence(min_confidence)
    body = result.to_dict()
    return {**result.to_rekognition(), "Tags": body["Tags"], "Detections": body["Detections"]}


def _saturated(why: str, retry_after_s: float) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"inference is saturated: {why}",
        headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
    )


async def _infer(runtime: Runtime, frame: Frame) -> ModerationResult:
    """Await the frame's result without holding a thread; cancel it in the queue on timeout.

    A full queue answers at once (``block=False``): waiting requests would only
    pile up behind a saturated model and time out anyway.
    """
    future = runtime.batcher.submit(frame, block=False)
    timeout = runtime.settings.image_timeout_s
    try:
        result: ModerationResult = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        future.cancel()  # wait_for cancelled the wrapper; make sure the queued frame goes too
        raise InferenceSaturatedError(
            f"no inference result within {timeout:g} s", runtime.batcher.retry_after_s()
        ) from None
    finally:
        if not future.done():
            future.cancel()  # the client went away: nobody wants this frame any more
    return result
