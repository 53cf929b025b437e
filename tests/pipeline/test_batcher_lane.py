"""The batcher's background lane: live frames go ahead of a video job's backlog."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from framewarden.media.frame import Frame
from framewarden.pipeline.batcher import BackgroundLane, InferenceBatcher
from framewarden.result import ModerationResult


def _frame(channel: str) -> Frame:
    return Frame(channel=channel, seq=0, pts_ms=0.0, image=np.zeros((4, 4, 3), np.uint8))


class _Recording:
    def __init__(self) -> None:
        self.order: list[str] = []
        self.gate = threading.Event()

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.gate.wait(5)
        self.order.extend(f.channel for f in frames)
        return [ModerationResult(f.channel, 4, 4, [], {}) for f in frames]


def test_live_frame_waits_for_one_batch_of_job_frames_not_the_backlog() -> None:
    model = _Recording()
    batcher = InferenceBatcher(model, max_batch=4, max_wait_ms=0).start()
    lane = BackgroundLane(batcher)
    job: list[Future[ModerationResult]] = []
    feeder = threading.Thread(target=lambda: job.extend(lane.submit(_frame(f"job{i}")) for i in range(40)))
    feeder.start()
    deadline = time.monotonic() + 5
    while len(job) < lane.max_in_flight and time.monotonic() < deadline:
        time.sleep(0.001)
    live = batcher.submit(_frame("live"))
    model.gate.set()
    live.result(5)
    feeder.join(10)
    assert all(f.result(5).source.startswith("job") for f in job)
    batcher.close(5)
    assert len(model.order) == 41
    assert model.order.index("live") <= 2 * lane.max_in_flight  # only the lane's slots ran before it
    assert [c for c in model.order if c != "live"] == [
        f"job{i}" for i in range(40)
    ]  # the job keeps its order


def test_plain_fifo_would_have_made_the_live_frame_wait() -> None:
    """The baseline the lane fixes: straight submits queue the live frame behind all 40."""
    model = _Recording()
    batcher = InferenceBatcher(model, max_batch=4, max_wait_ms=0).start()
    job = [batcher.submit(_frame(f"job{i}")) for i in range(40)]
    live = batcher.submit(_frame("live"))
    model.gate.set()
    live.result(5)
    for f in job:
        f.result(5)
    batcher.close(5)
    assert model.order.index("live") == 40


class _Sleepy:
    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        time.sleep(0.01 * len(frames))
        return [ModerationResult(f.channel, 4, 4, [], {}) for f in frames]


def _job_wall_s(share: float, live: bool) -> float:
    batcher = InferenceBatcher(_Sleepy(), max_batch=2, max_wait_ms=0).start()
    lane = BackgroundLane(batcher, max_in_flight=1, share=share, yield_to=lambda: live)
    t0 = time.perf_counter()
    for f in [lane.submit(_frame(f"job{i}")) for i in range(20)]:
        f.result(5)
    wall = time.perf_counter() - t0
    batcher.close(5)
    return wall


def test_share_paces_the_job_only_while_live_channels_run() -> None:
    busy = 20 * 0.01
    assert _job_wall_s(0.25, live=True) >= 3.0 * busy  # a quarter of the inference thread at most
    assert _job_wall_s(0.25, live=False) < 2.0 * busy  # alone, the job takes it all
