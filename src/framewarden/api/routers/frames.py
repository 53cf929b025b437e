"""Pictures for the dashboard: a channel's latest analyzed frame and an alert's evidence.

Both are JPEG, read-only, for viewers and above (the same check as the
alert and channel JSON they belong to).  ``Cache-Control: no-store``: a live
frame is stale at once, and evidence must not linger in shared caches.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from framewarden.api.deps import RuntimeDep, SessionDep, ViewerDep
from framewarden.store import alerts as alerts_repo
from framewarden.store.blobs import open_blob_store

router = APIRouter(prefix="/v1", tags=["frames"])
NO_STORE = {"Cache-Control": "no-store, private"}


@router.get("/channels/{name}/frame.jpg", response_class=Response)
def latest_frame(name: str, runtime: RuntimeDep, _: ViewerDep) -> Response:
    """The channel's latest analyzed frame, downscaled to 640 px; 404 before its first frame."""
    if name not in runtime.channels:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {name!r} not found")
    latest = runtime.latest_frames.jpeg(name)
    if latest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {name!r} has no analyzed frame yet")
    seq, jpeg = latest
    return Response(jpeg, media_type="image/jpeg", headers={**NO_STORE, "X-Frame-Seq": str(seq)})


@router.get("/channels/{name}/detections")
def latest_detections(name: str, runtime: RuntimeDep, _: ViewerDep) -> dict[str, Any]:
    """Boxes of the latest analyzed frame's detections (fractions of the picture), for overlays."""
    if name not in runtime.channels:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {name!r} not found")
    return runtime.latest_frames.detections(name) or {"seq": None, "boxes": []}


@router.get("/alerts/{alert_id}/evidence.jpg", response_class=Response)
def alert_evidence(alert_id: int, runtime: RuntimeDep, session: SessionDep, _: ViewerDep) -> Response:
    """The frame that raised the alert, as kept in the evidence store."""
    alert = alerts_repo.require_alert(session, alert_id=alert_id)
    if not alert.evidence_key:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id} has no evidence frame")
    try:
        data = open_blob_store(settings=runtime.settings).get(alert.evidence_key)
    except (FileNotFoundError, KeyError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"evidence of alert {alert_id} is gone") from exc
    return Response(data, media_type="image/jpeg", headers=NO_STORE)
