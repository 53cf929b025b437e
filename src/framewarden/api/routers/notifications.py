"""``GET /v1/notifications``: the notification delivery log, read-only, newest first.

The log names targets and carries delivery errors, which can quote the URL a
webhook was sent to; it is for the people who act on alerts (moderator and
up), not for viewers.  Credentials inside error text (``user:pass@`` in a URL,
``token=`` / ``secret=`` / ``key=``-style query values, bearer tokens) are
masked before they leave the server.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from framewarden.api.deps import ModeratorDep, SessionDep
from framewarden.api.schemas import Page
from framewarden.store import notifications as repo
from framewarden.store.models import Notification

router = APIRouter(prefix="/v1", tags=["notifications"])

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;\s](?:[A-Za-z_-]*(?:token|secret|key|password|passwd|signature|sig|auth)[A-Za-z_-]*))=[^&\s\"']+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<name>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """``text`` with URL credentials, secret-looking query values and bearer tokens masked."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _SECRET_PARAM.sub(r"\g<name>=***", text)
    return _BEARER.sub(r"\g<name>***", text)


class NotificationPublic(BaseModel):
    id: int
    target: str
    alert_id: int | None
    attempt: int
    status: str
    error: str | None
    at: datetime

    @classmethod
    def of(cls, row: Notification) -> NotificationPublic:
        return cls(
            id=row.id,
            target=row.target,
            alert_id=row.alert_id,
            attempt=row.attempt,
            status=row.status,
            error=redact_secrets(row.error) if row.error else row.error,
            at=row.at,
        )


@router.get("/notifications")
def list_notifications(
    session: SessionDep,
    _: ModeratorDep,
    target: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["ok", "retry", "failed", "dropped"] | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    """Delivery attempts, newest first; ``status=failed`` is what needs attention."""
    page = repo.list_notifications(session, target=target, status=status, cursor=cursor, limit=limit)
    items = [NotificationPublic.of(row).model_dump(mode="json") for row in page.items]
    return Page(items=items, next_cursor=page.next_cursor)
