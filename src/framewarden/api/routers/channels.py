"""Live channels: create, list with state and stats, start, stop, stop stream, delete.

Handlers are plain ``def``: FastAPI runs them in its thread pool, so database
waits (SQLite's busy timeout) and worker joins never block the event loop
that carries the WebSocket events.

Source URLs carry credentials: every answer masks them (``rtsp://***@host``)
except an admin's read of one channel, the place an admin edits it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from framewarden.api.deps import AdminDep, ModeratorDep, RuntimeDep, SessionDep, ViewerDep
from framewarden.api.runtime import Runtime
from framewarden.api.schemas import ChannelCreate, ChannelPublic
from framewarden.engines.capacity import CapacityError
from framewarden.pipeline.channels import check_channel_name, check_source
from framewarden.redact import redact_text, redact_url
from framewarden.store import channels as repo

router = APIRouter(prefix="/v1/channels", tags=["channels"])
_NOT_STATS = {"name", "source", "state", "reason", "trusted", "controller"}


def _public(
    runtime: Runtime, row: Any, *, reveal: bool = False, snaps: dict[str, dict[str, Any]] | None = None
) -> ChannelPublic:
    """``snaps``: every channel's snapshot, read once for a list (on Ray a snapshot is a call)."""
    if snaps is not None:
        snap = snaps.get(row.name, {})
    else:
        snap = runtime.channels.snapshot(row.name).to_dict() if row.name in runtime.channels else {}
    return ChannelPublic(
        name=row.name,
        source_url=row.source_url if reveal else redact_url(row.source_url),
        desired_state=row.desired_state,
        trusted=row.trusted,
        controller=row.controller_name,
        state=snap.get("state", "stopped"),
        reason=redact_text(snap.get("reason", "")),
        rule_id=snap.get("rule_id"),
        stats={k: v for k, v in snap.items() if k not in _NOT_STATS},
    )


@router.get("")
def list_channels(runtime: RuntimeDep, session: SessionDep, _: ViewerDep) -> list[ChannelPublic]:
    snaps = {s.name: s.to_dict() for s in runtime.channels.snapshots()}
    return [_public(runtime, row, snaps=snaps) for row in repo.list_channels(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelCreate, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    check_channel_name(body.name)
    check_source(body.source_url, runtime.settings)
    # Resolved (and the name checked) before anything is stored.
    controller = runtime.controllers.build(body.controller, source=body.source_url)
    with runtime.db.begin() as session:
        row = repo.create_channel(
            session,
            name=body.name,
            source_url=body.source_url,
            controller_name=body.controller,
            trusted=body.trusted,
            desired_state="running" if body.start else "stopped",
        )
    try:
        runtime.channels.add(
            body.name, body.source_url, controller=controller, trusted=body.trusted, start=body.start
        )
    except CapacityError:  # refused by the cluster (HTTP 503): nothing stays behind
        with runtime.db.begin() as session:
            repo.delete_channel(session, name=body.name)
        raise
    return _public(runtime, row, reveal=True)


@router.get("/{name}")
def get_channel(name: str, runtime: RuntimeDep, session: SessionDep, principal: ViewerDep) -> ChannelPublic:
    """One channel; an admin sees the source URL in full (to edit it), other roles masked."""
    return _public(runtime, repo.require_channel(session, name=name), reveal=principal.allows("admin"))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> None:
    with runtime.db.read() as session:
        repo.require_channel(session, name=name)
    if name in runtime.channels:
        runtime.channels.remove(name)
    with runtime.db.begin() as session:
        repo.delete_channel(session, name=name)


@router.post("/{name}/start")
def start_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    with runtime.db.read() as session:
        row = repo.require_channel(session, name=name)
    if name not in runtime.channels:
        controller = runtime.controllers.build(row.controller_name, source=row.source_url)
        runtime.channels.add(name, row.source_url, controller=controller, trusted=row.trusted)
    else:
        runtime.channels.start(name)  # refuses a channel held in error
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="running")
    return _public(runtime, row)


@router.post("/{name}/stop")
def stop_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    """Stop analyzing (the stream itself keeps going)."""
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="stopped")
    if name in runtime.channels:
        runtime.channels.stop(name)
    return _public(runtime, row)


@router.post(
    "/{name}/stop-stream",
    responses={502: {"description": "The stream controller failed; nothing changed."}},
)
def stop_stream(name: str, runtime: RuntimeDep, principal: ModeratorDep) -> ChannelPublic:
    """A moderator's stop: drop the publisher at the streaming server, then stop the channel.

    When the controller fails the answer is 502 with the reason, the channel
    keeps running and its open alerts record the failure.
    """
    with runtime.db.read() as session:
        repo.require_channel(session, name=name)
    runtime.stop_stream(name, principal.identity)
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="stopped")
    return _public(runtime, row)
