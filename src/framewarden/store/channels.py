"""Channels: a named live source, its rule, its stream controller's name and its desired state.

The controller itself is defined in the server's settings (``[controllers.NAME]``):
a channel only names it, so nothing stored through the API can run a program.

``desired_state`` is what the operator asked for (running / stopped), kept so
a restarted server brings the same channels back up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from framewarden.errors import InputError
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import Channel, utcnow

DesiredState = Literal["running", "stopped"]
DESIRED_STATES = ("running", "stopped")
_UNSET: Any = object()


def create_channel(
    session: Session,
    *,
    name: str,
    source_url: str = "",
    rule_id: str | None = None,
    controller_name: str | None = None,
    trusted: bool = False,
    desired_state: DesiredState = "stopped",
) -> Channel:
    if not name.strip():
        raise InputError("channel name", "must not be empty")
    _check_state(desired_state)
    if get_channel(session, name=name) is not None:
        raise ConflictError("channel", name, "already exists")
    channel = Channel(
        name=name,
        source_url=source_url,
        rule_id=rule_id,
        controller_name=controller_name or None,
        trusted=trusted,
        desired_state=desired_state,
    )
    session.add(channel)
    session.flush()
    return channel


def get_channel(session: Session, *, name: str) -> Channel | None:
    return session.scalar(select(Channel).where(Channel.name == name))


def require_channel(session: Session, *, name: str) -> Channel:
    channel = get_channel(session, name=name)
    if channel is None:
        raise NotFoundError("channel", name)
    return channel


def list_channels(session: Session, *, desired_state: DesiredState | None = None) -> Sequence[Channel]:
    stmt = select(Channel).order_by(Channel.name)
    if desired_state is not None:
        stmt = stmt.where(Channel.desired_state == desired_state)
    return session.scalars(stmt).all()


def update_channel(
    session: Session,
    *,
    name: str,
    source_url: str = _UNSET,
    rule_id: str | None = _UNSET,
    controller_name: str | None = _UNSET,
    trusted: bool = _UNSET,
    desired_state: DesiredState = _UNSET,
) -> Channel:
    """Change the given fields only (``rule_id=None`` clears the rule)."""
    channel = require_channel(session, name=name)
    if desired_state is not _UNSET:
        _check_state(desired_state)
        channel.desired_state = desired_state
    if source_url is not _UNSET:
        channel.source_url = source_url
    if rule_id is not _UNSET:
        channel.rule_id = rule_id
    if controller_name is not _UNSET:
        channel.controller_name = controller_name or None
    if trusted is not _UNSET:
        channel.trusted = trusted
    channel.updated_at = utcnow()
    session.flush()
    return channel


def delete_channel(session: Session, *, name: str) -> None:
    session.delete(require_channel(session, name=name))
    session.flush()


def _check_state(state: str) -> None:
    if state not in DESIRED_STATES:
        raise InputError("desired_state", f"{state!r} is not one of {', '.join(DESIRED_STATES)}")
