"""Dedup: near-duplicates skipped, drift re-checked, forced re-check by media time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from framewarden.media.frame import Frame
from framewarden.pipeline.dedup import Deduplicator, dhash, hamming
from tests.conftest import IMAGES


def _frame(image: np.ndarray, pts_ms: float, seq: int = 0) -> Frame:
    return Frame(channel="c", seq=seq, pts_ms=pts_ms, image=image)


def _photo(name: str = "astronaut.png", size: tuple[int, int] = (320, 240)) -> np.ndarray:
    with Image.open(IMAGES / name) as img:
        return np.asarray(img.convert("RGB").resize(size))


def _gradient(w: int = 160, h: int = 120, shift: int = 0) -> np.ndarray:
    x = (np.arange(w) * 5 + shift) % 256
    img = np.broadcast_to(x[None, :, None], (h, w, 3)).astype(np.uint8)
    return np.ascontiguousarray(img)


@pytest.mark.parametrize(
    ("shape",),
    [((1, 1, 3),), ((3, 2, 3),), ((8, 9, 3),), ((240, 320, 3),), ((1080, 1920, 3),)],
)
def test_dhash_any_size(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    h = dhash(img)
    assert 0 <= h < 2**64
    assert dhash(img.copy()) == h


def test_dhash_distinguishes_real_photos() -> None:
    names = ["astronaut.png", "baboon.jpg", "camera.png", "coffee.png", "rocket.jpg"]
    hashes = [dhash(_photo(n)) for n in names]
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            assert hamming(hashes[i], hashes[j]) > 8, (names[i], names[j])


def test_dhash_stable_under_noise_and_scale() -> None:
    img = _photo()
    rng = np.random.default_rng(1)
    noisy = np.clip(img.astype(np.int16) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    half = _photo(size=(160, 120))
    assert hamming(dhash(img), dhash(noisy)) <= 4
    assert hamming(dhash(img), dhash(half)) <= 6


@pytest.mark.parametrize(
    ("enabled", "expected_passed", "expected_skipped"),
    [(False, 5, 0), (True, 1, 4)],
)
def test_identical_frames(enabled: bool, expected_passed: int, expected_skipped: int) -> None:
    dedup = Deduplicator(enabled=enabled)
    img = _photo()
    decisions = [dedup.should_analyze(_frame(img, i * 100.0, i)) for i in range(5)]
    assert decisions[0] is True
    assert (dedup.passed, dedup.skipped) == (expected_passed, expected_skipped)


def test_scene_change_is_analyzed() -> None:
    dedup = Deduplicator()
    assert dedup.should_analyze(_frame(_photo("astronaut.png"), 0))
    assert not dedup.should_analyze(_frame(_photo("astronaut.png"), 40))
    assert dedup.should_analyze(_frame(_photo("baboon.jpg"), 80))


def test_slow_drift_is_rechecked() -> None:
    """Each frame is a near-duplicate of the previous one, but the scene ends far away.

    If skipped frames moved the reference, nothing after the first frame would
    ever be analyzed.
    """
    dedup = Deduplicator(max_distance=8, max_gap_s=1000.0)
    steps = 200
    frames = [_frame(_gradient(shift=s), s * 40.0, s) for s in range(steps)]
    consecutive = [hamming(dhash(a.image), dhash(b.image)) for a, b in itertools.pairwise(frames)]
    assert max(consecutive) <= 8, "the drift must be below the threshold frame to frame"
    analyzed = [f for f in frames if dedup.should_analyze(f)]
    assert len(analyzed) >= 3
    assert dedup.skipped > 0
    # Every skipped frame is within the threshold of the last analyzed one before it.
    ref = frames[0]
    checker = {id(f) for f in analyzed}
    for f in frames:
        if id(f) in checker:
            ref = f
        else:
            assert hamming(dhash(f.image), dhash(ref.image)) <= 8


@pytest.mark.parametrize(
    ("max_gap_s", "pts_ms", "expected"),
    [
        (10.0, [0, 5_000, 9_999, 10_001, 12_000, 20_002], [True, False, False, True, False, True]),
        (0.0, [0, 0, 1], [True, False, True]),
        (2.0, [5_000, 1_000], [True, True]),  # media time went backwards: re-check
    ],
)
def test_forced_recheck_by_media_time(max_gap_s: float, pts_ms: list[float], expected: list[bool]) -> None:
    dedup = Deduplicator(max_gap_s=max_gap_s)
    img = _photo()
    assert [dedup.should_analyze(_frame(img, p)) for p in pts_ms] == expected


def test_reset_forces_next_frame() -> None:
    dedup = Deduplicator()
    img = _photo()
    assert dedup.should_analyze(_frame(img, 0))
    assert not dedup.should_analyze(_frame(img, 1))
    dedup.reset()
    assert dedup.should_analyze(_frame(img, 2))


@pytest.mark.parametrize(
    ("kwargs",), [({"max_distance": -1},), ({"max_gap_s": -1.0},), ({"max_cell_delta": -1.0},)]
)
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Deduplicator(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("box_side", "noise", "expected"),
    [
        (0, 0, False),  # identical
        (0, 5, False),  # sensor/compression noise only
        (40, 0, True),  # a new object of ~2% of the picture
        (80, 0, True),
    ],
)
def test_small_new_object_is_analyzed(box_side: int, noise: int, expected: bool) -> None:
    """A 64-bit hash alone lets a small object through; the cell guard must not."""
    base = _photo("coffee.png")
    changed = base.copy()
    changed[20 : 20 + box_side, 20 : 20 + box_side] = (255, 0, 0)
    if noise:
        rng = np.random.default_rng(2)
        changed = np.clip(changed.astype(np.int16) + rng.integers(-noise, noise + 1, changed.shape), 0, 255)
        changed = changed.astype(np.uint8)
    dedup = Deduplicator()
    assert dedup.should_analyze(_frame(base, 0))
    assert dedup.should_analyze(_frame(changed, 40)) is expected


def test_cell_guard_can_be_relaxed() -> None:
    base = _photo("coffee.png")
    changed = base.copy()
    changed[20:60, 20:60] = (255, 0, 0)
    dedup = Deduplicator(max_cell_delta=255)
    assert dedup.should_analyze(_frame(base, 0))
    assert hamming(dhash(base), dhash(changed)) <= 8  # the hash alone would skip it
    assert not dedup.should_analyze(_frame(changed, 40))
