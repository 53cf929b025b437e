"""A tiny analyzer for tests: flags frames that show a red square.

The shared data is safe (no nudity), so end-to-end label tests burn a red box
into a clip with ffmpeg ``drawbox`` and register this analyzer, which reports
"Blood & Gore" (level 3; its ancestors come with it) on any frame where at
least ``min_fraction`` of the pixels are saturated red.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.media.frame import Frame

LABEL = "Blood & Gore"


class RedBoxConfig(AnalyzerConfig):
    type: Literal["redbox"] = "redbox"
    min_fraction: float = 0.005
    delay_ms: float = 0.0  # per batch: makes a scan slow enough to kill mid-way
    interval_s: float = 0.0  # like ocr_text: look at most once per interval of media time


@register("redbox", RedBoxConfig, "Test analyzer: red squares are Blood & Gore.")
class RedBox:
    name = "redbox"
    version = "1"

    def __init__(self, config: RedBoxConfig) -> None:
        self.config = config
        self._last_pts: dict[str, float] = {}

    def labels(self) -> frozenset[str]:
        return frozenset({LABEL})

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        if self.config.delay_ms:
            time.sleep(self.config.delay_ms / 1000)
        return [self._one(f) for f in frames]

    def _one(self, frame: Frame) -> list[Detection]:
        if self.config.interval_s:
            last = self._last_pts.get(frame.channel)
            if last is not None and 0 < frame.pts_ms - last < self.config.interval_s * 1000:
                return []  # not due: this frame is not looked at
            self._last_pts[frame.channel] = frame.pts_ms
        img = frame.image.astype(np.int16)
        red = (img[..., 0] > 170) & (img[..., 1] < 90) & (img[..., 2] < 90)
        if red.mean() < self.config.min_fraction:
            return []
        return [Detection(LABEL, 90.0, self.name, self.version, "red")]

    def close(self) -> None:
        pass
