"""Notification targets stored through the API (settings' own targets are never stored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import NotificationTargetRow


def list_targets(session: Session) -> Sequence[NotificationTargetRow]:
    return session.scalars(select(NotificationTargetRow).order_by(NotificationTargetRow.name)).all()


def get_target(session: Session, *, name: str) -> NotificationTargetRow | None:
    return session.get(NotificationTargetRow, name)


def create_target(session: Session, *, body: Mapping[str, Any], created_by: str) -> NotificationTargetRow:
    name = str(body["name"])
    if session.get(NotificationTargetRow, name) is not None:
        raise ConflictError("notification target", name, "already exists")
    row = NotificationTargetRow(name=name, type=str(body["type"]), body=dict(body), created_by=created_by)
    session.add(row)
    session.flush()
    return row


def delete_target(session: Session, *, name: str) -> None:
    row = session.get(NotificationTargetRow, name)
    if row is None:
        raise NotFoundError("notification target", name)
    session.delete(row)
    session.flush()
