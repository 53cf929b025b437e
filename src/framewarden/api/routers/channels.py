"""Live channels: create, list with state and stats, start, stop, stop stream, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from starlette.concurrency import run_in_threadpool

from framewarden.api.deps import AdminDep, ModeratorDep, RuntimeDep, SessionDep, ViewerDep
from framewarden.api.runtime import Runtime, controller_config
from framewarden.api.schemas import ChannelCreate, ChannelPublic
from framewarden.engines.capacity import CapacityError
from framewarden.pipeline.channels import check_channel_name, check_source
from framewarden.store import channels as repo

router = APIRouter(prefix="/v1/channels", tags=["channels"])


def _public(runtime: Runtime, row: Any) -> ChannelPublic:
    snap = runtime.channels.snapshot(row.name).to_dict() if row.name in runtime.channels else {}
    return ChannelPublic(
        name=row.name,
        source_url=row.source_url,
        desired_state=row.desired_state,
        trusted=row.trusted,
        controller=row.controller or {},
        state=snap.get("state", "stopped"),
        reason=snap.get("reason", ""),
        rule_id=snap.get("rule_id"),
        stats={k: v for k, v in snap.items() if k not in {"name", "source", "state", "reason", "trusted"}},
    )


@router.get("")
def list_channels(runtime: RuntimeDep, session: SessionDep, _: ViewerDep) -> list[ChannelPublic]:
    return [_public(runtime, row) for row in repo.list_channels(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelCreate, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    check_channel_name(body.name)
    check_source(body.source_url, runtime.settings)
    controller = controller_config(body.controller)  # validated before anything is stored
    with runtime.db.begin() as session:
        row = repo.create_channel(
            session,
            name=body.name,
            source_url=body.source_url,
            controller=body.controller or {},
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
    return _public(runtime, row)


@router.get("/{name}")
def get_channel(name: str, runtime: RuntimeDep, session: SessionDep, _: ViewerDep) -> ChannelPublic:
    return _public(runtime, repo.require_channel(session, name=name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> None:
    with runtime.db.begin() as session:
        repo.require_channel(session, name=name)
    if name in runtime.channels:
        await run_in_threadpool(runtime.channels.remove, name)
    with runtime.db.begin() as session:
        repo.delete_channel(session, name=name)


@router.post("/{name}/start")
def start_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="running")
    if name not in runtime.channels:
        runtime.channels.add(
            name, row.source_url, controller=controller_config(row.controller), trusted=row.trusted
        )
    else:
        runtime.channels.start(name)
    return _public(runtime, row)


@router.post("/{name}/stop")
async def stop_channel(name: str, runtime: RuntimeDep, _: AdminDep) -> ChannelPublic:
    """Stop analyzing (the stream itself keeps going)."""
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="stopped")
    if name in runtime.channels:
        await run_in_threadpool(runtime.channels.stop, name)
    return _public(runtime, row)


@router.post("/{name}/stop-stream")
async def stop_stream(name: str, runtime: RuntimeDep, principal: ModeratorDep) -> ChannelPublic:
    """A moderator's stop: drop the publisher at the streaming server, then stop the channel."""
    await run_in_threadpool(runtime.stop_stream, name, principal.identity)
    with runtime.db.begin() as session:
        row = repo.update_channel(session, name=name, desired_state="stopped")
    return _public(runtime, row)
