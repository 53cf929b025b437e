"""The latest analyzed frame of each channel, kept in memory for the dashboard's live tiles.

It wraps the worker's evidence sink (every analyzed frame passes through
``keep``) and its inference submitter (to keep the detection boxes, which the
frame record does not carry), so the worker itself is unchanged: the frame's
array is only referenced, and a downscaled JPEG is encoded on the first
request for it.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from framewarden.media.frame import Frame
from framewarden.pipeline.context import FrameRecord, FrameSubmitter
from framewarden.result import ModerationResult

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
        self._boxes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, frame: Frame, record: FrameRecord) -> None:
        with self._lock:
            self._latest[record.channel] = _Latest(frame, record)

    def forget(self, channel: str) -> None:
        with self._lock:
            self._latest.pop(channel, None)
            self._boxes.pop(channel, None)

    def put_detections(self, frame: Frame, result: ModerationResult) -> None:
        """Keep the boxes of a frame's visible detections, as fractions of the picture."""
        width, height = frame.source_size
        boxes = [
            {
                "label": d.label,
                "confidence": round(d.confidence, 1),
                "analyzer": d.analyzer,
                **{k.lower(): round(v, 4) for k, v in d.box.to_relative(width, height).items()},
            }
            for d in result.visible_detections()
            if d.box is not None and width > 0 and height > 0
        ]
        with self._lock:
            self._boxes[frame.channel] = {"seq": frame.seq, "boxes": boxes}

    def detections(self, channel: str) -> dict[str, Any] | None:
        """``{"seq", "boxes": [{label, confidence, analyzer, left, top, width, height}]}``."""
        with self._lock:
            latest = self._boxes.get(channel)
        return dict(latest) if latest is not None else None

    def tap(self, batcher: Any) -> DetectionsTap:
        return DetectionsTap(self, batcher)

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


class DetectionsTap:
    """A frame submitter that remembers each channel's latest detections, then passes results on."""

    def __init__(self, latest: LatestFrames, inner: FrameSubmitter) -> None:
        self.latest = latest
        self.inner = inner

    def submit(self, frame: Frame) -> Future[ModerationResult]:
        future = self.inner.submit(frame)

        def keep(done: Future[ModerationResult]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.latest.put_detections(frame, done.result())

        future.add_done_callback(keep)
        return future

    def __getattr__(self, name: str) -> Any:  # anything else of the batcher, unchanged
        return getattr(self.inner, name)
