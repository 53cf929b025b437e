"""Skip frames that look like the last frame we analyzed.

Most of a stream or a stored video is the same scene for seconds at a time;
running the models on each near-identical frame costs time and finds nothing
new.  A 64-bit difference hash (dHash) of a small grayscale downscale is
compared by Hamming distance with the hash of the channel's last *analyzed*
frame.  Two choices matter for safety:

* a skipped frame never becomes the reference, otherwise a scene that drifts
  slowly (a few bits per frame) would be skipped forever while it changes
  completely;
* a frame more than ``max_gap_s`` of media time after the reference is always
  analyzed, so even a static picture is re-checked now and then;
* a 64-bit hash within 8 bits misses an object that covers less than about a
  tenth of the picture (only the bits at its edges flip), which is exactly
  what moderation must not miss.  So a frame is also analyzed when any cell
  of a 16x16 luma thumbnail changed by more than ``max_cell_delta`` gray
  levels since the reference: cheap (same subsample), robust to noise and
  compression (cells average ~20 samples), and sensitive to a new object of
  a few percent of the picture.

The hash is computed on a strided subsample of the frame, so its cost does
not grow with the resolution (well under a millisecond for 1080p).
"""

from __future__ import annotations

import threading

import numpy as np

from framewarden.media.frame import Frame

HASH_W, HASH_H = 9, 8  # dHash: 8 differences per row, 8 rows -> 64 bits
THUMB = 16  # cells per side of the local-change thumbnail
_SUBSAMPLE = 72  # pixels kept per side before the area average (multiple of 9 and 8)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _small_luma(image: np.ndarray) -> np.ndarray:
    """Luma of a regular subsample of at most 72x72 pixels (cost independent of size)."""
    h, w = image.shape[:2]
    ys = np.linspace(0, h - 1, num=min(h, _SUBSAMPLE)).astype(np.intp)
    xs = np.linspace(0, w - 1, num=min(w, _SUBSAMPLE)).astype(np.intp)
    return image[ys[:, None], xs[None, :]].astype(np.float32) @ _LUMA


def _dhash_of(small: np.ndarray) -> int:
    cells = _cell_means(small, HASH_H, HASH_W)
    bits = (cells[:, 1:] > cells[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash of an (H, W, 3) uint8 RGB image.

    The image is subsampled on a regular grid to at most 72x72 pixels,
    averaged into 9x8 cells of luma, and each bit says whether a cell is
    brighter than its right-hand neighbour.
    """
    return _dhash_of(_small_luma(image))


def thumbnail(image: np.ndarray) -> np.ndarray:
    """16x16 cell means of luma (float), for the local-change guard."""
    return _cell_means(_small_luma(image), THUMB, THUMB)


def _cell_means(gray: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Average ``gray`` into a (rows, cols) grid of cells (any input size >= 1)."""
    h, w = gray.shape
    r_edges = np.linspace(0, h, rows + 1).astype(np.intp)
    c_edges = np.linspace(0, w, cols + 1).astype(np.intp)
    # Integral image: each cell mean in O(1), including cells narrower than a pixel.
    integral = np.zeros((h + 1, w + 1), dtype=np.float64)
    integral[1:, 1:] = gray.cumsum(0).cumsum(1)
    r0, r1 = r_edges[:-1], np.maximum(r_edges[1:], r_edges[:-1] + 1).clip(max=h)
    c0, c1 = c_edges[:-1], np.maximum(c_edges[1:], c_edges[:-1] + 1).clip(max=w)
    r0 = np.minimum(r0, r1 - 1)
    c0 = np.minimum(c0, c1 - 1)
    total = (
        integral[r1[:, None], c1[None, :]]
        - integral[r0[:, None], c1[None, :]]
        - integral[r1[:, None], c0[None, :]]
        + integral[r0[:, None], c0[None, :]]
    )
    area = (r1 - r0)[:, None] * (c1 - c0)[None, :]
    return total / area


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class Deduplicator:
    """Per-channel near-duplicate filter (one instance per channel or video).

    ``should_analyze`` is True for a frame that must go to the analyzers; it
    then becomes the reference.  Thread-safe, though one channel's frames
    normally arrive from one thread.
    """

    def __init__(
        self,
        enabled: bool = True,
        max_distance: int = 8,
        max_gap_s: float = 10.0,
        *,
        max_cell_delta: float = 24.0,
    ) -> None:
        if max_distance < 0:
            raise ValueError(f"max_distance must be >= 0, got {max_distance}")
        if max_gap_s < 0:
            raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s}")
        if max_cell_delta < 0:
            raise ValueError(f"max_cell_delta must be >= 0, got {max_cell_delta}")
        self.enabled = enabled
        self.max_distance = max_distance
        self.max_gap_s = max_gap_s
        self.max_cell_delta = max_cell_delta
        self.skipped = 0
        self.passed = 0
        self._ref_hash: int | None = None
        self._ref_thumb: np.ndarray | None = None
        self._ref_pts_ms = 0.0
        self._lock = threading.Lock()

    def should_analyze(self, frame: Frame) -> bool:
        if not self.enabled:
            with self._lock:
                self.passed += 1
            return True
        small = _small_luma(frame.image)
        h = _dhash_of(small)
        thumb = _cell_means(small, THUMB, THUMB)
        with self._lock:
            ref, ref_thumb = self._ref_hash, self._ref_thumb
            gap_ms = frame.pts_ms - self._ref_pts_ms
            # A backwards jump in media time (seek, reconnect) also forces a check.
            too_old = gap_ms > self.max_gap_s * 1000.0 or gap_ms < 0
            if (
                ref is None
                or ref_thumb is None
                or too_old
                or hamming(h, ref) > self.max_distance
                or float(np.abs(thumb - ref_thumb).max()) > self.max_cell_delta
            ):
                self._ref_hash, self._ref_thumb = h, thumb
                self._ref_pts_ms = frame.pts_ms
                self.passed += 1
                return True
            self.skipped += 1
            return False

    def reset(self) -> None:
        """Forget the reference (a new stream, a reconnect): next frame is analyzed."""
        with self._lock:
            self._ref_hash = None
            self._ref_thumb = None
