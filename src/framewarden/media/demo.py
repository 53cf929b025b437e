"""The demo source of ``framewarden serve --demo``: a bundled clip played as a live stream.

It loops the clip forever and releases frames at their media time (like
``ffmpeg -re``), so the demo channel behaves like a real live channel:
results arrive at the pace of the video and latency means something.
The source URL ``demo:`` selects it; nothing else may follow the scheme (a
path there would let a client read any file the server can).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from framewarden.errors import ConfigError
from framewarden.media.frame import Frame
from framewarden.media.source import SourceStats, VideoSource, open_video
from framewarden.media.source_check import DEMO_SCHEME


def demo_clip() -> Path:
    return Path(str(resources.files("framewarden") / "data" / "demo.mp4"))


class DemoSource:
    """A looping, real-time-paced file source with the VideoSource surface the workers use."""

    def __init__(self, path: Path, *, timeout_s: float = 10.0) -> None:
        self.path = path
        self.source = f"{DEMO_SCHEME}{path}"
        self.timeout_s = timeout_s
        self.stats = SourceStats()
        self._closed = threading.Event()
        with open_video(str(path), live=False, timeout_s=timeout_s) as probe:
            self.metadata = probe.metadata

    def frames(
        self, *, channel: str, sample_interval_s: float = 0.0, max_side: int = 0, **_: Any
    ) -> Iterator[Frame]:
        start = time.monotonic()
        offset_ms = 0.0
        seq = 0
        decoded_before = 0
        while not self._closed.is_set():
            last_ms = 0.0
            source: VideoSource = open_video(str(self.path), live=False, timeout_s=self.timeout_s)
            try:
                for frame in source.frames(
                    channel=channel, sample_interval_s=sample_interval_s, max_side=max_side
                ):
                    pts = offset_ms + frame.pts_ms
                    delay = start + pts / 1000.0 - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return
                    self.stats.decoded = decoded_before + source.stats.decoded
                    self.stats.sampled += 1
                    last_ms = frame.pts_ms
                    yield dataclasses.replace(frame, seq=seq, pts_ms=pts, captured_at=time.time())
                    seq += 1
            finally:
                decoded_before += source.stats.decoded
                source.close()
            duration = source.metadata.duration_ms or last_ms
            offset_ms += float(duration or 1000.0)

    def close(self) -> None:
        self._closed.set()


def open_source_with_demo(source: str, *, timeout_s: float = 10.0) -> Any:
    """The server's source opener: ``demo:`` URLs get a DemoSource, others a live VideoSource."""
    if source.startswith(DEMO_SCHEME):
        if source != DEMO_SCHEME:  # checked at the API too; this is the last line of defence
            raise ConfigError(f"{source}: demo: plays only the bundled demo clip")
        return DemoSource(demo_clip(), timeout_s=timeout_s)
    return open_video(source, live=True, timeout_s=timeout_s)
