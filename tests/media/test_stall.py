"""The stall detector: real-time streams, bursty HLS delivery, jumps, and what counts as live."""

from __future__ import annotations

import pytest

from framewarden.media.stall import StallDetector


def _feed(
    detector: StallDetector, start: float, frames: int, fps: float = 25.0, media0: float = 0.0
) -> float:
    """``frames`` packets delivered in real time from wall clock ``start``; returns the last arrival."""
    t = start
    for i in range(frames):
        t = start + i / fps
        detector.packet(t, media0 + i / fps)
    return t


def test_no_data_yet_is_not_a_stall() -> None:
    assert StallDetector().stalled_for(1e9) is None
    assert not StallDetector().advancing


def test_real_time_stream_stalls_after_n_frame_intervals() -> None:
    detector = StallDetector(stall_frames=30, frame_interval_s=0.04, min_s=0.5)
    last = _feed(detector, 1000.0, 100)
    assert detector.window_s == pytest.approx(1.2)
    assert detector.stalled_for(last + 1.1) is None
    gone = detector.stalled_for(last + 1.3)
    assert gone == pytest.approx(1.3)
    assert detector.advancing


@pytest.mark.parametrize(
    ("frames", "fps", "min_s", "window"), [(30, 25, 0.5, 1.2), (5, 25, 0.5, 0.5), (30, 5, 0.5, 6.0)]
)
def test_window_is_n_intervals_with_a_floor(frames: int, fps: float, min_s: float, window: float) -> None:
    detector = StallDetector(stall_frames=frames, frame_interval_s=1 / fps, min_s=min_s)
    assert detector.window_s == pytest.approx(window)


def test_hls_bursts_are_not_stalls_but_a_missing_segment_is() -> None:
    """Each 2 s segment arrives at once; the next is due 2 s later, so the gap between is normal."""
    detector = StallDetector(stall_frames=30, frame_interval_s=0.04, min_s=0.5)
    wall = 1000.0
    for segment in range(4):
        arrived = wall + segment * 2.0
        for i in range(50):  # 2 s of media within a few milliseconds
            detector.packet(arrived + i * 0.0001, segment * 2.0 + i * 0.04)
        assert detector.stalled_for(arrived + 1.9) is None  # waiting for the next segment
    last = wall + 3 * 2.0
    assert detector.stalled_for(last + 2.0 + 1.0) is None  # due + less than the window
    assert detector.stalled_for(last + 2.0 + 1.3) is not None  # the next segment never came


def test_a_single_burst_is_not_advancing() -> None:
    """A stale playlist replays one segment in a burst and nothing more: not a live stream."""
    detector = StallDetector()
    for i in range(25):
        detector.packet(500.0 + i * 0.001, i * 0.04)
    assert not detector.advancing


def test_timestamp_jump_restarts_the_clock() -> None:
    """A looped or restarted publisher's media time jumps: neither a huge lead nor a negative one sticks."""
    detector = StallDetector(stall_frames=10, frame_interval_s=0.04, min_s=0.5)
    last = _feed(detector, 0.0, 50)
    detector.packet(last + 0.04, 3600.0)  # far ahead
    assert detector.due_at() == pytest.approx(last + 0.04)
    detector.packet(last + 0.08, 0.0)  # back to zero
    assert detector.due_at() == pytest.approx(last + 0.08)
    assert detector.stalled_for(last + 0.08 + 0.6) is not None


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        StallDetector(stall_frames=0)
