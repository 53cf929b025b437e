"""The sampler picks frames by media time: every frame, first-after, nearest keyframe."""

from __future__ import annotations

import itertools

import pytest

from framewarden.media.sampler import Sampler, use_keyframes_only


def run(sampler: Sampler[float], times: list[float]) -> list[float]:
    kept: list[float] = []
    for t in times:
        kept.extend(sampler.push(t, t))
    kept.extend(sampler.flush())
    return kept


def frames(fps: float, seconds: float, start: float = 0.0) -> list[float]:
    return [start + i / fps for i in range(round(seconds * fps))]


@pytest.mark.parametrize(
    ("times", "interval", "policy", "expected"),
    [
        ([], 1.0, "first", []),
        ([], 1.0, "nearest", []),
        ([0.0, 0.04, 0.08], 0.0, "first", [0.0, 0.04, 0.08]),
        ([0.0, 0.04, 0.08], 0.0, "nearest", [0.0, 0.04, 0.08]),
        # first frame at or after 0, 1, 2 s
        ([0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4], 1.0, "first", [0.0, 1.2, 2.0]),
        # timestamps a hair early (time-base rounding) still count as on time
        ([0.0, 0.9999, 1.9996], 1.0, "first", [0.0, 0.9999, 1.9996]),
        # a gap longer than the interval: one frame, not a burst
        ([0.0, 3.5, 3.6, 4.0], 1.0, "first", [0.0, 3.5, 4.0]),
        # nearest keyframe to 0, 3, 6, 9 among keyframes 0, 1.2, 3.04, 5.48, 7.48, 9.68 (bikes.mp4)
        ([0.0, 1.2, 3.04, 5.48, 7.48, 9.68], 3.0, "nearest", [0.0, 3.04, 5.48, 9.68]),
        # ties go to the earlier frame; a frame nearest two targets is emitted once
        ([0.0, 1.0, 5.0], 2.0, "nearest", [0.0, 1.0, 5.0]),
        # the stream starts late: sample times are counted from the first frame
        ([10.0, 10.5, 11.0, 11.5, 12.0], 1.0, "nearest", [10.0, 11.0, 12.0]),
    ],
)
def test_sampler_table(times: list[float], interval: float, policy: str, expected: list[float]) -> None:
    sampler: Sampler[float] = Sampler(interval, policy)  # type: ignore[arg-type]
    assert run(sampler, times) == expected


@pytest.mark.parametrize(
    ("fps", "interval", "expected"), [(25, 1.0, 10), (30, 0.5, 20), (29.97, 2.0, 5), (10, 0.1, 100)]
)
def test_every_frame_decoding_keeps_one_frame_per_interval(
    fps: float, interval: float, expected: int
) -> None:
    kept = run(Sampler(interval, "first"), frames(fps, 10.0))
    assert len(kept) == expected
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert all(abs(g - interval) < 1.0 / fps + 1e-9 for g in gaps)


def test_nearest_flushes_the_last_keyframe_only_when_nearer_the_next_sample() -> None:
    assert run(Sampler(2.0, "nearest"), [0.0, 2.0, 3.5]) == [0.0, 2.0, 3.5]
    assert run(Sampler(2.0, "nearest"), [0.0, 2.0, 2.5]) == [0.0, 2.0]


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="-1"):
        Sampler(-1.0)


@pytest.mark.parametrize(
    ("interval", "spacing", "expected"),
    [
        (0.0, 1.0, False),
        (1.0, None, False),
        (0.5, 1.0, False),
        (1.0, 1.0, True),
        (2.0, 1.0, True),
        (0.9995, 1.0, True),
    ],
)
def test_keyframes_only_when_interval_covers_the_spacing(
    interval: float, spacing: float | None, expected: bool
) -> None:
    assert use_keyframes_only(interval, spacing) is expected
