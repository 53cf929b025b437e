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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_cluster import lost_actor_errors, node_cpus
from framewarden.errors import FramewardenError
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
        min_confidence: float | None,
        max_batch: int,
        max_wait_ms: float,
        threads: int = 0,
        lanes: int = 1,
    ) -> None:
        from framewarden.config import get_settings
        from framewarden.moderator import Moderator
        from framewarden.pipeline.batcher import InferenceBatcher
        from framewarden.pipeline.context import preferred_max_side

        if threads and not settings.inference_threads:
            # ONNX Runtime's default (a thread per core) oversubscribes a node whose other cores
            # decode; one thread per reserved CPU cost 20% less CPU per frame (bench/ray_scan.py).
            # Analyzers read the process-wide settings, hence the variable too.
            os.environ["FRAMEWARDEN_INFERENCE_THREADS"] = str(threads)
            get_settings.cache_clear()
            settings = settings.model_copy(update={"inference_threads": threads})
        moderator = Moderator(analyzers, settings=settings, min_confidence=min_confidence)
        self._versions = dict(moderator.model_versions)
        self._max_side = preferred_max_side(moderator.analyzers)
        # Lanes (inference threads on one queue, pipeline/batcher.py) let the actor use the
        # cores it covers when the decoders leave them idle, without ONNX Runtime's
        # intra-op threads oversubscribing them when they do not.
        self._batcher = InferenceBatcher(
            moderator, max_batch=max_batch, max_wait_ms=max_wait_ms, lanes=lanes
        ).start()
        self._job_stops: dict[str, threading.Event] = {}  # job streams running here (job_items)

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

    def job_items(
        self, key: str, inputs: dict[str, Any], settings: Settings, channel: str,
        resume_after: float | None, max_side: int,
    ) -> Iterator[Any]:  # fmt: skip
        """A server job's video decoded here, beside the models (``jobs_ray_mode = "actors"``):
        no frame crosses Ray's object store.  A stream of :data:`~framewarden.jobs.frames.JobItem`;
        :meth:`cancel_job` with the same ``key`` stops it at the next frame."""
        from framewarden.jobs.frames import job_items
        from framewarden.jobs.spec import JobSpec
        from framewarden.media.source import set_decode_threads

        set_decode_threads(1)  # the actor's lanes use the other cores it covers
        stop = self._job_stops.setdefault(key, threading.Event())
        try:
            yield from job_items(
                JobSpec.model_validate(inputs), settings, channel=channel, submit=self._batcher.submit,
                resume_after=resume_after, max_side=max_side, cancelled=stop,
            )  # fmt: skip
        finally:
            self._job_stops.pop(key, None)

    def cancel_job(self, key: str) -> None:
        """Stop the job stream ``key`` (also when it has not started yet)."""
        self._job_stops.setdefault(key, threading.Event()).set()

    def stats(self) -> dict[str, float]:
        s = self._batcher.stats
        return {"batches": s.batches, "frames": s.frames, "mean_batch": s.mean_batch}


ROOM_TIMEOUT_S = 60.0  # how long to wait for the cluster to have room for the actors


class NoRoomForActorsError(FramewardenError):
    """The cluster has no room for the inference actors (every CPU is held by other work)."""


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
    room_timeout_s: float = ROOM_TIMEOUT_S,
    of_total: int = 0,
    task_cpus: float = 0.5,
) -> list[Any]:
    """Start ``count`` inference actors, spread over the nodes (0: one per 2 CPUs of each live
    node, at least one a node).  Each runs one inference lane per CPU it covers (the node's
    CPUs over its actors), with one ONNX Runtime thread per lane.

    Their CPU is reserved first, in a placement group, and the actors are created in it: an
    actor created alongside the tasks that call it could otherwise find every CPU taken by
    those tasks, which would then wait on it for ever.  Raises :class:`NoRoomForActorsError`
    when the reservation cannot be had within ``room_timeout_s``.  ``of_total``: how many
    actors the pool has in all when these replace lost ones (0: just these), which sets how
    many CPUs each covers.  ``task_cpus``: the share of the tasks that will call them; the
    default count leaves room for one.
    """
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    count = count or default_actor_count(ray, num_cpus, task_cpus)
    lanes = actor_lanes(cluster_cpus(ray), count, of_total)
    groups: list[Any] = []
    if num_cpus > 0:
        # One group per actor, so that the reservation of an actor lost with its node can be
        # removed alone: in a shared group Ray places the lost bundle again on the nodes left,
        # where it held CPU that a job's task, sent again, then waited for for ever.  Each group
        # is hinted at a node in turn (a soft hint: elsewhere when that node has no room).
        targets = _spread(ray, count)
        groups = [
            placement_group([{"CPU": num_cpus}], strategy="STRICT_PACK", _soft_target_node_id=target)
            for target in targets
        ]
        ready, _ = ray.wait([g.ready() for g in groups], num_returns=len(groups), timeout=room_timeout_s)
        if len(ready) < len(groups):
            for group in groups:
                remove_placement_group(group)
            raise NoRoomForActorsError(
                f"the cluster has no room for {count} inference actor(s) of {num_cpus:g} CPU "
                f"within {room_timeout_s:g} s ({cluster_cpus(ray):g} CPUs in all, held by other "
                "work): add a node, or lower the actors' CPU share"
            )
    actors = []
    for index in range(count):
        strategy: Any = "SPREAD"
        if groups:
            strategy = PlacementGroupSchedulingStrategy(groups[index], placement_group_bundle_index=0)
        actor = (
            ray.remote(InferenceActor)
            .options(
                num_cpus=num_cpus,
                max_concurrency=max_concurrency,
                max_restarts=0,  # see ActorPool: the pool fails over instead
                scheduling_strategy=strategy,
            )
            .remote(analyzers, settings, min_confidence, max_batch, max_wait_ms, 1, lanes)
        )
        actors.append(actor)
    if groups:
        with _GROUPS_LOCK:
            for actor, group in zip(actors, groups, strict=True):
                _GROUPS[actor._actor_id.hex()] = group
    return actors


def actor_lanes(cpus: float, count: int, of_total: int = 0) -> int:
    """Inference lanes of each of ``count`` actors sharing ``cpus``: one per CPU it covers (at
    most 8).  Replacements of lost actors cover their share of the whole pool (``of_total``),
    not the cluster's CPUs over the replacements alone."""
    return max(1, min(8, round(cpus / max(count, of_total, 1))))


def _spread(ray: Any, count: int) -> list[str | None]:
    """Nodes for ``count`` actors: in turn over the live nodes with CPUs, each as many times as
    it has pairs of CPUs (at least once), like :func:`default_actor_count`."""
    slots = [
        node_id for node_id, cpus in node_cpus(ray).items() if cpus > 0 for _ in range(max(1, int(cpus) // 2))
    ]
    # Interleave the nodes (a, b, a, b, ...) rather than fill one node first.
    order = sorted(range(len(slots)), key=lambda i: slots[:i].count(slots[i]))
    spread = [slots[i] for i in order]
    return [spread[i % len(spread)] if spread else None for i in range(count)]


# Placement group of each live actor started here, so that releasing an actor frees its
# reservation (a lost node's bundle is otherwise placed again elsewhere).
_GROUPS: dict[str, Any] = {}
_GROUPS_LOCK = threading.Lock()


def release_actors(ray: Any, actors: Sequence[Any]) -> None:
    """Kill ``actors`` (lost ones too) and remove the reservations no live actor uses."""
    from ray.util.placement_group import remove_placement_group

    for actor in actors:
        try:
            ray.kill(actor)
        except Exception:  # already gone with its node
            log.debug("could not kill an inference actor", exc_info=True)
    with _GROUPS_LOCK:
        groups = {_GROUPS.pop(a._actor_id.hex(), None) for a in actors}
        still_used = {id(g) for g in _GROUPS.values()}
    for group in groups:
        if group is not None and id(group) not in still_used:
            try:
                remove_placement_group(group)
            except Exception:  # the cluster is gone already
                log.debug("could not remove a placement group", exc_info=True)


def cluster_cpus(ray: Any) -> float:
    """The CPUs of the live nodes."""
    return sum(node_cpus(ray).values())


def size_decoder_to_task() -> None:
    """In a Ray task: decode with as many threads as the task's CPU share (at least one)."""
    import ray

    from framewarden.media.source import set_decode_threads

    share = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
    set_decode_threads(max(1, math.ceil(share)))


def default_actor_count(ray: Any, actor_cpus: float = 0.0, task_cpus: float = 0.0) -> int:
    """One inference actor per 2 CPUs of each live node with CPUs, at least one a node, and
    few enough that their reservations (``actor_cpus`` each) leave room for one task of
    ``task_cpus``: otherwise that task, and the work waiting on it, would never start.

    (A head node without CPUs, as production clusters run it, gets none: it counted once, and
    after a node was lost the actors then took the last CPU and a job's task waited for ever.)
    """
    cpus = {node: c for node, c in node_cpus(ray).items() if c > 0}
    count = max(1, sum(max(1, int(c) // 2) for c in cpus.values()))
    if actor_cpus > 0 and task_cpus > 0:
        count = min(count, max(1, math.floor((sum(cpus.values()) - task_cpus) / actor_cpus)))
    return count


class ActorPool:
    """What the scan and job loops need of a batcher (``submit``), over the actor pool.

    Frames go to the actors in small batches (one remote call per ``max_batch`` frames or
    per ``max_wait_ms``), since a remote call costs more than a frame's share of a batch.
    An actor lost with its node fails the calls it held; those frames are sent again to
    the next live actor, so a lost node costs time, never a frame.  (Actors are not
    restarted in place: a restart waiting for CPU held by blocked tasks would deadlock.)
    """

    def __init__(self, actors: Sequence[Any], max_batch: int = 8, max_wait_ms: float = 5.0) -> None:
        self._actors = list(actors)
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._lost = lost_actor_errors()
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
