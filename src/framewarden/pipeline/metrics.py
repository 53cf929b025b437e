"""Prometheus metrics of the live pipeline.

One counter family for the frame funnel (decoded -> sampled -> deduped /
analyzed / dropped) per channel, so a dashboard can see where frames go;
histograms for the latency inside framewarden (frame arrival -> verdict) and
for inference; alerts by action; queue depth.  A :class:`PipelineMetrics`
registers into a registry of its own choosing so tests (and several managers
in one process) never collide in the global registry.
"""

from __future__ import annotations

import contextlib
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

STAGES = ("decoded", "sampled", "deduped", "analyzed", "dropped")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 5.0, 10.0)


class PipelineMetrics:
    """The metric families; label values are channel names."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else REGISTRY
        reg = self.registry
        self.frames = Counter(
            "framewarden_frames", "Frames of a live channel by stage.", ["channel", "stage"], registry=reg
        )
        self.latency = Histogram(
            "framewarden_frame_latency_seconds",
            "Frame arrival to recorded verdict, inside framewarden.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.inference = Histogram(
            "framewarden_inference_seconds",
            "Submit to result of one frame at the inference batcher.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.alerts = Counter(
            "framewarden_alerts", "Flagged verdicts by strongest action.", ["channel", "action"], registry=reg
        )
        self.queue_depth = Gauge(
            "framewarden_queue_depth",
            "Frames waiting between decoder and inference.",
            ["channel"],
            registry=reg,
        )
        self.reconnects = Counter(
            "framewarden_reconnects", "Times a channel's source was reopened.", ["channel"], registry=reg
        )

    def count(self, channel: str, stage: str, n: int = 1) -> None:
        if n > 0:
            self.frames.labels(channel, stage).inc(n)

    def value(self, channel: str, stage: str) -> float:
        """Current count of a funnel stage (for tests and snapshots)."""
        got = self.registry.get_sample_value("framewarden_frames_total", {"channel": channel, "stage": stage})
        return got or 0.0

    def forget(self, channel: str) -> None:
        """Drop a removed channel's series, so /metrics does not grow forever."""
        for family in (self.latency, self.inference, self.queue_depth, self.reconnects):
            with contextlib.suppress(KeyError):
                family.remove(channel)
        for stage in STAGES:
            with contextlib.suppress(KeyError):
                self.frames.remove(channel, stage)


@cache
def default_metrics() -> PipelineMetrics:
    """The process-wide metrics in prometheus_client's default registry (for /metrics)."""
    return PipelineMetrics()
