"""Micro-batching of frames from many callers into a few inference threads.

Some models run faster on a batch than on frames one at a time.  Every video
of a scan and every live channel submits its frames here; an inference thread
(a *lane*) takes what is waiting (up to ``max_batch``, waiting at most
``max_wait_ms`` for a batch to fill once the first frame is in) and calls
``moderator.moderate_frames`` once for all of them.  By default there is one
lane, so analyzers are called from one thread at a time; ``lanes=N`` runs N
threads on the one queue (``framewarden serve`` uses 2 for live channels: one
lane saturated first, docs/live.md), which needs analyzers that may run
concurrently (ONNX Runtime sessions may; OCR and the hash list lock).  Callers get a
:class:`~concurrent.futures.Future` per frame, so decoding (in the caller's
thread) and inference (here) overlap.

The queue is bounded (``max_queue`` frames waiting or in inference): a caller
that prefers completeness (a file) blocks in :meth:`InferenceBatcher.submit`
until there is room, a caller that prefers an answer now (a pushed image)
passes ``block=False`` and gets :class:`InferenceSaturatedError` at once.  A
cancelled future (a request that timed out) frees its place at once and its
frame is never inferred.  An exception from the moderator fails only the
futures of that batch.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from framewarden.media.frame import Frame
from framewarden.result import ModerationResult

log = logging.getLogger(__name__)

_LATENCY_SAMPLES = 1024


class FrameModerator(Protocol):
    """What the batcher needs of :class:`framewarden.Moderator`."""

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]: ...


def _samples() -> collections.deque[Any]:
    return collections.deque(maxlen=_LATENCY_SAMPLES)


@dataclass
class BatcherStats:
    """Counters of the inference thread (read them from any thread)."""

    batches: int = 0
    frames: int = 0
    failed_batches: int = 0
    # Recent inference latencies of whole batches, milliseconds.
    latency_ms: collections.deque[float] = field(default_factory=lambda: _samples())
    batch_sizes: collections.deque[int] = field(default_factory=lambda: _samples())

    @property
    def mean_batch(self) -> float:
        return self.frames / self.batches if self.batches else 0.0


class BatcherClosedError(RuntimeError):
    """``submit`` after ``close``."""


class InferenceSaturatedError(RuntimeError):
    """The queue is full (or a result is overdue): try again in ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Item:
    """A queued frame; the frame is let go as soon as its future is cancelled."""

    __slots__ = ("frame", "future")

    def __init__(self, frame: Frame, future: Future[ModerationResult]) -> None:
        self.frame: Frame | None = frame
        self.future = future


_STOP = object()


class InferenceBatcher:
    """One inference thread shared by every caller.

    >>> batcher = InferenceBatcher(Moderator(["nudenet"])).start()   # doctest: +SKIP
    >>> batcher.submit(frame).result().labels                        # doctest: +SKIP
    """

    def __init__(
        self,
        moderator: FrameModerator,
        *,
        max_batch: int = 8,
        max_wait_ms: float = 2.0,
        max_queue: int = 256,
        lanes: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes}")
        self.moderator = moderator
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.max_queue = max_queue
        # Inference threads taking batches from the one queue. More than one needs analyzers
        # that may run concurrently (the ONNX ones may: a session's run() is thread-safe).
        self.lanes = lanes
        self.stats = BatcherStats()
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # the first lane (kept for callers that look)
        self._threads: list[threading.Thread] = []
        self._stats_lock = threading.Lock()
        self._closed = False
        self._lock = threading.Lock()
        # Frames submitted whose future is not done yet (queued or in inference).
        self._pending = 0
        self._room = threading.Condition(self._lock)

    # --- lifecycle ---------------------------------------------------------
    def start(self) -> InferenceBatcher:
        with self._lock:
            if self._closed:
                raise BatcherClosedError("batcher is closed")
            if not self._threads:
                for lane in range(self.lanes):
                    name = "fw-inference" if lane == 0 else f"fw-inference-{lane}"
                    thread = threading.Thread(target=self.run, name=name, daemon=True)
                    self._threads.append(thread)
                    thread.start()
                self._thread = self._threads[0]
        return self

    def close(self, timeout: float | None = None) -> None:
        """Finish the frames already submitted, then stop the thread.

        Frames still queued after ``timeout`` seconds get a cancelled future.
        """
        with self._room:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
            self._room.notify_all()
        for _ in range(max(1, len(threads))):
            self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("inference thread still busy after %.1f s", timeout or 0.0)
        self._cancel_pending()

    def __enter__(self) -> InferenceBatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- callers -------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Frames queued or in inference now."""
        return self._pending

    def retry_after_s(self) -> float:
        """A guess of how long the frames ahead of a new one take: full batches per lane x batch time."""
        recent = list(self.stats.latency_ms)[-16:]
        per_batch_s = (sum(recent) / len(recent) / 1000.0) if recent else 0.1
        return max(1.0, (self._pending / (self.max_batch * self.lanes) + 1) * per_batch_s)

    def submit(
        self, frame: Frame, *, block: bool = True, timeout: float | None = None
    ) -> Future[ModerationResult]:
        """Queue ``frame``; thread-safe.  The future holds its result.

        When ``max_queue`` frames are pending, wait for room (``block``, at most
        ``timeout`` seconds) or raise :class:`InferenceSaturatedError`.
        """
        future: Future[ModerationResult] = Future()
        with self._room:
            if self._closed:
                raise BatcherClosedError("submit() on a closed batcher")
            if self._pending >= self.max_queue:
                if not block or not self._room.wait_for(
                    lambda: self._closed or self._pending < self.max_queue, timeout
                ):
                    raise InferenceSaturatedError(
                        f"inference queue full ({self.max_queue} frames)", self.retry_after_s()
                    )
                if self._closed:
                    raise BatcherClosedError("submit() on a closed batcher")
            self._pending += 1
        item = _Item(frame, future)
        future.add_done_callback(lambda fut: self._done(item))
        self._queue.put(item)
        return future

    def _done(self, item: _Item) -> None:
        item.frame = None  # a cancelled frame must not hold its pixels until the thread reaches it
        with self._room:
            self._pending -= 1
            self._room.notify()

    # --- the inference thread ---------------------------------------------
    def run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            deadline = time.monotonic() + self.max_wait_ms / 1000.0
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            self._run_batch(batch)  # type: ignore[arg-type]
        # Frames submitted before close() are still served (close waits for them).
        rest = self._drain()
        for i in range(0, len(rest), self.max_batch):
            self._run_batch(rest[i : i + self.max_batch])

    def _run_batch(self, batch: list[_Item]) -> None:
        live: list[tuple[Frame, Future[ModerationResult]]] = []
        for item in batch:
            frame = item.frame  # read before the future can turn done (and drop it)
            if frame is not None and item.future.set_running_or_notify_cancel():
                live.append((frame, item.future))
        if not live:
            return
        frames = [f for f, _ in live]
        t0 = time.perf_counter()
        try:
            results = self.moderator.moderate_frames(frames)
            if len(results) != len(frames):
                raise RuntimeError(f"moderator returned {len(results)} results for {len(frames)} frames")
        except Exception as exc:  # one bad batch must not stop the thread
            log.exception("inference failed on a batch of %d frames", len(frames))
            with self._stats_lock:
                self.stats.failed_batches += 1
            for _, fut in live:
                fut.set_exception(exc)
            return
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.frames += len(frames)
            self.stats.latency_ms.append(elapsed_ms)
            self.stats.batch_sizes.append(len(frames))
        for (_, fut), result in zip(live, results, strict=True):
            fut.set_result(result)

    def _drain(self) -> list[_Item]:
        items: list[_Item] = []
        stops = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stops += 1
            else:
                items.append(item)  # type: ignore[arg-type]
        for _ in range(stops):  # the other lanes' stop signals: put back for them
            self._queue.put(_STOP)
        return items

    def _cancel_pending(self) -> None:
        for item in self._drain():
            item.future.cancel()


class BackgroundLane:
    """A low-priority lane into a shared batcher, for work that can wait (video jobs).

    Live channels submit straight to the batcher; a job submits here.  The
    lane lets at most ``max_in_flight`` of its frames into the batcher's queue
    at a time (by default one batch), so a live frame arriving behind a long
    job waits for at most that many job frames, never for the job's backlog.
    While ``yield_to()`` is true (live channels are running) the lane also
    keeps the job's share of the inference thread to ``share``: after each
    job frame it pauses for as long as that frame's inference took, scaled,
    which leaves CPU to the live channels' decoders on a small machine.
    Built on the batcher's public ``submit``, it changes nothing for other
    callers.
    """

    def __init__(
        self,
        batcher: InferenceBatcher,
        max_in_flight: int | None = None,
        *,
        share: float = 1.0,
        yield_to: Callable[[], bool] = lambda: False,
    ) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self.batcher = batcher
        self.max_in_flight = max_in_flight or batcher.max_batch
        self.share = share
        self.yield_to = yield_to
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._not_before = 0.0
        self._pace_lock = threading.Lock()
        self._asked_at = -1.0
        self._yield = False

    def submit(self, frame: Frame, timeout: float | None = None) -> Future[ModerationResult]:
        """Wait for a free slot (and the pace), then queue ``frame``; ``TimeoutError`` after ``timeout``."""
        if not self._slots.acquire(timeout=timeout):
            raise TimeoutError("no free slot in the background lane")
        with self._pace_lock:
            wait = self._not_before - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, 1.0))
        try:
            future = self.batcher.submit(frame)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._done)
        return future

    def _yielding(self) -> bool:
        """``yield_to()``, asked at most twice a second (it may take locks elsewhere)."""
        now = time.monotonic()
        if now - self._asked_at > 0.5:
            self._asked_at, self._yield = now, bool(self.yield_to())
        return self._yield

    def _done(self, _: Future[ModerationResult]) -> None:
        if self.share < 1.0 and self._yielding():
            sizes, latencies = self.batcher.stats.batch_sizes, self.batcher.stats.latency_ms
            per_frame_s = (latencies[-1] / max(1, sizes[-1])) / 1000.0 if latencies and sizes else 0.0
            with self._pace_lock:
                self._not_before = time.monotonic() + per_frame_s * (1.0 / self.share - 1.0)
        self._slots.release()
