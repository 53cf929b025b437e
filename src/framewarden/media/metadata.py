"""What a video is, as ffprobe and Rekognition describe it.

Jobs report ``VideoMetadata`` in Rekognition's shape (``GetContentModeration``
returns it), and the sampler needs the keyframe spacing to decide whether
keyframes-only decoding covers the sample interval.  The figures are read
from the container (PyAV) the way ffprobe reads them, so a user comparing
with ``ffprobe`` sees the same numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

    from framewarden.config import Settings

# Keyframe spacing is estimated from this many keyframes at the start of the
# video: enough to see a regular GOP, few enough to stay cheap for live input.
KEYFRAMES_FOR_SPACING = 9


@dataclass(frozen=True, slots=True)
class VideoMetadata:
    """One video stream of a container.

    ``rotation`` is the display-matrix angle in degrees (counter-clockwise, as
    ffprobe prints it), normalised to 0/90/180/270; frames from a source are
    already turned upright.  ``width``/``height`` are the coded size, as
    ffprobe and Rekognition report them.  ``duration_ms`` is 0 when unknown
    (a live stream).
    """

    codec: str
    format: str  # FFmpeg's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration_ms: int
    frame_rate: float
    width: int
    height: int
    rotation: int = 0
    keyframe_interval_s: float | None = None
    format_long_name: str = ""  # e.g. "QuickTime / MOV" (Rekognition's "Format")
    codec_long_name: str = ""

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the upright picture."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    def to_rekognition(self) -> dict[str, Any]:
        return {
            "Codec": self.codec,
            "DurationMillis": int(self.duration_ms),
            "Format": self.format_long_name or self.format,
            "FrameRate": round(float(self.frame_rate), 3),
            "FrameHeight": int(self.height),
            "FrameWidth": int(self.width),
        }


def stream_frame_rate(stream: VideoStream) -> float:
    """avg_frame_rate, else r_frame_rate (as vPDQ and Rekognition use them)."""
    for rate in (stream.average_rate, stream.base_rate, stream.guessed_rate):
        if rate is not None and rate.numerator and rate.denominator:
            return float(rate)
    return 0.0


def container_duration_ms(container: InputContainer, stream: VideoStream) -> int | None:
    """Duration from the container header, else from the stream; None if neither has one."""
    if container.duration is not None and container.duration > 0:
        return round(container.duration / 1000)  # AV_TIME_BASE is microseconds
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base) * 1000)
    return None


def duration_from_packets(
    packets: Iterable[tuple[int | None, int | None]], time_base: Fraction, start: int | None
) -> int | None:
    """End of the last packet minus the start, in ms: for files without a duration header.

    ``packets`` yields (pts, duration) in ``time_base`` units.
    """
    end: int | None = None
    first: int | None = None
    for pts, dur in packets:
        if pts is None:
            continue
        first = pts if first is None else min(first, pts)
        stop = pts + (dur or 0)
        end = stop if end is None else max(end, stop)
    if end is None:
        return None
    origin = start if start is not None else first
    return round(float((end - (origin or 0)) * time_base) * 1000)


def keyframe_spacing(times_s: Sequence[float], limit: int = KEYFRAMES_FOR_SPACING) -> float | None:
    """Largest gap between the first ``limit`` keyframe times; None with fewer than two.

    The largest, not the mean: keyframes-only decoding must never leave a
    sample interval without a keyframe in the regular GOPs.
    """
    first = sorted(set(times_s))[:limit]
    if len(first) < 2:
        return None
    gap = max(b - a for a, b in itertools.pairwise(first))
    return gap if gap > 0 and math.isfinite(gap) else None


def build_metadata(
    container: InputContainer,
    stream: VideoStream,
    *,
    duration_ms: int | None,
    rotation: int,
    keyframe_interval_s: float | None,
) -> VideoMetadata:
    cc = stream.codec_context
    fmt = container.format
    return VideoMetadata(
        codec=cc.name if cc is not None else "",
        format=fmt.name if fmt is not None else "",
        duration_ms=int(duration_ms or 0),
        frame_rate=stream_frame_rate(stream),
        width=int(cc.width if cc is not None else 0),
        height=int(cc.height if cc is not None else 0),
        rotation=normalise_rotation(rotation),
        keyframe_interval_s=keyframe_interval_s,
        format_long_name=(fmt.long_name or "") if fmt is not None else "",
        codec_long_name=(cc.codec.long_name or "") if cc is not None else "",
    )


def normalise_rotation(degrees: float) -> int:
    return round(degrees / 90.0) % 4 * 90


def probe(source: str, *, timeout_s: float = 10.0, settings: Settings | None = None) -> VideoMetadata:
    """Open ``source`` only to read its metadata (see :func:`framewarden.media.source.open_video`)."""
    from framewarden.media.source import open_video  # source builds on this module

    with open_video(source, timeout_s=timeout_s, settings=settings) as video:
        return video.metadata
