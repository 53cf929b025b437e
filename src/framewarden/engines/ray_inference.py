"""The inference actor pool that batch scans and the server's jobs share on Ray.

An :class:`InferenceActor` holds one :class:`~framewarden.moderator.Moderator` (one ONNX
Runtime session per model) behind the local
:class:`~framewarden.pipeline.batcher.InferenceBatcher`, so calls from every task that
uses it batch together.  :class:`ActorPool` is what a task sees: the ``submit(frame)`` of
a batcher, over the actors.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from framewarden.config import Settings
from framewarden.media.frame import Frame
from framewarden.result import ModerationResult

log = logging.getLogger(__name__)


class ActorsLostError(RuntimeError):
    """Every inference actor a task could use was lost (their nodes are gone)."""


class InferenceActor:
    """One moderator and one batcher in a Ray actor; calls from many tasks share batches."""

    def __init__(
        self,
        analyzers: list[str] | None,
        settings: Settings,
        min_confidence: float,
        max_batch: int,
        max_wait_ms: float,
        threads: int = 0,
    ) -> None:
        from framewarden.config import get_settings
        from framewarden.moderator import Moderator
        from framewarden.pipeline.batcher import InferenceBatcher

        if threads and not settings.inference_threads:
            # ONNX Runtime's default (a thread per core) oversubscribes a node whose other cores
            # decode; one thread per reserved CPU cost 20% less CPU per frame (bench/ray_scan.py).
            # Analyzers read the process-wide settings, hence the variable too.
            os.environ["FRAMEWARDEN_INFERENCE_THREADS"] = str(threads)
            get_settings.cache_clear()
            settings = settings.model_copy(update={"inference_threads": threads})
        from framewarden.pipeline.context import preferred_max_side

        moderator = Moderator(analyzers, settings=settings, min_confidence=min_confidence)
        self._versions = dict(moderator.model_versions)
        self._max_side = preferred_max_side(moderator.analyzers)
        self._batcher = InferenceBatcher(moderator, max_batch=max_batch, max_wait_ms=max_wait_ms).start()

    def ready(self) -> dict[str, str]:
        """Returns once the models are loaded: their versions."""
        return self._versions

    def moderate_many(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        """Moderate frames of one task; concurrent calls from other tasks share batches."""
        futures = [self._batcher.submit(frame) for frame in frames]
        return [f.result() for f in futures]

    def moderate(self, frame: Frame) -> ModerationResult:
        """Moderate one frame (a live channel's: it samples about one a second, so it sends
        frames one by one and they batch with other channels' here)."""
        return self._batcher.submit(frame).result()

    def max_side(self) -> int:
        """The frame size the analyzers want, so callers scale frames down before sending."""
        return self._max_side

    def pid(self) -> int:
        return os.getpid()

    def stats(self) -> dict[str, float]:
        s = self._batcher.stats
        return {"batches": s.batches, "frames": s.frames, "mean_batch": s.mean_batch}


def start_actors(
    ray: Any,
    count: int,
    *,
    analyzers: list[str] | None,
    settings: Settings,
    min_confidence: float,
    max_batch: int,
    max_wait_ms: float,
    num_cpus: float,
    max_concurrency: int = 32,
) -> list[Any]:
    """Start ``count`` inference actors, spread over the nodes, each with ONNX Runtime threads
    sized to its reservation.  0: one per 2 CPUs of each live node (at least one a node)."""
    count = count or default_actor_count(ray)
    actor_cls = ray.remote(InferenceActor).options(
        num_cpus=num_cpus,
        max_concurrency=max_concurrency,
        max_restarts=0,  # see ActorPool: the pool fails over instead
        scheduling_strategy="SPREAD",
    )
    args = (analyzers, settings, min_confidence, max_batch, max_wait_ms, max(1, math.ceil(num_cpus)))
    return [actor_cls.remote(*args) for _ in range(count)]


def default_actor_count(ray: Any) -> int:
    """One inference actor per 2 CPUs of each live node, at least one a node."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return max(1, sum(max(1, int(n.get("Resources", {}).get("CPU", 0)) // 2) for n in nodes))


class ActorPool:
    """What the scan and job loops need of a batcher (``submit``), over the actor pool.

    Frames go to the actors in small batches (one remote call per ``max_batch`` frames or
    per ``max_wait_ms``), since a remote call costs more than a frame's share of a batch.
    An actor lost with its node fails the calls it held; those frames are sent again to
    the next live actor, so a lost node costs time, never a frame.  (Actors are not
    restarted in place: a restart waiting for CPU held by blocked tasks would deadlock.)
    """

    def __init__(self, actors: Sequence[Any], max_batch: int = 8, max_wait_ms: float = 5.0) -> None:
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        self._actors = list(actors)
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._lost = (ActorDiedError, ActorUnavailableError, RayActorError)
        self._max_batch = max(1, max_batch)
        self._max_wait_s = max_wait_ms / 1000.0
        self._buffer: list[tuple[Frame, Future[ModerationResult]]] = []
        self._wake = threading.Event()
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_loop, name="fw-ray-pool", daemon=True)
        self._flusher.start()

    def submit(self, frame: Frame) -> Future[ModerationResult]:
        out: Future[ModerationResult] = Future()
        with self._lock:
            self._buffer.append((frame, out))
            full = len(self._buffer) >= self._max_batch
        if full:
            self._flush()
        else:
            self._wake.set()
        return out

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._flush()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self._max_wait_s)  # let a batch fill
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._send(batch)

    def _send(self, batch: list[tuple[Frame, Future[ModerationResult]]]) -> None:
        with self._lock:
            if not self._actors:
                for _, out in batch:
                    out.set_exception(ActorsLostError("every inference actor was lost"))
                return
            actor = self._actors[next(self._next) % len(self._actors)]

        def done(ref_future: Future[list[ModerationResult]]) -> None:
            exc = ref_future.exception()
            if exc is None:
                for (_, out), result in zip(batch, ref_future.result(), strict=True):
                    out.set_result(result)
            elif isinstance(exc, self._lost):
                with self._lock:
                    if actor in self._actors:
                        self._actors.remove(actor)
                log.warning("inference actor lost; sending its frames to the others")
                self._send(batch)
            else:
                for _, out in batch:
                    out.set_exception(exc)

        frames = [frame for frame, _ in batch]
        actor.moderate_many.remote(frames).future().add_done_callback(done)
