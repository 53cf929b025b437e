"""The frame that travels from a source to the analyzers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded picture, RGB always (converted at the edge).

    ``image`` may be smaller than the source picture (scaled in the decoder);
    ``source_size`` is the original (width, height), so analyzers report boxes
    in source-image pixels.  Frozen and picklable, so a Ray actor can take
    the place of a thread later.
    """

    channel: str
    seq: int
    pts_ms: float  # media time, from the stream's time base
    image: np.ndarray  # (H, W, 3) uint8 RGB
    source_size: tuple[int, int] = (0, 0)  # (width, height); (0, 0) = image size
    captured_at: float = 0.0  # wall clock (time.time()) at arrival, for latency
    keyframe: bool = False
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"Frame.image must be (H, W, 3) uint8 RGB, got {self.image.shape} {self.image.dtype}"
            )
        if self.source_size == (0, 0):
            object.__setattr__(self, "source_size", (self.image.shape[1], self.image.shape[0]))

    @property
    def width(self) -> int:
        return int(self.source_size[0])

    @property
    def height(self) -> int:
        return int(self.source_size[1])

    @property
    def scale(self) -> tuple[float, float]:
        """Factors (x, y) from ``image`` pixels to source pixels."""
        h, w = self.image.shape[:2]
        return self.source_size[0] / w, self.source_size[1] / h
