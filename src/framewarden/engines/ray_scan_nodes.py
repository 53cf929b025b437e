"""Batch scans with one scan actor per node: videos decode where the models are.

In this mode (``RayOptions.mode = "nodes"``, the default) each node runs one
:class:`ScanActor`: an :class:`~framewarden.engines.ray_inference.InferenceActor` (one
ONNX Runtime session per model, a micro-batcher whose lanes cover the node's CPUs) that
also decodes videos, several at once in threads, exactly as the local engine does in one
process.  Frames never leave the process that decoded them, which is what makes this mode
as fast per node as the local engine: sending each decoded 720p frame (2.7 MB) through
Ray's object store to a separate inference actor cost 1.3x the CPU per frame
(``bench/ray_scan.py``, ``--mode tasks``).

The driver (:class:`NodeDispatch`) hands each actor as many videos as it decodes at once
and the next one when one finishes, so a faster node takes more of the list.  An actor
lost with its node fails its streams; those videos go back to the front of the queue and
start again on another node (their frames were never written).  A node that joins during
the scan gets an actor at the next look (every few seconds), so does a replacement node.
An actor that cannot be placed (its node's CPUs are held by other work) within
``room_timeout_s`` is given up, and its videos go to the others.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_cluster import lost_actor_errors, lost_worker_errors, node_cpus
from framewarden.engines.ray_inference import ROOM_TIMEOUT_S, InferenceActor, NoRoomForActorsError
from framewarden.jobs.scan import ScanOptions

log = logging.getLogger(__name__)

NODE_LOOK_S = 3.0  # how often the driver looks for nodes that joined
MAX_LANES = 8


def node_plan(cpus: float) -> dict[str, int]:
    """How a scan actor uses a node of ``cpus`` CPUs: videos decoded at once (one per CPU),
    inference lanes (one per CPU, at most 8) with their ONNX Runtime threads, and FFmpeg
    threads per video (at most 4: enough to finish the last video fast, few enough that a
    big node's many videos do not start thousands of threads)."""
    whole = max(1, math.floor(cpus))
    lanes = min(MAX_LANES, whole)
    return {
        "videos": whole,
        "lanes": lanes,
        "threads": max(1, whole // (2 * lanes)),  # half the node for inference when it is big
        "decode_threads": min(4, whole),
    }


class ScanActor(InferenceActor):
    """An inference actor that decodes videos too: the local engine, on one node."""

    def __init__(
        self,
        analyzers: list[str] | None,
        settings: Settings,
        min_confidence: float | None,
        max_batch: int,
        max_wait_ms: float,
        threads: int,
        lanes: int,
        decode_threads: int,
    ) -> None:
        from framewarden.media.source import set_decode_threads

        super().__init__(analyzers, settings, min_confidence, max_batch, max_wait_ms, threads, lanes)
        set_decode_threads(decode_threads)

    def scan(
        self,
        intervals_ms: dict[str, float],
        source: str,
        options: ScanOptions,
        settings: Settings,
        model_versions: dict[str, str],
        min_confidence: float,
        out_dir: Any,
    ) -> Iterator[tuple[str, str, Any, Any]]:
        """Scan one video here: a stream of events (see ``ray_scan.stream_scan``)."""
        from framewarden.engines.ray_scan import stream_scan

        yield from stream_scan(
            self._batcher, intervals_ms, source, options, settings, model_versions, min_confidence, out_dir
        )


@dataclass
class _Node:
    actor: Any
    slots: int
    ready: Any  # the ObjectRef of actor.ready(); None once it answered
    started: float
    busy: int = 0


Event = tuple[str, str, Any, Any]


@dataclass
class NodeDispatch:
    """The driver's side of ``mode="nodes"``: actors per node, videos to free slots, events out.

    ``submit_args(source)`` gives the arguments of :meth:`ScanActor.scan` after ``source``'s
    place; ``on_event(source, event)`` receives every event (the final one too), and
    ``on_lost(source, exc)`` decides whether a video whose actor was lost is scanned again
    (True) or failed with ``exc`` (False).
    """

    ray: Any
    analyzers: list[str] | None
    settings: Settings
    min_confidence: float | None  # None: the settings' default, as the Moderator resolves it
    options: ScanOptions
    room_timeout_s: float = ROOM_TIMEOUT_S
    nodes: dict[str, _Node] = field(default_factory=dict)
    ready_at: float | None = None  # time.time() when the actors first placed had loaded their models
    given_up: set[str] = field(default_factory=set)  # nodes whose actor was lost or not placed
    last_error: str = ""
    _last_look: float = 0.0

    def run(
        self,
        sources: Sequence[str],
        scan_args: Callable[[str], tuple[Any, ...]],
        on_event: Callable[[str, Event], None],
        on_lost: Callable[[str, BaseException], bool],
    ) -> None:
        ray = self.ray
        lost_errors = (*lost_worker_errors(), *lost_actor_errors())
        waiting = collections.deque(sources)
        streams: dict[Any, tuple[str, str]] = {}  # stream -> (source, node id)
        self._look_for_nodes(force=not self.nodes)
        try:
            while waiting or streams:
                self._look_for_nodes()
                self._check_placement()
                if not self.nodes:
                    self._look_for_nodes(force=True)
                    if not self.nodes:
                        raise NoRoomForActorsError(
                            "no node of the cluster can run a scan actor"
                            + (f" (last: {self.last_error})" if self.last_error else "")
                        )
                for node_id, node in self.nodes.items():
                    while waiting and node.busy < node.slots:
                        source = waiting.popleft()
                        stream = node.actor.scan.remote(*scan_args(source))
                        streams[stream] = (source, node_id)
                        node.busy += 1
                if not streams:
                    time.sleep(0.05)
                    continue
                ready, _ = ray.wait(list(streams), num_returns=1, timeout=0.25)
                for stream in ready:
                    source, node_id = streams[stream]
                    try:
                        event = ray.get(next(stream))
                    except StopIteration:
                        event = ("error", source, RuntimeError("the scan ended without a result"), None)
                    except lost_errors as exc:
                        del streams[stream]
                        self._drop(node_id, exc)
                        if on_lost(source, exc):
                            waiting.appendleft(source)
                        else:
                            on_event(source, ("error", source, exc, None))
                        continue
                    except Exception as exc:  # the scan's own error (a bug): the video FAILED
                        event = ("error", source, exc, None)
                    if event[0] in ("done", "error"):
                        del streams[stream]
                        if node_id in self.nodes:
                            self.nodes[node_id].busy -= 1
                    on_event(source, event)
        finally:
            for stream in streams:
                ray.cancel(stream, force=True)

    def start(self) -> NodeDispatch:
        """Place the actors now (they load their models while the caller does other work)."""
        self._look_for_nodes(force=True)
        return self

    def close(self) -> None:
        for node in self.nodes.values():
            try:
                self.ray.kill(node.actor)
            except Exception:  # gone with its node
                log.debug("could not kill a scan actor", exc_info=True)
        self.nodes.clear()

    def stats(self) -> list[dict[str, float]]:
        out = []
        for node in self.nodes.values():
            try:
                out.append(self.ray.get(node.actor.stats.remote(), timeout=10))
            except Exception:  # lost with its node
                log.debug("no stats from a lost scan actor", exc_info=True)
        return out

    def _look_for_nodes(self, force: bool = False) -> None:
        """Start a scan actor on each live node with CPUs that has none."""
        now = time.monotonic()
        if not force and now - self._last_look < NODE_LOOK_S:
            return
        self._last_look = now
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        opts = self.options
        for node_id, cpus in node_cpus(self.ray).items():
            if node_id in self.nodes or node_id in self.given_up or cpus <= 0:
                continue
            plan = node_plan(cpus)
            actor = (
                self.ray.remote(ScanActor)
                .options(
                    num_cpus=cpus,  # the node's CPUs: it decodes and infers on all of them
                    max_concurrency=plan["videos"] + 4,  # its scans, plus ready() and stats()
                    max_restarts=0,  # a lost node's videos go to the others instead
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                )
                .remote(
                    self.analyzers,
                    self.settings,
                    self.min_confidence,
                    opts.max_batch,
                    opts.max_wait_ms,
                    plan["threads"],
                    plan["lanes"],
                    plan["decode_threads"],
                )
            )
            self.nodes[node_id] = _Node(actor, plan["videos"], actor.ready.remote(), now)

    def _check_placement(self) -> None:
        """Note actors that have loaded their models; give up those not placed in time."""
        for node_id, node in list(self.nodes.items()):
            if node.ready is None:
                continue
            done, _ = self.ray.wait([node.ready], timeout=0)
            if done:
                try:
                    self.ray.get(node.ready)
                except Exception as exc:  # a model that does not load fails the scan at once
                    if not isinstance(exc, (*lost_worker_errors(), *lost_actor_errors())):
                        raise
                    self._drop(node_id, exc)
                    continue
                node.ready = None
                if self.ready_at is None and all(n.ready is None for n in self.nodes.values()):
                    self.ready_at = time.time()
            elif time.monotonic() - node.started > self.room_timeout_s:
                log.warning(
                    "a scan actor could not be placed on node %s within %g s (its CPUs are held by "
                    "other work); the other nodes take its videos",
                    node_id[:8],
                    self.room_timeout_s,
                )
                self._drop(node_id, None)

    def _drop(self, node_id: str, exc: BaseException | None) -> None:
        """Stop using a node's actor for the rest of the scan."""
        node = self.nodes.pop(node_id, None)
        if node is None:
            return
        self.given_up.add(node_id)
        if exc is None:
            self.last_error = f"a scan actor was not placed within {self.room_timeout_s:g} s"
        else:
            self.last_error = f"a scan actor was lost: {type(exc).__name__}"
            log.warning("scan actor on node %s lost (%s); its videos go to the others", node_id[:8], exc)
        try:
            self.ray.kill(node.actor)  # its streams fail as lost: their videos are queued again
        except Exception:
            log.debug("could not kill a scan actor", exc_info=True)
