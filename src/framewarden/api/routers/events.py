"""``/v1/events``: a WebSocket pushing alerts, channel state and per-frame results.

Browsers cannot set headers on a WebSocket, so the key may come as ``?key=``.
``?kinds=alert,channel_state`` and ``?channel=NAME`` narrow the stream.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from framewarden.api.auth import presented_key
from framewarden.api.deps import authenticate
from framewarden.api.session import same_origin, session_principal

router = APIRouter(prefix="/v1", tags=["events"])
KINDS = {"alert", "alert_updated", "result", "channel_state", "notification", "job", "video_status", "speech"}


async def _refuse(websocket: WebSocket, status: int, detail: str) -> None:
    """Refuse the handshake with a real HTTP 401/403 and ``{"detail": ...}`` as for every route.

    Servers without the denial-response extension get close code 4401/4403 instead
    (closing before accepting would otherwise reach the client as a bare 403).
    """
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    else:
        await websocket.close(code=4401 if status == 401 else 4403, reason=detail)


@router.websocket("/events")
async def events(
    websocket: WebSocket, key: str | None = None, kinds: str | None = None, channel: str | None = None
) -> None:
    runtime = websocket.app.state.runtime
    token = presented_key(websocket.headers.get("authorization"), websocket.headers.get("x-api-key"), key)
    try:
        principal = None
        if token is None and runtime.settings.auth_enabled and same_origin(websocket):
            principal = await run_in_threadpool(session_principal, websocket)  # the dashboard's cookie
        if principal is None:
            principal = await run_in_threadpool(authenticate, runtime, token)
    except HTTPException as exc:
        await _refuse(websocket, exc.status_code, str(exc.detail))
        return
    if not principal.allows("viewer"):
        await _refuse(websocket, 403, f"role {principal.role!r} may not read events")
        return
    wanted = {k.strip() for k in kinds.split(",")} & KINDS if kinds else None
    await websocket.accept()
    queue, unsubscribe = runtime.bus.subscribe_queue(asyncio.get_running_loop(), maxsize=1000, kinds=wanted)

    async def pump() -> None:
        await websocket.send_json(
            {"kind": "hello", "channels": [s.to_dict() for s in runtime.channels.snapshots()]}
        )
        while True:
            event = await queue.get()
            if channel is None or event.channel == channel:
                await websocket.send_json(event.to_dict())

    async def watch() -> None:
        # The client never sends; a disconnect (or server shutdown) ends the stream.
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.create_task(pump()), asyncio.create_task(watch())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        unsubscribe()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        # A client that left is not an error: closing an already-closed socket raises
        # WebSocketDisconnect (or RuntimeError), which the server would log as a crash.
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()
