"""Per-channel Prometheus series of channel actors, served by the API's ``/metrics``.

On ``--engine ray`` each channel's frame funnel, latency histograms, alerts and queue depth
(:class:`~framewarden.pipeline.metrics.PipelineMetrics`) live in its actor's process.  The
API collects them at scrape time: :class:`ClusterRegistry` is the API's own registry plus
the actors' families, merged by name, so the page has the same names and labels as one
process and each family once (Prometheus rejects a family that appears twice).

Collecting asks every actor at once and waits at most ``timeout_s`` in all: an actor that
does not answer by then (restarting, its node lost, busy) is left out of that scrape rather
than holding it up.  Counters restart from zero with a restarted actor, which Prometheus'
``rate()`` reads as a counter reset, as it would after a process restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 0.5  # how long a scrape waits for the actors, all together


def snapshot_families(registry: CollectorRegistry) -> list[Metric]:
    """An actor's side: its registry's families (picklable, sent to the API as they are)."""
    return list(registry.collect())


def gather(ray: Any, actors: Sequence[Any], timeout_s: float = SCRAPE_TIMEOUT_S) -> list[Metric]:
    """Every answering actor's families, concatenated (unanswered ones skipped)."""
    if not actors:
        return []
    refs = []
    for actor in actors:
        try:
            refs.append(actor.metrics.remote())
        except Exception:  # an actor handle that cannot take calls now
            continue
    if not refs:
        return []
    ready, late = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    if late:  # their answers, when they come, are dropped with the references
        log.info("metrics: %d channel actor(s) did not answer within %.1f s; skipped", len(late), timeout_s)
    out: list[Metric] = []
    for ref in ready:
        try:
            out.extend(ray.get(ref, timeout=0))
        except Exception as exc:  # the actor died between answering and reading
            log.info("metrics: a channel actor failed to answer: %s", type(exc).__name__)
    return out


def merge(families: Iterable[Metric]) -> dict[str, Metric]:
    """Families of the same name (one per process) become one with all their samples."""
    merged: dict[str, Metric] = {}
    for family in families:
        have = merged.get(family.name)
        if have is None:
            have = Metric(family.name, family.documentation, family.type, family.unit)
            merged[family.name] = have
        have.samples.extend(family.samples)
    return merged


class ClusterRegistry(CollectorRegistry):
    """The API's registry with the channel actors' families merged in (at each collect)."""

    def __init__(self, local: CollectorRegistry, remote: Callable[[], list[Metric]]) -> None:
        super().__init__(auto_describe=False)
        self._local = local
        self._remote = remote

    def collect(self) -> Iterator[Metric]:
        try:
            remote = merge(self._remote())
        except Exception:
            log.exception("metrics: collecting the channel actors' series failed")
            remote = {}
        for family in self._local.collect():
            extra = remote.pop(family.name, None)
            yield family if extra is None else next(iter(merge([family, extra]).values()))
        yield from remote.values()
