"""Evidence off the frame path: a bounded queue and one writer thread.

Writing evidence costs a JPEG encode and two uploads; a slow or unreachable
bucket would otherwise stall the channel thread that found the violation, and
with it the channel's next verdicts.  :class:`EvidenceUploader` has the same
``keep()`` as :class:`~framewarden.actions.evidence.EvidenceStore`, but it only
reserves the key (so the alert and the result can name it at once) and queues
the frame; one thread encodes and writes.  When the queue is full the frame is
dropped and counted (``framewarden_evidence_frames_total{outcome="dropped"}``):
latency of live verdicts over completeness of evidence, as for live frames.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from framewarden.actions.evidence import EvidenceStore, live_meta

log = logging.getLogger(__name__)

OUTCOMES = ("written", "failed", "dropped")


class EvidenceMetrics:
    """How evidence frames ended, and how many wait."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else REGISTRY
        self.frames = Counter(
            "framewarden_evidence_frames",
            "Evidence frames by outcome: written, failed (store error), dropped (queue full).",
            ["outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "framewarden_evidence_queue_depth",
            "Evidence frames waiting to be written.",
            registry=self.registry,
        )

    def value(self, outcome: str) -> float:
        got = self.registry.get_sample_value("framewarden_evidence_frames_total", {"outcome": outcome})
        return got or 0.0


@cache
def default_evidence_metrics() -> EvidenceMetrics:
    """The process-wide evidence metrics in the default registry (for /metrics)."""
    return EvidenceMetrics()


@dataclass(frozen=True, slots=True)
class _Job:
    stem: str
    frame_rgb: np.ndarray
    meta: dict[str, Any]


_STOP = object()


class EvidenceUploader:
    """``keep()`` queues; a thread writes through ``store``.  Start it, and close it at shut-down."""

    def __init__(
        self, store: EvidenceStore, *, max_queue: int = 64, metrics: EvidenceMetrics | None = None
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.store = store
        self.keep_clean = store.keep_clean
        self.metrics = metrics or default_evidence_metrics()
        self._queue: queue.Queue[_Job | object] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self) -> EvidenceUploader:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fw-evidence", daemon=True)
            self._thread.start()
        return self

    def keep(
        self,
        frame_rgb: np.ndarray,
        result_json: dict[str, Any],
        *,
        channel: str,
        flagged: bool,
        at: datetime | float,
    ) -> str | None:
        """Queue the frame; its JPEG key, or None when not kept (clean) or dropped (queue full)."""
        stem = self.store.plan(channel=channel, flagged=flagged, at=at)
        if stem is None:
            return None
        meta = live_meta(stem, result_json, channel=channel, flagged=flagged, at=at)
        if self._closed.is_set():
            self.metrics.frames.labels("dropped").inc()
            return None
        try:
            self._queue.put_nowait(_Job(stem, frame_rgb, meta))
        except queue.Full:
            self.metrics.frames.labels("dropped").inc()
            log.warning("evidence queue full: frame of channel %s dropped", channel)
            return None
        self.metrics.queue_depth.set(self._queue.qsize())
        return f"{stem}.jpg"

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            self.metrics.queue_depth.set(self._queue.qsize())
            if job is _STOP:
                return
            assert isinstance(job, _Job)
            try:
                self.store.write(job.stem, job.frame_rgb, job.meta)
            except Exception as exc:  # a store error must not stop the thread
                self.metrics.frames.labels("failed").inc()
                log.error("evidence %s not written: %s", job.stem, exc)
            else:
                self.metrics.frames.labels("written").inc()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (within ``timeout``), then stop; the rest counts as dropped."""
        if self._closed.is_set():
            return
        self._closed.set()
        thread = self._thread
        if thread is None:
            self._drop_rest()
            return
        with contextlib.suppress(queue.Full):  # a stuck writer: the join below gives up too
            self._queue.put(_STOP, timeout=timeout)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("evidence writer still busy after %.1f s; dropping the rest", timeout)
        self._drop_rest()

    def _drop_rest(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                self.metrics.frames.labels("dropped").inc()
