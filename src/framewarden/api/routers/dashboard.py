"""``/v1/dashboard/stats``: the figures behind the dashboard's charts, in one call.

Confidence over time comes from stored results, alerts per hour from stored
alerts, the frame funnel and latency from the channels' live counters, and
inference quantiles from the Prometheus histogram the workers feed.  The
cost panel gets frames analyzed and the process's CPU time; the browser
multiplies by the per-1,000-images price the user sets.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from framewarden import taxonomy
from framewarden.api.deps import RuntimeDep, SessionDep, ViewerDep
from framewarden.store.models import Alert, Result

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
MAX_POINTS = 3000
MAX_SERIES = 12


def _category(label: str | None) -> str:
    if not label:
        return "(none)"
    try:
        return taxonomy.top_level(label)
    except KeyError:
        return label


def histogram_quantiles(registry: Any, name: str, qs: tuple[float, ...]) -> dict[str, float | None]:
    """Quantiles (seconds, upper bucket bound) of a histogram summed over its label sets."""
    buckets: dict[float, float] = defaultdict(float)
    for metric in registry.collect():
        if metric.name != name:
            continue
        for sample in metric.samples:
            if sample.name == f"{name}_bucket":
                buckets[float(sample.labels["le"])] += sample.value
    out: dict[str, float | None] = {f"p{round(q * 100)}": None for q in qs}
    if not buckets:
        return out
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return out
    for q in qs:
        for bound in bounds:
            if buckets[bound] >= q * total:
                out[f"p{round(q * 100)}"] = bound if bound != float("inf") else None
                break
    return out


@router.get("/stats")
def stats(
    runtime: RuntimeDep,
    session: SessionDep,
    _: ViewerDep,
    minutes: Annotated[int, Query(ge=1, le=24 * 60)] = 30,
    channel: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = now - timedelta(minutes=minutes)
    stmt = select(Result).where(Result.analyzed_at >= since, Result.job_id.is_(None))
    if channel:
        stmt = stmt.where(Result.channel == channel)
    rows = session.scalars(stmt.order_by(Result.analyzed_at.desc()).limit(MAX_POINTS)).all()
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in reversed(rows):
        at = row.analyzed_at.replace(tzinfo=row.analyzed_at.tzinfo or UTC).timestamp()
        for label in row.labels or []:
            name = label.get("Name") if isinstance(label, dict) else None
            if name and label.get("TaxonomyLevel", 1) == 1:
                series[f"{row.channel} · {name}"].append((at, float(label.get("Confidence", 0.0))))
    biggest = sorted(series, key=lambda k: -len(series[k]))[:MAX_SERIES]

    day_ago = now - timedelta(hours=24)
    hourly: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for created, top in session.execute(
        select(Alert.created_at, Alert.top_label).where(Alert.created_at >= day_ago)
    ):
        hour = created.replace(minute=0, second=0, microsecond=0, tzinfo=created.tzinfo or UTC)
        hourly[_category(top)][hour.isoformat()] += 1

    channels = [s.to_dict() for s in runtime.channels.snapshots()]
    funnel = {
        stage: sum(int(c["stats"].get(stage) or 0) for c in channels)
        for stage in ("decoded", "sampled", "deduped", "analyzed", "dropped")
    }
    registry = runtime.channels.context.metrics.registry
    return {
        "now": now.isoformat(),
        "minutes": minutes,
        "confidence": {k: [{"t": t, "c": c} for t, c in series[k]] for k in biggest},
        "alerts_per_hour": {cat: dict(sorted(h.items())) for cat, h in hourly.items()},
        "funnel": funnel,
        "channels": [
            {
                "name": c["name"],
                "state": c["state"],
                **{k: c["stats"].get(k) for k in ("decoded", "sampled", "deduped", "analyzed", "dropped")},
                "latency_p50_ms": c["stats"].get("latency_p50_ms"),
                "latency_p99_ms": c["stats"].get("latency_p99_ms"),
            }
            for c in channels
        ],
        "inference_s": histogram_quantiles(registry, "framewarden_inference_seconds", (0.5, 0.99)),
        "frame_latency_s": histogram_quantiles(registry, "framewarden_frame_latency_seconds", (0.5, 0.99)),
        "cost": {"frames_analyzed": funnel["analyzed"], "cpu_seconds": round(time.process_time(), 3)},
    }
