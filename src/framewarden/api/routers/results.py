"""Per-frame results of a channel, by time range, paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from framewarden.api.deps import SessionDep, ViewerDep
from framewarden.api.schemas import Page, ResultPublic
from framewarden.store import channels as channels_repo
from framewarden.store import results as repo
from framewarden.store.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["results"])


@router.get("/channels/{name}/results")
def channel_results(
    name: str,
    session: SessionDep,
    _: ViewerDep,
    since: datetime | None = None,
    until: datetime | None = None,
    flagged_only: bool = False,
    newest_first: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page:
    page = repo.list_channel_results(
        session,
        channel=name,
        since=since,
        until=until,
        flagged_only=flagged_only,
        newest_first=newest_first,
        cursor=cursor,
        limit=limit,
    )
    if not page.items and cursor is None and channels_repo.get_channel(session, name=name) is None:
        # 404 as for every other channel route; a deleted channel's stored results stay readable.
        raise NotFoundError("channel", name)
    items = [ResultPublic.model_validate(r, from_attributes=True).model_dump(mode="json") for r in page.items]
    return Page(items=items, next_cursor=page.next_cursor)
