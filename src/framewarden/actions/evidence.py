"""Evidence: the frame behind a verdict, kept as JPEG + its result JSON.

This is the one evidence writer of the package: live channels (through
:class:`~framewarden.actions.evidence_queue.EvidenceUploader`, off the frame
path) and scans (:mod:`framewarden.jobs.evidence`) both encode with
:func:`encode_jpeg` and write the pair with :meth:`EvidenceStore.write`.  They
differ only in the key stem: a live frame's is partitioned by time (below), a
scan frame's is the input's output stem plus its media time, so a video redone
after an interrupted scan overwrites its own files.

Moderators need to see what was flagged, and auditors need to see what was
not; both are sorted apart (``flagged/`` vs ``clean/``, clean only when
asked) and partitioned by channel and day, so retention can drop old days
cheaply and a reviewer can browse one channel's day.  Keys are built from
sanitised channel names and times only, never from client file names.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image

from framewarden.config import Settings, get_settings
from framewarden.store.blobs import BlobStore, open_blob_store

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KEY = re.compile(r"^(flagged|clean)/[^/]+/(\d{4}-\d{2}-\d{2})/(\d{6})-")


def safe_channel(channel: str) -> str:
    """A key part for ``channel``: safe characters only, a hash suffix when anything was changed."""
    cleaned = _UNSAFE.sub("_", channel).lstrip("._-")[:64]
    if cleaned == channel:
        return cleaned
    digest = hashlib.sha256(channel.encode()).hexdigest()[:8]
    return f"{cleaned or 'channel'}-{digest}"


def _as_datetime(at: datetime | float) -> datetime:
    if isinstance(at, datetime):
        return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.fromtimestamp(at, UTC)


def encode_jpeg(frame_rgb: np.ndarray) -> bytes:
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
        raise ValueError(
            f"evidence frame must be (H, W, 3) uint8 RGB, got {frame_rgb.shape} {frame_rgb.dtype}"
        )
    buf = io.BytesIO()
    Image.fromarray(frame_rgb, "RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def live_meta(
    stem: str, result_json: dict[str, Any], *, channel: str, flagged: bool, at: datetime | float
) -> dict[str, Any]:
    """The JSON kept beside a live frame."""
    return {
        "channel": channel,
        "flagged": flagged,
        "at": _as_datetime(at).isoformat(),
        "image": f"{stem}.jpg",
        "result": result_json,
    }


@dataclass(frozen=True, slots=True)
class Pruned:
    kept: int
    deleted: list[str]


class EvidenceStore:
    def __init__(self, blobs: BlobStore, *, keep_clean: bool = False) -> None:
        self.blobs = blobs
        self.keep_clean = keep_clean

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> EvidenceStore:
        settings = settings or get_settings()
        return cls(open_blob_store(settings=settings), keep_clean=settings.evidence_keep_clean)

    def plan(self, *, channel: str, flagged: bool, at: datetime | float) -> str | None:
        """The key stem a live frame gets (no extension), or None for a clean frame not kept."""
        if not flagged and not self.keep_clean:
            return None
        when = _as_datetime(at)
        folder = "flagged" if flagged else "clean"
        return (
            f"{folder}/{safe_channel(channel)}/{when:%Y-%m-%d}/{when:%H%M%S}-{when:%f}-{uuid.uuid4().hex[:8]}"
        )

    def write(self, stem: str, frame_rgb: np.ndarray, meta: dict[str, Any]) -> str:
        """``<stem>.jpg`` and ``<stem>.json`` (``meta``); returns the JPEG's key."""
        key = f"{stem}.jpg"
        self.blobs.put(key, encode_jpeg(frame_rgb), "image/jpeg")
        self.blobs.put(f"{stem}.json", json.dumps(meta, default=str).encode(), "application/json")
        return key

    def keep(
        self,
        frame_rgb: np.ndarray,
        result_json: dict[str, Any],
        *,
        channel: str,
        flagged: bool,
        at: datetime | float,
    ) -> str | None:
        """Store the frame and its result now; the JPEG's key, or None for a clean frame not kept."""
        stem = self.plan(channel=channel, flagged=flagged, at=at)
        if stem is None:
            return None
        return self.write(
            stem, frame_rgb, live_meta(stem, result_json, channel=channel, flagged=flagged, at=at)
        )

    def apply_retention(
        self, *, now: datetime | float, clean_days: float, flagged_days: float, dry_run: bool = False
    ) -> Pruned:
        """Delete clean evidence older than ``clean_days`` and flagged older than ``flagged_days``."""
        current = _as_datetime(now)
        limits = {
            "clean": current - timedelta(days=clean_days),
            "flagged": current - timedelta(days=flagged_days),
        }
        deleted: list[str] = []
        kept = 0
        for info in list(self.blobs.list()):
            match = _KEY.match(info.key)
            if match is None:
                continue  # not ours: leave it alone
            folder, day, hms = match.groups()
            stamp = datetime.strptime(f"{day} {hms}", "%Y-%m-%d %H%M%S").replace(tzinfo=UTC)
            if stamp < limits[folder]:
                deleted.append(info.key)
                if not dry_run:
                    self.blobs.delete(info.key)
            else:
                kept += 1
        log.info(
            "evidence retention: %d deleted%s, %d kept", len(deleted), " (dry run)" if dry_run else "", kept
        )
        return Pruned(kept, deleted)
