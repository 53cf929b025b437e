"""InferenceBatcher: micro-batches across threads, failures isolated per batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError

import numpy as np
import pytest

from framewarden.analyzers.base import Detection
from framewarden.media.frame import Frame
from framewarden.pipeline.batcher import BatcherClosedError, InferenceBatcher, InferenceSaturatedError
from framewarden.result import ModerationResult


class RecordingModerator:
    """Labels each frame with its mean red value; records the batches it saw."""

    def __init__(self, delay_s: float = 0.0, fail_on_channel: str | None = None) -> None:
        self.batches: list[list[tuple[str, int]]] = []
        self.threads: set[str] = set()
        self.delay_s = delay_s
        self.fail_on_channel = fail_on_channel
        self.gate = threading.Event()
        self.gate.set()

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.gate.wait(5)
        self.threads.add(threading.current_thread().name)
        self.batches.append([(f.channel, f.seq) for f in frames])
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on_channel and any(f.channel == self.fail_on_channel for f in frames):
            raise RuntimeError("model crashed")
        return [
            ModerationResult(
                source=f.channel,
                width=f.width,
                height=f.height,
                detections=[Detection("Weapons", float(f.image[..., 0].mean()) / 2.55, "t", "1", "red")],
                model_versions={"t": "1"},
                pts_ms=f.pts_ms,
            )
            for f in frames
        ]


def _frame(channel: str, seq: int, red: int = 0) -> Frame:
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = red
    return Frame(channel=channel, seq=seq, pts_ms=seq * 40.0, image=img)


def test_results_match_their_frames() -> None:
    mod = RecordingModerator()
    with InferenceBatcher(mod, max_batch=4) as batcher:
        futures = [batcher.submit(_frame("a", i, red=i * 10)) for i in range(20)]
        results = [f.result(5) for f in futures]
    assert [r.pts_ms for r in results] == [i * 40.0 for i in range(20)]
    assert [round(r.detections[0].confidence * 2.55) for r in results] == [i * 10 for i in range(20)]
    assert batcher.stats.frames == 20
    assert all(len(b) <= 4 for b in mod.batches)
    assert mod.threads == {"fw-inference"}


@pytest.mark.parametrize(
    ("max_batch", "n", "expected_batches"), [(1, 1, 1), (1, 5, 5), (8, 8, 2), (8, 20, 4), (3, 7, 3)]
)
def test_queued_frames_are_batched(max_batch: int, n: int, expected_batches: int) -> None:
    mod = RecordingModerator()
    mod.gate.clear()  # hold the first batch so the rest piles up
    batcher = InferenceBatcher(mod, max_batch=max_batch, max_wait_ms=0).start()
    first = batcher.submit(_frame("a", 0))
    time.sleep(0.05)  # the thread now waits in moderate_frames with frame 0
    futures = [batcher.submit(_frame("a", i)) for i in range(1, n)]
    mod.gate.set()
    for f in [first, *futures]:
        f.result(5)
    batcher.close(5)
    # The first batch held only frame 0; the rest came in full batches.
    assert mod.batches[0] == [("a", 0)]
    assert len(mod.batches) == expected_batches
    assert sum(len(b) for b in mod.batches) == n
    assert batcher.stats.batches == expected_batches


def test_batches_mix_callers_from_many_threads() -> None:
    mod = RecordingModerator(delay_s=0.01)
    batcher = InferenceBatcher(mod, max_batch=8, max_wait_ms=5).start()
    out: dict[str, list[ModerationResult]] = {}

    def channel(name: str) -> None:
        futs = [batcher.submit(_frame(name, i)) for i in range(30)]
        out[name] = [f.result(10) for f in futs]

    threads = [threading.Thread(target=channel, args=(f"ch{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close(5)
    assert {k: [r.source for r in v] for k, v in out.items()} == {f"ch{i}": [f"ch{i}"] * 30 for i in range(4)}
    assert any(len({c for c, _ in b}) > 1 for b in mod.batches), "no batch mixed channels"
    assert batcher.stats.frames == 120
    assert batcher.stats.mean_batch > 1


def test_exception_fails_only_that_batch() -> None:
    mod = RecordingModerator(fail_on_channel="bad")
    batcher = InferenceBatcher(mod, max_batch=1).start()
    good1 = batcher.submit(_frame("ok", 0))
    bad = batcher.submit(_frame("bad", 1))
    good2 = batcher.submit(_frame("ok", 2))
    assert good1.result(5).source == "ok"
    with pytest.raises(RuntimeError, match="model crashed"):
        bad.result(5)
    assert good2.result(5).source == "ok"
    batcher.close(5)
    assert batcher.stats.failed_batches == 1
    assert batcher.stats.frames == 2


def test_wrong_result_count_fails_batch() -> None:
    class Short(RecordingModerator):
        def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
            return super().moderate_frames(frames)[:-1]

    batcher = InferenceBatcher(Short(), max_batch=1).start()
    with pytest.raises(RuntimeError, match="0 results for 1 frames"):
        batcher.submit(_frame("a", 0)).result(5)
    batcher.close(5)


def test_close_finishes_submitted_frames_then_refuses() -> None:
    mod = RecordingModerator(delay_s=0.005)
    batcher = InferenceBatcher(mod, max_batch=2).start()
    futures = [batcher.submit(_frame("a", i)) for i in range(10)]
    batcher.close(10)
    assert all(f.done() and not f.cancelled() for f in futures)
    with pytest.raises(BatcherClosedError):
        batcher.submit(_frame("a", 99))
    batcher.close()  # idempotent


def test_close_without_start_cancels() -> None:
    batcher = InferenceBatcher(RecordingModerator())
    fut = batcher.submit(_frame("a", 0))
    batcher.close(1)
    with pytest.raises(CancelledError):
        fut.result(1)


def test_latency_samples_recorded() -> None:
    with InferenceBatcher(RecordingModerator(delay_s=0.002), max_batch=1) as batcher:
        for i in range(3):
            batcher.submit(_frame("a", i)).result(5)
    assert len(batcher.stats.latency_ms) == 3
    assert min(batcher.stats.latency_ms) > 0


@pytest.mark.parametrize(("kwargs",), [({"max_batch": 0},), ({"max_wait_ms": -1},)])
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        InferenceBatcher(RecordingModerator(), **kwargs)  # type: ignore[arg-type]


def test_full_queue_refuses_without_blocking() -> None:
    mod = RecordingModerator()
    mod.gate.clear()  # the inference thread holds the first batch
    with InferenceBatcher(mod, max_batch=1, max_queue=3) as batcher:
        held = [batcher.submit(_frame("a", i)) for i in range(3)]
        assert batcher.pending == 3
        t0 = time.perf_counter()
        with pytest.raises(InferenceSaturatedError) as info:
            batcher.submit(_frame("b", 0), block=False)
        assert time.perf_counter() - t0 < 4  # blocking would wait for the gate (5 s)
        assert info.value.retry_after_s >= 1.0
        with pytest.raises(InferenceSaturatedError):
            batcher.submit(_frame("b", 1), timeout=0.05)
        mod.gate.set()
        assert [f.result(5).source for f in held] == ["a", "a", "a"]
        assert batcher.submit(_frame("c", 0), block=False).result(5).source == "c"
    assert batcher.pending == 0


def test_cancelled_frame_frees_its_place_and_is_never_inferred() -> None:
    mod = RecordingModerator()
    mod.gate.clear()
    with InferenceBatcher(mod, max_batch=1, max_queue=2) as batcher:
        first = batcher.submit(_frame("a", 0))
        deadline = time.monotonic() + 5
        while not first.running() and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until the thread has taken it (it is then stuck on the gate)
        timed_out = batcher.submit(_frame("gone", 1))
        with pytest.raises(InferenceSaturatedError):
            batcher.submit(_frame("b", 2), block=False)
        assert timed_out.cancel()  # what a request that timed out does
        assert batcher.pending == 1
        later = batcher.submit(_frame("b", 3), block=False)  # the cancelled frame's place
        mod.gate.set()
        assert later.result(5).source == "b"
        assert first.result(5).source == "a"
    seen = [c for batch in mod.batches for c, _ in batch]
    assert "gone" not in seen
    assert seen == ["a", "b"]


def test_blocked_submit_wakes_when_room_frees() -> None:
    mod = RecordingModerator(delay_s=0.02)
    with InferenceBatcher(mod, max_batch=2, max_queue=2) as batcher:
        futures = [batcher.submit(_frame("a", i)) for i in range(10)]  # blocks, never refuses
        assert [f.result(5).pts_ms for f in futures] == [i * 40.0 for i in range(10)]
