"""vPDQ: PDQ per video frame, in the format and with the matching of Meta's vPDQ.

A vPDQ hash is the list of ``frame_number,quality,pdq_hex64,timestamp_seconds``
lines that ThreatExchange's ``vpdq-hash-video`` writes, so hashes made here
can be exchanged with (and matched against) upstream lists.  What decides
compatibility, as in upstream's ``filehasher.cpp``:

* every *decoded* frame counts (frame_number = decoder output index), and
  ``seconds_per_hash`` keeps frame numbers divisible by ``int(s * fps)``;
* frames are hashed as decoded (no rotation applied), converted to RGB24 by
  swscale with area averaging, optionally to a fixed downsample size;
* the timestamp is ``frame_number / fps`` (avg_frame_rate, else r_frame_rate),
  written with 3 decimals.

Matching treats each side as a bag of unique hashes, drops quality < 50,
and reports the percentage of each side found in the other at distance <= 31.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pdqhash

from framewarden.errors import InputError

if TYPE_CHECKING:
    from framewarden.config import Settings

MAX_DISTANCE = 31
MIN_QUALITY = 50
MIN_HASHABLE_SIDE = 5  # upstream refuses frames smaller than 5x5


@dataclass(frozen=True, slots=True)
class VpdqFeature:
    frame_number: int
    quality: int
    pdq_hex: str
    timestamp_s: float

    def to_line(self) -> str:
        return f"{self.frame_number},{self.quality},{self.pdq_hex},{self.timestamp_s:.3f}"

    @classmethod
    def from_line(cls, line: str, *, source: str = "<vpdq>") -> VpdqFeature:
        parts = line.strip().split(",")
        try:
            number, quality, pdq_hex, ts = parts
            value = pdq_hex.strip().lower()
            bytes.fromhex(value)
            if len(value) != 64:
                raise ValueError(value)
            return cls(int(number), int(quality), value, float(ts))
        except ValueError:
            shown = line.strip()[:90]
            raise InputError(source, f"not a vPDQ line (frame,quality,hex64,seconds): {shown!r}") from None


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    query_match_percent: float  # share of the query's unique frames found in the compared video
    compared_match_percent: float  # share of the compared video's unique frames found in the query

    def is_match(self, compared_threshold: float = 80.0, query_threshold: float = 0.0) -> bool:
        compared_ok = self.compared_match_percent >= compared_threshold
        return compared_ok and self.query_match_percent >= query_threshold


def hash_video(
    source: str,
    *,
    seconds_per_hash: float = 0.0,
    downsample: int | tuple[int, int] = 0,
    timeout_s: float = 10.0,
    settings: Settings | None = None,
) -> list[VpdqFeature]:
    """vPDQ of a video (any source :func:`~framewarden.media.source.open_video` takes).

    ``downsample``: 0 = hash at the coded size; N or (W, H) = frames resized to
    that size first (upstream's ``-s``; its sample hashes use 128x128).
    """
    from framewarden.media.source import open_video

    if seconds_per_hash < 0:
        raise ValueError(f"seconds_per_hash must be >= 0, got {seconds_per_hash}")
    size = (downsample, downsample) if isinstance(downsample, int) else downsample
    if size[0] < 0 or size[1] < 0:
        raise ValueError(f"downsample must be >= 0, got {downsample}")
    with open_video(source, timeout_s=timeout_s, settings=settings) as video:
        meta = video.metadata
        fps = meta.frame_rate
        if fps <= 0:
            raise InputError(source, "frame rate unknown: cannot time vPDQ frames")
        width = size[0] or meta.width
        height = size[1] or meta.height
        if width < MIN_HASHABLE_SIDE or height < MIN_HASHABLE_SIDE:
            raise InputError(source, f"frames of {width}x{height} are too small to hash (minimum 5x5)")
        every = max(1, int(seconds_per_hash * fps))
        features: list[VpdqFeature] = []
        for decoded in video.decoded_frames():
            if decoded.number % every:
                continue
            rgb = decoded.frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
            bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
            hex64 = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
            features.append(VpdqFeature(decoded.number, int(quality), hex64, decoded.number / fps))
    if not features:
        raise InputError(source, "no frame decoded: nothing to hash")
    return features


def format_lines(features: Iterable[VpdqFeature]) -> str:
    return "".join(f.to_line() + "\n" for f in features)


def parse_lines(text: str, *, source: str = "<vpdq>") -> list[VpdqFeature]:
    return [VpdqFeature.from_line(line, source=source) for line in text.splitlines() if line.strip()]


def read_hashes(path: str | Path) -> list[VpdqFeature]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    return parse_lines(text, source=str(path))


def _usable(features: Sequence[VpdqFeature], min_quality: int) -> list[str]:
    """Unique hashes (first occurrence kept, as upstream's dedupe) of sufficient quality."""
    seen: dict[str, None] = {}
    for f in features:
        if f.quality >= min_quality and f.pdq_hex not in seen:
            seen[f.pdq_hex] = None
    return list(seen)


def _words(hexes: Sequence[str]) -> np.ndarray:
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").astype(np.uint64).reshape(-1, 4)


def distance_matrix(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Hamming distances (len(a), len(b)) between two lists of hex PDQ hashes."""
    wa, wb = _words(a), _words(b)
    out = np.zeros((len(a), len(b)), dtype=np.int32)
    for i in range(4):
        out += np.bitwise_count(wa[:, i : i + 1] ^ wb[None, :, i]).astype(np.int32)
    return out


def match(
    query: Sequence[VpdqFeature],
    compared: Sequence[VpdqFeature],
    *,
    max_distance: int = MAX_DISTANCE,
    min_quality: int = MIN_QUALITY,
) -> VpdqMatch:
    """Upstream's brute-force vPDQ comparison (percentages 0-100; 0 when a side has no usable frame)."""
    q = _usable(query, min_quality)
    c = _usable(compared, min_quality)
    if not q or not c:
        return VpdqMatch(0.0, 0.0)
    close = distance_matrix(q, c) <= max_distance
    return VpdqMatch(
        float(close.any(axis=1).sum()) * 100.0 / len(q),
        float(close.any(axis=0).sum()) * 100.0 / len(c),
    )
