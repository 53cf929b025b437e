"""Uploaded videos: their status machine, shared analyses and tags.

Status flow (``jobs/uploads.py`` drives it)::

    uploaded -> processing -> approved | rejected | needs_review
                         \\-> failed (with a reason)

A moderator may move a decided (or failed) video to approved or rejected
(an override, recorded with who did it).  Every change is a row of
``video_events``.  Videos with the same content hash share one analysis:
the first is the *owner*, later ones point at it with ``analysis_of``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from framewarden.errors import InputError
from framewarden.store.errors import ConflictError, NotFoundError
from framewarden.store.models import Video, VideoEvent, VideoTag, utcnow
from framewarden.store.pagination import Page, paginate

VideoStatus = Literal["uploaded", "processing", "approved", "rejected", "needs_review", "failed"]
STATUSES: tuple[str, ...] = ("uploaded", "processing", "approved", "rejected", "needs_review", "failed")
DECIDED = frozenset({"approved", "rejected", "needs_review"})
FINAL = DECIDED | {"failed"}
OVERRIDE_TO = frozenset({"approved", "rejected"})
# What the pipeline may do; overrides are checked apart (override_status).
_ALLOWED: dict[str, frozenset[str]] = {
    "uploaded": frozenset({"processing", "failed"} | DECIDED),  # DECIDED: a shared analysis was ready
    "processing": frozenset({"processing", "failed"} | DECIDED),  # processing again: resumed
    "failed": frozenset({"processing"}),  # a retry
}


def create_video(
    session: Session,
    *,
    content_hash: str,
    size_bytes: int,
    source: str,
    filename: str = "",
    uploader: str = "",
) -> Video:
    """A new upload; it shares the analysis of an earlier video with the same bytes, if any."""
    owner = find_owner(session, content_hash=content_hash)
    video = Video(
        id=uuid.uuid4().hex,
        status="uploaded",
        content_hash=content_hash,
        size_bytes=size_bytes,
        source=source,
        filename=filename[:255],
        uploader=uploader,
        analysis_of=owner.id if owner is not None else None,
        analysis={},
        verdict={},
        reasons=[],
        attempts=0,
    )
    session.add(video)
    session.flush()
    session.add(
        VideoEvent(video_id=video.id, from_status="", to_status="uploaded", actor=uploader or "system")
    )
    return video


def find_owner(session: Session, *, content_hash: str) -> Video | None:
    """The video that owns the analysis of these bytes (the oldest not failed), if any."""
    stmt = (
        select(Video)
        .where(Video.content_hash == content_hash, Video.analysis_of.is_(None), Video.status != "failed")
        .order_by(Video.created_at, Video.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def get_video(session: Session, *, video_id: str) -> Video | None:
    return session.get(Video, video_id)


def require_video(session: Session, *, video_id: str) -> Video:
    video = session.get(Video, video_id)
    if video is None:
        raise NotFoundError("video", video_id)
    return video


def set_status(
    session: Session,
    video: Video,
    status: str,
    *,
    actor: str = "system",
    note: str = "",
    failure: str | None = None,
) -> bool:
    """Move ``video`` to ``status`` (pipeline moves only); False when it already was there."""
    if status not in STATUSES:
        raise InputError("status", f"unknown status {status!r}")
    if video.status == status and status != "processing":
        return False
    if status not in _ALLOWED.get(video.status, frozenset()):
        raise ConflictError("video", video.id, f"cannot go from {video.status} to {status}")
    _record(session, video, status, actor, note)
    video.failure = failure if status == "failed" else None
    if status == "processing":
        video.attempts += 1
    return True


def override_status(session: Session, video: Video, status: str, *, actor: str, note: str = "") -> None:
    """A moderator's decision, recorded with their identity."""
    if status not in OVERRIDE_TO:
        raise InputError("status", f"an override sets approved or rejected, not {status!r}")
    if video.status not in FINAL:
        raise ConflictError("video", video.id, f"is still {video.status}; override a decided video")
    _record(session, video, status, actor, note)
    video.override_by = actor


def _record(session: Session, video: Video, status: str, actor: str, note: str) -> None:
    session.add(
        VideoEvent(video_id=video.id, from_status=video.status, to_status=status, actor=actor, note=note)
    )
    video.status = status
    video.updated_at = utcnow()
    if status in DECIDED:
        video.decided_at = video.updated_at


def history(session: Session, *, video_id: str) -> list[VideoEvent]:
    stmt = select(VideoEvent).where(VideoEvent.video_id == video_id).order_by(VideoEvent.id)
    return list(session.scalars(stmt))


def sharers(session: Session, *, owner_id: str) -> list[Video]:
    """Videos that wait for (or took) the analysis of ``owner_id``."""
    return list(session.scalars(select(Video).where(Video.analysis_of == owner_id).order_by(Video.id)))


def unfinished_owners(session: Session) -> list[str]:
    """Owners still to analyze (uploaded, or processing when the process died): resumed at start."""
    stmt = (
        select(Video.id)
        .where(Video.analysis_of.is_(None), Video.status.in_(("uploaded", "processing")))
        .order_by(Video.created_at, Video.id)
    )
    return list(session.scalars(stmt))


def orphaned_sharers(session: Session) -> list[Video]:
    """Sharers still waiting whose owner is already final (a crash between the two writes)."""
    stmt = select(Video).where(Video.analysis_of.is_not(None), Video.status.in_(("uploaded", "processing")))
    return list(session.scalars(stmt))


def set_tags(session: Session, video: Video, tags: Sequence[tuple[str, str]]) -> None:
    """Replace the searchable tags of ``video`` (name, kind) pairs; names are stored lower case."""
    session.execute(delete(VideoTag).where(VideoTag.video_id == video.id))
    seen: set[tuple[str, str]] = set()
    for name, kind in tags:
        key = (name.lower()[:200], kind)
        if key not in seen:
            seen.add(key)
            session.add(VideoTag(video_id=video.id, name=key[0], kind=kind))


def list_videos(
    session: Session,
    *,
    status: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Video]:
    """Videos newest first, by status and/or tag (a shared analysis's tags count for every sharer)."""
    stmt = select(Video)
    if status is not None:
        if status not in STATUSES:
            raise InputError("status", f"unknown status {status!r} (one of {', '.join(STATUSES)})")
        stmt = stmt.where(Video.status == status)
    if tag:
        owners = select(VideoTag.video_id).where(VideoTag.name == tag.lower())
        stmt = stmt.where(or_(Video.id.in_(owners), Video.analysis_of.in_(owners)))
    return paginate(
        session, stmt, sort=Video.created_at, key=Video.id, cursor=cursor, limit=limit, descending=True
    )


def video_dict(video: Video, analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    """The public view of a video (``analysis``: the owner's, for a sharer)."""
    body = analysis if analysis is not None else video.analysis
    return {
        "id": video.id,
        "status": video.status,
        "content_hash": video.content_hash,
        "size_bytes": video.size_bytes,
        "filename": video.filename,
        "uploader": video.uploader,
        "analysis_of": video.analysis_of,
        "verdict": video.verdict,
        "reasons": video.reasons,
        "failure": video.failure,
        "override_by": video.override_by,
        "created_at": video.created_at.isoformat(),
        "updated_at": video.updated_at.isoformat(),
        "decided_at": video.decided_at.isoformat() if video.decided_at else None,
        "tags": body.get("tags", []),
        "transcript": body.get("transcript", []),
        "text_labels": body.get("text_labels", []),
        "labels": body.get("labels", []),
        "has_audio": body.get("has_audio"),
        "language": body.get("language"),
    }
