"""The latest analyzed frame of each channel, kept in memory for the dashboard's live tiles.

It wraps the worker's evidence sink (every analyzed frame passes through
``keep``), so the worker itself is unchanged: the frame's array is only
referenced, and a downscaled JPEG is encoded on the first request for it.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from framewarden.media.frame import Frame
from framewarden.pipeline.context import FrameRecord

TILE_MAX_SIDE = 640
TILE_QUALITY = 75


@dataclass(slots=True)
class _Latest:
    frame: Frame
    record: FrameRecord
    jpeg: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class LatestFrames:
    """Channel -> its latest analyzed frame; thread-safe, one entry per channel."""

    def __init__(self, max_side: int = TILE_MAX_SIDE) -> None:
        self.max_side = max_side
        self._latest: dict[str, _Latest] = {}
        self._lock = threading.Lock()

    def put(self, frame: Frame, record: FrameRecord) -> None:
        with self._lock:
            self._latest[record.channel] = _Latest(frame, record)

    def forget(self, channel: str) -> None:
        with self._lock:
            self._latest.pop(channel, None)

    def seq(self, channel: str) -> int | None:
        with self._lock:
            entry = self._latest.get(channel)
        return entry.record.seq if entry else None

    def jpeg(self, channel: str) -> tuple[int, bytes] | None:
        """(seq, JPEG bytes) of the channel's latest frame, downscaled; None before the first."""
        with self._lock:
            entry = self._latest.get(channel)
        if entry is None:
            return None
        with entry.lock:
            if entry.jpeg is None:
                entry.jpeg = encode_tile(entry.frame, self.max_side)
            return entry.record.seq, entry.jpeg

    def wrap(self, sink: Any) -> LatestFrameSink:
        return LatestFrameSink(self, sink)


def encode_tile(frame: Frame, max_side: int) -> bytes:
    image = Image.fromarray(frame.image, "RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=TILE_QUALITY)
    return buf.getvalue()


class LatestFrameSink:
    """An evidence sink that remembers each analyzed frame, then delegates."""

    def __init__(self, latest: LatestFrames, inner: Any) -> None:
        self.latest = latest
        self.inner = inner

    def keep(self, frame: Frame, record: FrameRecord) -> str:
        self.latest.put(frame, record)
        key: str = self.inner.keep(frame, record)
        return key
