"""The stall watchdog: a publisher gone silent shows at once, a stale replay never looks live.

Scripted sources carry a real :class:`~framewarden.media.stall.StallDetector`;
the worker, supervisor, inference and events are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from framewarden.events import EventBus
from framewarden.media.frame import Frame
from framewarden.media.srt_relay import ListenTimeoutError
from framewarden.media.stall import StallDetector
from framewarden.pipeline.supervisor import Backoff, ChannelSupervisor
from framewarden.pipeline.worker import ChannelState, ChannelWorker
from tests.e2e.harness import wait_until
from tests.pipeline.test_supervisor import _states
from tests.pipeline.test_worker import (
    Opener,
    ScriptedSource,
    cam_spec,
    distinct_images,
    make_context,
    make_rule,
)

__all__ = ["make_context"]
SLOW = Backoff(initial_s=30.0, cap_s=30.0)  # the first reconnect waits: the test sees the state it left


class SilentSource(ScriptedSource):
    """Frames at real time (25 fps, ``burst``: all at once), then a read that blocks until aborted."""

    def __init__(self, n: int, *, burst: bool = False) -> None:
        super().__init__(distinct_images(n))
        self.stall = StallDetector(stall_frames=10, frame_interval_s=0.04, min_s=0.2)  # window 0.4 s
        self.burst = burst
        self.aborted = 0.0
        self.hold.set()

    def frames(self, *, channel: str, sample_interval_s: float = 0.0, max_side: int = 0) -> Iterator[Frame]:
        for frame in super().frames(channel=channel, sample_interval_s=sample_interval_s, max_side=max_side):
            if not self.burst:
                time.sleep(0.04)
            self.stall.packet(time.time(), frame.pts_ms / 1000.0)
            yield frame

    def abort(self) -> None:
        self.aborted = time.time()
        self.hold.clear()


def test_a_silent_publisher_shows_reconnecting_within_the_window(make_context: Any) -> None:
    events = EventBus()
    states = _states(events)
    source = SilentSource(15)
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=Opener(source), events=events)), backoff=SLOW
    )
    supervisor.start()
    try:
        assert wait_until(lambda: supervisor.state is ChannelState.LIVE, 5.0)
        assert wait_until(lambda: source.stats.decoded == 15, 5.0)
        last_data = time.time()
        assert wait_until(lambda: supervisor.state is ChannelState.RECONNECTING, 5.0, 0.02)
        noticed = time.time() - last_data
        assert noticed < 2.0, f"stall noticed after {noticed:.2f} s (window 0.4 s, read timeout 10 s)"
        assert "stalled (no data for" in supervisor.reason
        assert source.aborted, "the watchdog aborts the blocked read"
        assert wait_until(lambda: supervisor.snapshot().stats["analyzed"] == 15, 5.0), (
            "received frames are judged"
        )
    finally:
        supervisor.stop(5.0)
    assert states[:3] == ["starting", "live", "reconnecting"]


def test_a_single_burst_never_announces_live(make_context: Any) -> None:
    """A stale HLS playlist replays one segment and stops: the channel stays reconnecting, not live."""
    events = EventBus()
    states = _states(events)
    source = SilentSource(10, burst=True)
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=Opener(source), events=events)), backoff=SLOW
    )
    supervisor.start()
    try:
        assert wait_until(lambda: supervisor.state is ChannelState.RECONNECTING, 5.0)
        assert wait_until(lambda: supervisor.snapshot().stats["analyzed"] == 10, 5.0)
    finally:
        supervisor.stop(5.0)
    assert "live" not in states


def test_a_listener_without_publisher_listens_again_at_once(make_context: Any) -> None:
    """A listener's empty wait is no failure: no backoff (it would close the port), no reconnect counted."""
    waits = [ListenTimeoutError("srt://0.0.0.0:9000?mode=listener", "no SRT publisher called within 0.1 s")]
    opener = Opener(*(waits * 3), SilentSource(15))
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=opener)), backoff=SLOW
    )
    supervisor.start()
    try:
        assert wait_until(lambda: supervisor.state is ChannelState.LIVE, 5.0), supervisor.reason
        assert opener.opened == 4 and supervisor.reconnects == 0
    finally:
        supervisor.stop(5.0)
