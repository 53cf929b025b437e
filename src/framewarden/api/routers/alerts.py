"""Alerts: list and filter; confirm, dismiss or stop the stream, with the moderator's identity.

Handlers are plain ``def`` (run in the thread pool): database waits never
block the event loop that carries the WebSocket events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from framewarden.actions.alerts import alert_payload
from framewarden.api.deps import ModeratorDep, RuntimeDep, SessionDep, ViewerDep
from framewarden.api.schemas import Page, Review
from framewarden.store import alerts as repo
from framewarden.store.errors import ConflictError

router = APIRouter(prefix="/v1", tags=["alerts"])
StatusName = Literal["open", "confirmed", "dismissed", "stream_stopped"]


@router.get("/alerts")
def list_alerts(
    session: SessionDep,
    _: ViewerDep,
    channel: str | None = None,
    status: Annotated[list[StatusName] | None, Query()] = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    """Newest first; filter by exact channel, status (repeatable), label (any level) and time."""
    page = repo.list_alerts(
        session,
        channel=channel,
        status=status,
        label=label,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[alert_payload(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: int, session: SessionDep, _: ViewerDep) -> dict[str, Any]:
    alert = repo.require_alert(session, alert_id=alert_id)
    history = [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "from": e.from_status,
            "to": e.to_status,
            "note": e.note,
        }
        for e in repo.alert_history(session, alert_id=alert_id)
    ]
    return {**alert_payload(alert), "history": history}


@router.post("/alerts/{alert_id}/confirm")
def confirm(
    alert_id: int, runtime: RuntimeDep, principal: ModeratorDep, review: Review | None = None
) -> dict[str, Any]:
    return alert_payload(
        runtime.alerts.confirm(alert_id, by=principal.identity, note=(review or Review()).note)
    )


@router.post("/alerts/{alert_id}/dismiss")
def dismiss(
    alert_id: int, runtime: RuntimeDep, principal: ModeratorDep, review: Review | None = None
) -> dict[str, Any]:
    return alert_payload(
        runtime.alerts.dismiss(alert_id, by=principal.identity, note=(review or Review()).note)
    )


@router.post(
    "/alerts/{alert_id}/stop-stream",
    responses={
        409: {"description": "The alert cannot move to stream_stopped; nothing was done."},
        502: {"description": "The stream controller failed; the alert stays open with auto_stop_failed."},
    },
)
def stop_stream(
    alert_id: int, runtime: RuntimeDep, principal: ModeratorDep, review: Review | None = None
) -> dict[str, Any]:
    """Stop the alert's stream at the streaming server, then mark the alert ``stream_stopped``.

    The move is validated first: an alert that cannot become ``stream_stopped``
    (already confirmed or dismissed) answers 409 and nothing is stopped.
    """
    with runtime.db.read() as session:
        alert = repo.require_alert(session, alert_id=alert_id)
        channel, current = alert.channel, alert.status
    if current not in repo.sources_of("stream_stopped"):
        raise ConflictError("alert", alert_id, f"cannot go from {current} to stream_stopped")
    runtime.stop_stream(channel, principal.identity, alert_ids=[alert_id])
    alert = runtime.alerts.stop_stream(alert_id, by=principal.identity, note=(review or Review()).note)
    return alert_payload(alert)


@router.post("/channels/{name}/alerts/acknowledge")
def acknowledge_channel(
    name: str,
    runtime: RuntimeDep,
    principal: ModeratorDep,
    to: Literal["confirmed", "dismissed"] = "confirmed",
    review: Review | None = None,
) -> dict[str, Any]:
    """Move every open alert of exactly this channel (never another channel's)."""
    changed = runtime.alerts.acknowledge_channel(
        name, by=principal.identity, to=to, note=(review or Review()).note
    )
    return {"channel": name, "changed": [a.id for a in changed]}
