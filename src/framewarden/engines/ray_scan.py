"""Batch scans on a Ray cluster: videos fan out as tasks, models live in inference actors.

The local engine (:class:`framewarden.jobs.scan.Scanner`) decodes videos in threads and
sends frames to one in-process :class:`~framewarden.pipeline.batcher.InferenceBatcher`.
Here the same ``Scanner.scan_video`` runs inside a Ray task per video, placed by Ray on
any node with a free CPU share, and its frames go to a pool of :class:`InferenceActor`\\ s
(one ONNX Runtime session per model each, micro-batching the frames of every task that
calls it, exactly as the local batcher does).

Only the driver writes results: a task returns its video's body, and the driver saves it
with the same :class:`~framewarden.jobs.state.ScanState` as the local engine, so the
output folder, the report and ``--resume`` behave identically.  A task lost with its node
is retried by Ray from the start of that video (its frames were never written), so no
finished video is lost and none is written twice; a killed driver leaves exactly the
finished videos behind, and ``--resume`` skips them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_cluster import connect
from framewarden.engines.ray_inference import ActorPool, InferenceActor, start_actors
from framewarden.jobs.results import Counters, JobStatus, VideoResult
from framewarden.jobs.scan import NullListener, ScanListener, Scanner, ScanOptions, ScanOutcome
from framewarden.jobs.state import ScanState

log = logging.getLogger(__name__)

__all__ = ["InferenceActor", "RayOptions", "RayScanner", "scan_one"]


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How a scan uses the cluster (resources are Ray's logical CPU shares)."""

    address: str | None = None  # None: a private one-node cluster in this process
    actors: int = 0  # inference actors; 0 = one per node
    actor_cpus: float = 0.5
    task_cpus: float = 0.5
    actor_concurrency: int = 32  # calls an actor serves at once (they batch together)
    task_retries: int = 3  # retries of a video whose node was lost

    def __post_init__(self) -> None:
        if self.actors < 0 or self.actor_cpus < 0 or self.task_cpus <= 0:
            raise ValueError("actors and actor CPUs must be >= 0 and task CPUs > 0")


class ProgressRelay:
    """A small actor that carries progress from tasks to the driver's progress bars."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, Any, Any]] = []

    def put(self, kind: str, source: str, a: Any, b: Any = None) -> None:
        self._events.append((kind, source, a, b))

    def drain(self) -> list[tuple[str, str, Any, Any]]:
        events, self._events = self._events, []
        return events


class _RelayListener:
    """A task-side listener that forwards to the relay, at most a few updates a second."""

    def __init__(self, relay: Any) -> None:
        self._relay = relay
        self._last = 0.0

    def on_start(self, source: str, metadata: Any) -> None:
        self._relay.put.remote("start", source, metadata)

    def on_progress(self, source: str, counters: Counters, pts_ms: float) -> None:
        now = time.monotonic()
        if now - self._last >= 0.25:
            self._last = now
            self._relay.put.remote("progress", source, counters, pts_ms)

    def on_finish(self, source: str, body: dict[str, Any], resumed: bool) -> None:
        pass  # the driver reports a finish when it has saved the result


def scan_one(
    intervals_ms: dict[str, float],
    source: str,
    options: ScanOptions,
    settings: Settings,
    model_versions: dict[str, str],
    min_confidence: float,
    out_dir: Any,
    actors: Sequence[Any],
    relay: Any,
) -> dict[str, Any]:
    """The body of a video task: the local engine's ``scan_video`` against the actor pool."""
    scanner = Scanner(
        moderator=None,  # type: ignore[arg-type]  # inference happens in the actors
        options=options,
        state=ScanState(out_dir),
        settings=settings,
        listener=_RelayListener(relay),
        model_versions=model_versions,
        min_confidence=min_confidence,
        intervals_ms=intervals_ms,
    )
    pool = ActorPool(actors, options.max_batch, max(options.max_wait_ms, 5.0))
    try:
        body = scanner.scan_video(source, pool).to_dict()  # type: ignore[arg-type]
    finally:
        pool.close()
    if options.transcribe and body["JobStatus"] == JobStatus.SUCCEEDED.value:
        scanner.transcribe(source, body)  # subtitles go beside the result: --out must be shared
    return body


@dataclass
class RayScanner:
    """Same inputs and outcomes as :class:`~framewarden.jobs.scan.Scanner`, run on Ray."""

    analyzers: list[str] | None
    options: ScanOptions
    state: ScanState
    settings: Settings
    ray_options: RayOptions = field(default_factory=RayOptions)
    listener: ScanListener = field(default_factory=NullListener)
    model_versions: dict[str, str] = field(default_factory=dict)
    min_confidence: float = 50.0
    intervals_ms: dict[str, float] = field(default_factory=dict)  # see Scanner.intervals_ms
    actor_stats: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = field(default=False, init=False)  # Ctrl-C: what was done is saved, the rest is not
    _relay_ok: bool = field(default=True, init=False, repr=False)

    def run(self, sources: Sequence[str]) -> list[ScanOutcome]:
        """Scan every source on the cluster; outcomes in the order of ``sources``."""
        self.state.prepare()
        ray = connect(self.ray_options.address)
        outcomes: dict[str, ScanOutcome] = {}
        todo = []
        for source in dict.fromkeys(sources):
            done = self.state.completed(source) if self.options.resume else None
            if done is not None:
                self.listener.on_finish(source, done, True)
                outcomes[source] = ScanOutcome(source, done, self.state.result_path(source), resumed=True)
            else:
                todo.append(source)
        if todo:
            try:
                self._run_tasks(ray, todo, outcomes)
            except KeyboardInterrupt:
                self.stopped = True  # the tasks were cancelled; finished videos are saved
        return [outcomes.get(s) or ScanOutcome.interrupted(s, self.state.result_path(s)) for s in sources]

    def _start_actors(self, ray: Any) -> list[Any]:
        ro, opts = self.ray_options, self.options
        return start_actors(
            ray,
            ro.actors,
            analyzers=self.analyzers,
            settings=self.settings,
            min_confidence=self.min_confidence,
            max_batch=opts.max_batch,
            max_wait_ms=opts.max_wait_ms,
            num_cpus=ro.actor_cpus,
            max_concurrency=ro.actor_concurrency,
        )

    def _run_tasks(self, ray: Any, todo: list[str], outcomes: dict[str, ScanOutcome]) -> None:
        ro = self.ray_options
        actors = self._start_actors(ray)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # The relay lives beside the driver: it dies with the driver, not with a worker node.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        relay = ray.remote(ProgressRelay).options(num_cpus=0, scheduling_strategy=here).remote()
        self._relay_ok = True
        task = ray.remote(scan_one).options(num_cpus=ro.task_cpus, max_retries=ro.task_retries)
        pending = {
            task.remote(
                self.intervals_ms,
                s,
                self.options,
                self.settings,
                self.model_versions,
                self.min_confidence,
                self.state.out_dir,
                actors,
                relay,
            ): s
            for s in todo
        }
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
                self._relay_progress(ray, relay)
                for ref in ready:
                    source = pending.pop(ref)
                    body = self._body(ray, ref, source)
                    path = self.state.save(source, body)
                    self._relay_progress(ray, relay)
                    self.listener.on_finish(source, body, False)
                    outcomes[source] = ScanOutcome(source, body, path)
            self.actor_stats = self._stats(ray, actors)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            for actor in [*actors, relay]:
                ray.kill(actor)

    @staticmethod
    def _stats(ray: Any, actors: Sequence[Any]) -> list[dict[str, float]]:
        """Batching figures of the actors still alive (for benches and logs)."""
        stats = []
        for actor in actors:
            try:
                stats.append(ray.get(actor.stats.remote(), timeout=10))
            except Exception:  # lost with its node
                log.debug("no stats from a lost actor", exc_info=True)
        return stats

    def _relay_progress(self, ray: Any, relay: Any) -> None:
        if not self._relay_ok:
            return
        try:
            events = ray.get(relay.drain.remote(), timeout=30)
        except Exception:  # progress is a courtesy: losing it must not stop the scan
            log.warning("progress relay lost; the scan goes on without progress updates", exc_info=True)
            self._relay_ok = False
            return
        for kind, source, a, b in events:
            if kind == "start":
                self.listener.on_start(source, a)
            else:
                self.listener.on_progress(source, a, b)

    def _body(self, ray: Any, ref: Any, source: str) -> dict[str, Any]:
        """The task's result, or a FAILED result naming the input when the task itself died."""
        try:
            body: dict[str, Any] = ray.get(ref)
            return body
        except Exception as exc:  # RayTaskError, WorkerCrashedError, ...: after Ray's retries
            log.debug("ray task for %s failed", source, exc_info=True)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            result = VideoResult(
                source=source,
                status=JobStatus.FAILED,
                status_message=f"{source}: {first}",
                error_kind=type(exc).__name__,
                model_versions=dict(self.model_versions),
                sample_interval_s=self.options.sample_interval_s,
                min_confidence=self.min_confidence,
                aggregate=self.options.aggregate,
            )
            return result.to_dict()
