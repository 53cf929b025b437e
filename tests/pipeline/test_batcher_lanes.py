"""InferenceBatcher with several lanes (inference threads): concurrent, complete, same answers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from framewarden.analyzers.base import Detection, config_for
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.context import MemoryResultSink, WorkerContext
from framewarden.pipeline.metrics import PipelineMetrics
from framewarden.pipeline.worker import ChannelSpec, ChannelWorker
from framewarden.result import ModerationResult
from framewarden.rules.models import Rule
from tests.conftest import real_images


class BarrierModerator:
    """Each call waits until ``parties`` calls are in flight at once: only concurrent lanes get past."""

    def __init__(self, parties: int, timeout_s: float = 5.0) -> None:
        self.barrier = threading.Barrier(parties, timeout=timeout_s)
        self.threads: set[str] = set()

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()
        return [_result(f) for f in frames]


class CountingModerator:
    """Labels each frame with its red value; counts the frames it saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, int]] = []
        self.release = threading.Event()

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.release.wait(5.0)
        with self.lock:
            self.seen.extend((f.channel, f.seq) for f in frames)
        return [_result(f) for f in frames]


def _result(f: Frame) -> ModerationResult:
    red = float(f.image[..., 0].mean()) / 2.55
    return ModerationResult(
        source=f.channel,
        width=f.width,
        height=f.height,
        detections=[Detection("Weapons", red, "t", "1", "red")],
        model_versions={"t": "1"},
        pts_ms=f.pts_ms,
    )


def _frame(channel: str, seq: int, red: int = 0) -> Frame:
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = red
    return Frame(channel=channel, seq=seq, pts_ms=seq * 40.0, image=img)


def test_lanes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lanes"):
        InferenceBatcher(CountingModerator(), lanes=0)


@pytest.mark.parametrize("lanes", [2, 3])
def test_lanes_run_batches_at_the_same_time(lanes: int) -> None:
    """``lanes`` batches are in the moderator at once (one lane would break the barrier)."""
    mod = BarrierModerator(lanes)
    batcher = InferenceBatcher(mod, max_batch=1, max_wait_ms=0, lanes=lanes).start()
    try:
        futures = [batcher.submit(_frame("c", i, red=i)) for i in range(lanes)]
        results = [f.result(timeout=10) for f in futures]
    finally:
        batcher.close(5.0)
    assert [round(r.detections[0].confidence * 2.55) for r in results] == list(range(lanes))
    assert len(mod.threads) == lanes


def test_one_lane_is_serial() -> None:
    """The control for the test above: one lane never has two batches in flight."""
    mod = BarrierModerator(2, timeout_s=0.5)
    batcher = InferenceBatcher(mod, max_batch=1, max_wait_ms=0, lanes=1).start()
    try:
        future = batcher.submit(_frame("c", 0))
        with pytest.raises(threading.BrokenBarrierError):
            future.result(timeout=10)
    finally:
        batcher.close(5.0)


def test_close_serves_every_frame_and_ends_every_lane() -> None:
    """Frames queued before close() are all served; no lane waits forever for its stop signal."""
    mod = CountingModerator()
    batcher = InferenceBatcher(mod, max_batch=2, max_wait_ms=0, lanes=3).start()
    futures = [batcher.submit(_frame(f"ch{i % 4}", i, red=i)) for i in range(40)]
    closer = threading.Thread(target=batcher.close, args=(10.0,))
    closer.start()  # close() while the lanes are still blocked: the queue holds frames and stops
    mod.release.set()
    closer.join(15.0)
    assert not closer.is_alive()
    assert all(not t.is_alive() for t in batcher._threads)
    assert [round(f.result(0).detections[0].confidence * 2.55) for f in futures] == list(range(40))
    assert sorted(mod.seen, key=lambda s: s[1]) == [(f"ch{i % 4}", i) for i in range(40)]


class ImageSource:
    """A source of real photographs at 5 frames/s of media time (stands in for the network only)."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.stats = type("Stats", (), {"decoded": 0, "keyframes_only": False})()

    def frames(self, *, channel: str, sample_interval_s: float, max_side: int) -> Any:
        for i, img in enumerate(self.images):
            self.stats.decoded += 1
            yield Frame(channel=channel, seq=i, pts_ms=i * 200.0, image=img)

    def close(self) -> None:
        """Nothing to release."""


def _verdicts(lanes: int, images: list[np.ndarray]) -> dict[tuple[str, int], tuple[dict[str, float], bool]]:
    """Four channels of the same photographs through real workers and the ONNX models, ``lanes`` threads."""
    from prometheus_client import CollectorRegistry

    sink = MemoryResultSink(per_channel=1000)
    batcher = InferenceBatcher(
        # Both ONNX analyzers, every label kept (min 1%): safe photographs still give scores to compare.
        Moderator([config_for("nudenet"), config_for("image_safety")], min_confidence=1.0),
        max_batch=1,
        max_wait_ms=0,
        lanes=lanes,
    ).start()
    rule = Rule(
        id="r",
        channel_pattern=".*",
        sample_interval_s=0.0,
        labels={"Explicit": 50},
        similarity={"enabled": False},
    )
    ctx = WorkerContext(batcher=batcher, results=sink, metrics=PipelineMetrics(CollectorRegistry()))
    ctx.open_source = lambda url, timeout_s: ImageSource(images)
    threads = []
    for n in range(4):
        worker = ChannelWorker(ChannelSpec(f"cam{n}", f"rtmp://h/live/cam{n}", rule, queue_size=64), ctx)
        t = threading.Thread(target=worker.run_session, args=(threading.Event(),))
        threads.append(t)
        t.start()
    for t in threads:
        t.join(120.0)
    batcher.close(10.0)
    return {(r.channel, r.seq): (dict(r.labels), r.verdict.flagged) for r in sink}


def test_two_lanes_give_the_same_verdicts_as_one() -> None:
    """Real channel workers, real models: the same labels and verdicts per frame with 1 and 2 lanes."""
    images = [np.asarray(Image.open(p).convert("RGB")) for p in real_images()[:6]]
    one, two = _verdicts(1, images), _verdicts(2, images)
    assert len(one) == 4 * len(images)
    assert two == one
    assert sum(bool(labels) for labels, _ in one.values()) >= 4  # something was found to compare
