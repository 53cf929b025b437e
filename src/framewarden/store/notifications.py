"""The notification delivery log: every attempt to send an alert to a target.

The notifier dispatcher calls a ``recorder(target, alert_id, attempt, status,
error, at)`` from its own threads; :func:`make_recorder` gives it one that
writes each call in its own short transaction, so a failed delivery is
visible in the dashboard even while the dispatcher keeps retrying.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from framewarden.store.db import Database
from framewarden.store.models import Notification, utcnow
from framewarden.store.pagination import Page, paginate

log = logging.getLogger(__name__)

Recorder = Callable[[str, int | None, int, str, str | None, datetime | float | None], None]


def record_notification(
    session: Session,
    *,
    target: str,
    alert_id: int | None,
    attempt: int,
    status: str,
    error: str | None = None,
    at: datetime | float | None = None,
) -> Notification:
    """Log one attempt; ``at`` is a datetime or a Unix time (default: now)."""
    when = datetime.fromtimestamp(at, UTC) if isinstance(at, int | float) else (at or utcnow())
    row = Notification(target=target, alert_id=alert_id, attempt=attempt, status=status, error=error, at=when)
    session.add(row)
    session.flush()
    return row


def make_recorder(db: Database) -> Recorder:
    """A thread-safe ``recorder`` callable for the notifier dispatcher."""

    def recorder(
        target: str,
        alert_id: int | None,
        attempt: int,
        status: str,
        error: str | None,
        at: datetime | float | None = None,
    ) -> None:
        with db.begin() as session:
            record_notification(
                session, target=target, alert_id=alert_id, attempt=attempt, status=status, error=error, at=at
            )

    return recorder


def list_alert_notifications(session: Session, *, alert_id: int) -> Sequence[Notification]:
    """An alert's delivery attempts, oldest first."""
    stmt = (
        select(Notification)
        .where(Notification.alert_id == alert_id)
        .order_by(Notification.at, Notification.id)
    )
    return session.scalars(stmt).all()


def list_notifications(
    session: Session,
    *,
    target: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Notification]:
    """The delivery log, newest first (``status="failed"``: what the dashboard shows in red)."""
    stmt = select(Notification)
    if target is not None:
        stmt = stmt.where(Notification.target == target)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    return paginate(
        session, stmt, sort=Notification.at, key=Notification.id, cursor=cursor, limit=limit, descending=True
    )
