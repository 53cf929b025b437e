"""Batch scans on a Ray cluster: videos fan out as tasks, models live in inference actors.

The local engine (:class:`framewarden.jobs.scan.Scanner`) decodes videos in threads and
sends frames to one in-process :class:`~framewarden.pipeline.batcher.InferenceBatcher`.
Here the same ``Scanner.scan_video`` runs inside a Ray task per video, placed by Ray on
any node with a free CPU share, and its frames go to a pool of :class:`InferenceActor`\\ s
(one ONNX Runtime session per model each, micro-batching the frames of every task that
calls it, exactly as the local batcher does).

Only the driver writes results: a task returns its video's body, and the driver saves it
with the same :class:`~framewarden.jobs.state.ScanState` as the local engine, so the
output folder, the report and ``--resume`` behave identically.  A task streams its progress
to the driver (a Ray generator task) and ends with the body.  A task lost with its worker
or node is submitted again by the driver, from the start of that video (its frames were
never written), so no finished video is lost and none is written twice; a killed driver
leaves exactly the finished videos behind, and ``--resume`` skips them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_cluster import connect, disconnect, lost_worker_errors
from framewarden.engines.ray_inference import (
    ROOM_TIMEOUT_S,
    ActorPool,
    InferenceActor,
    release_actors,
    size_decoder_to_task,
    start_actors,
)
from framewarden.jobs.results import Counters, JobStatus, VideoResult
from framewarden.jobs.scan import NullListener, ScanListener, Scanner, ScanOptions, ScanOutcome
from framewarden.jobs.state import ScanState

log = logging.getLogger(__name__)

__all__ = ["InferenceActor", "RayOptions", "RayScanner", "scan_one"]


MODES = ("nodes", "tasks")


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How a scan uses the cluster (resources are Ray's logical CPU shares).

    ``mode``: ``"nodes"`` (default) runs one scan actor per node that decodes videos and
    runs the models on that node's CPUs (:mod:`framewarden.engines.ray_scan_nodes`): the
    local engine's cost per frame.  ``"tasks"`` runs each video as a task of ``task_cpus``
    that sends its frames to a pool of inference actors: decoding and inference scale
    apart (inference actors on a few big nodes, decoding everywhere), for 1.3x the CPU
    per frame.  ``actors``, ``actor_cpus`` and ``task_cpus`` apply to ``"tasks"``.
    """

    address: str | None = None  # None: a private one-node cluster in this process
    mode: str = "nodes"
    actors: int = 0  # inference actors; 0 = one per 2 CPUs of each node (at least one a node)
    actor_cpus: float = 0.5
    task_cpus: float = 0.5
    actor_concurrency: int = 32  # calls an actor serves at once (they batch together)
    task_retries: int = 3  # retries of a video whose node was lost
    room_timeout_s: float = ROOM_TIMEOUT_S  # wait for the actors' CPUs; see NoRoomForActorsError

    def __post_init__(self) -> None:
        if self.actors < 0 or self.actor_cpus < 0 or self.task_cpus <= 0 or self.room_timeout_s <= 0:
            raise ValueError("actors and actor CPUs must be >= 0; task CPUs and the room timeout > 0")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")


class _StreamListener:
    """A task-side listener that queues progress for the task's stream, a few updates a second."""

    def __init__(self, events: queue.Queue[Any]) -> None:
        self._events = events
        self._last = 0.0

    def on_start(self, source: str, metadata: Any) -> None:
        self._events.put(("start", source, metadata, None))

    def on_progress(self, source: str, counters: Counters, pts_ms: float) -> None:
        now = time.monotonic()
        if now - self._last >= 0.25:
            self._last = now
            self._events.put(("progress", source, counters, pts_ms))

    def on_finish(self, source: str, body: dict[str, Any], resumed: bool) -> None:
        pass  # the driver reports a finish when it has saved the result


_END = ("end", "", None, None)


def stream_scan(
    submitter: Any,
    intervals_ms: dict[str, float],
    source: str,
    options: ScanOptions,
    settings: Settings,
    model_versions: dict[str, str],
    min_confidence: float,
    out_dir: Any,
) -> Iterator[tuple[str, str, Any, Any]]:
    """The local engine's ``scan_video`` of one source against ``submitter`` (anything with a
    batcher's ``submit``), as a stream of ``("start" | "progress", source, a, b)`` events that
    ends with ``("done", source, body, None)``.  Run where the video is decoded: a Ray task
    (with the actor pool) or a scan actor (with its own batcher)."""
    events: queue.Queue[Any] = queue.Queue()
    scanner = Scanner(
        moderator=None,  # type: ignore[arg-type]  # inference happens in ``submitter``
        options=options,
        state=ScanState(out_dir),
        settings=settings,
        listener=_StreamListener(events),
        model_versions=model_versions,
        min_confidence=min_confidence,
        intervals_ms=intervals_ms,
    )
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            body = scanner.scan_video(source, submitter).to_dict()
            if options.transcribe and body["JobStatus"] == JobStatus.SUCCEEDED.value:
                scanner.transcribe(source, body)  # subtitles go beside the result: --out must be shared
            outcome["body"] = body
        except BaseException as exc:  # raised below, as Ray reports a task's error
            outcome["error"] = exc
        finally:
            events.put(_END)

    thread = threading.Thread(target=work, name="fw-ray-scan", daemon=True)
    thread.start()
    while (event := events.get()) is not _END:
        yield event
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    yield ("done", source, outcome["body"], None)


def scan_one(
    intervals_ms: dict[str, float],
    source: str,
    options: ScanOptions,
    settings: Settings,
    model_versions: dict[str, str],
    min_confidence: float,
    out_dir: Any,
    actors: Sequence[Any],
) -> Iterator[tuple[str, str, Any, Any]]:
    """The body of a video task (``mode="tasks"``): :func:`stream_scan` against the actor pool.

    A Ray generator task: it streams its events to the driver while it scans (no relay
    actor, no polling).
    """
    size_decoder_to_task()
    pool = ActorPool(actors, options.max_batch, max(options.max_wait_ms, 5.0))
    try:
        yield from stream_scan(
            pool, intervals_ms, source, options, settings, model_versions, min_confidence, out_dir
        )
    finally:
        pool.close()


def prestart(
    ray_options: RayOptions, analyzers: list[str] | None, settings: Settings, min_confidence: float | None
) -> Any:
    """Join the cluster and place the scan actors (mode "nodes") so that they load their
    models while the caller loads its own (the CLI does, to check the settings and name the
    model versions); pass the result as ``RayScanner.dispatch``.  None in mode "tasks"."""
    if ray_options.mode != "nodes":
        return None
    from framewarden.engines.ray_scan_nodes import NodeDispatch

    ray = connect(ray_options.address)
    return NodeDispatch(
        ray, analyzers, settings, min_confidence, ScanOptions(), room_timeout_s=ray_options.room_timeout_s
    ).start()


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
    ready_at: float | None = field(default=None, init=False)  # time.time() when every model was loaded
    dispatch: Any = None  # mode "nodes": actors placed beforehand by prestart()

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
        try:
            if todo:
                run = self._run_tasks if self.ray_options.mode == "tasks" else self._run_nodes
                try:
                    run(ray, todo, outcomes)
                except KeyboardInterrupt:
                    self.stopped = True  # the tasks were cancelled; finished videos are saved
        finally:
            if self.dispatch is not None:  # prestarted, never used (every video was done already)
                self.dispatch.close()
                self.dispatch = None
            disconnect()
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
            room_timeout_s=ro.room_timeout_s,
            task_cpus=ro.task_cpus,
        )

    def _run_tasks(self, ray: Any, todo: list[str], outcomes: dict[str, ScanOutcome]) -> None:
        ro = self.ray_options
        actors = self._start_actors(ray)
        loading = [actor.ready.remote() for actor in actors]
        # Ray's own retries are off: a retried generator would stream its events again; a
        # video whose worker or node was lost is submitted again here, up to task_retries.
        task = ray.remote(scan_one).options(num_cpus=ro.task_cpus, max_retries=0)
        lost_errors = lost_worker_errors()

        def submit(source: str) -> Any:
            return task.remote(
                self.intervals_ms,
                source,
                self.options,
                self.settings,
                self.model_versions,
                self.min_confidence,
                self.state.out_dir,
                actors,
            )

        streams = {submit(s): s for s in todo}
        lost = dict.fromkeys(todo, 0)
        try:
            while streams:
                ready, _ = ray.wait(list(streams), num_returns=1, timeout=0.25)
                if loading and not ray.wait(loading, num_returns=len(loading), timeout=0)[1]:
                    loading, self.ready_at = [], time.time()  # every model is loaded
                for stream in ready:
                    source = streams[stream]
                    try:
                        kind, _, a, b = ray.get(next(stream))
                    except StopIteration:  # ended without a result: counted as a failure below
                        kind, a, b = "error", RuntimeError("the task ended without a result"), None
                    except lost_errors as exc:
                        lost[source] += 1
                        if lost[source] <= ro.task_retries:
                            log.warning("%s: its Ray worker was lost (%s); scanning it again", source, exc)
                            del streams[stream]
                            streams[submit(source)] = source
                            continue
                        kind, a = "error", exc
                    except Exception as exc:  # the task's own error (a bug): the video FAILED
                        kind, a = "error", exc
                    if kind not in ("start", "progress"):
                        del streams[stream]
                    self._on_event(source, (kind, source, a, b), outcomes)
            self.actor_stats = self._stats(ray, actors)
        finally:
            for stream in streams:
                ray.cancel(stream, force=True)
            release_actors(ray, actors)

    def _run_nodes(self, ray: Any, todo: list[str], outcomes: dict[str, ScanOutcome]) -> None:
        from framewarden.engines.ray_scan_nodes import NodeDispatch

        dispatch = self.dispatch or NodeDispatch(
            ray,
            self.analyzers,
            self.settings,
            self.min_confidence,
            self.options,
            room_timeout_s=self.ray_options.room_timeout_s,
        )
        lost = dict.fromkeys(todo, 0)

        def scan_args(source: str) -> tuple[Any, ...]:
            return (
                self.intervals_ms,
                source,
                self.options,
                self.settings,
                self.model_versions,
                self.min_confidence,
                self.state.out_dir,
            )

        def on_lost(source: str, exc: BaseException) -> bool:
            lost[source] += 1
            if lost[source] > self.ray_options.task_retries:
                return False
            log.warning("%s: its Ray node or actor was lost (%s); scanning it again", source, exc)
            return True

        self.dispatch = None  # its actors end with this scan
        try:
            dispatch.run(todo, scan_args, lambda src, event: self._on_event(src, event, outcomes), on_lost)
            self.ready_at = dispatch.ready_at
            self.actor_stats = dispatch.stats()
        finally:
            dispatch.close()

    def _on_event(
        self, source: str, event: tuple[str, str, Any, Any], outcomes: dict[str, ScanOutcome]
    ) -> None:
        kind, _, a, b = event
        if kind == "start":
            self.listener.on_start(source, a)
        elif kind == "progress":
            self.listener.on_progress(source, a, b)
        else:
            body = a if kind == "done" else self._failed(source, a)
            path = self.state.save(source, body)
            self.listener.on_finish(source, body, False)
            outcomes[source] = ScanOutcome(source, body, path)

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

    def _failed(self, source: str, exc: BaseException) -> dict[str, Any]:
        """A FAILED result naming the input, for a task that died (after its retries) or raised."""
        log.debug("ray task for %s failed", source, exc_info=exc)
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
