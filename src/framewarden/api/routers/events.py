"""``/v1/events``: a WebSocket pushing alerts, channel state and per-frame results.

Browsers cannot set headers on a WebSocket, so the key may come as ``?key=``.
``?kinds=alert,channel_state`` and ``?channel=NAME`` narrow the stream.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from framewarden.api.auth import presented_key
from framewarden.api.deps import authenticate
from framewarden.api.session import same_origin, session_principal

router = APIRouter(prefix="/v1", tags=["events"])
KINDS = {"alert", "alert_updated", "result", "channel_state", "notification", "job", "video_status", "speech"}


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
        await websocket.close(code=4401 if exc.status_code == 401 else 4403, reason=str(exc.detail))
        return
    if not principal.allows("viewer"):
        await websocket.close(code=4403, reason=f"role {principal.role!r} may not read events")
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
        with contextlib.suppress(RuntimeError):
            await websocket.close()
