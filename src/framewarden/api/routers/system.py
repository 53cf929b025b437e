"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from framewarden import __version__
from framewarden.api.deps import RuntimeDep, ViewerDep
from framewarden.engines.ray_switchboard import LeaderUnavailableError

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> dict[str, object]:
    """Liveness: answers without a credential.  On a Ray cluster it says whether this API
    process leads the channels or follows; a follower stays healthy while the leader changes
    (``channels`` is then null)."""
    try:
        channels: int | None = len(runtime.channels.names())
    except LeaderUnavailableError:
        channels = None
    body: dict[str, object] = {"status": "ok", "version": __version__, "channels": channels}
    leading = getattr(runtime.channels, "leading", None)
    if leading is not None:
        body["role"] = "leader" if leading else "follower"
    return body


@router.get("/metrics")
def metrics(runtime: RuntimeDep, _: ViewerDep) -> Response:
    """Prometheus text format: frames per stage and channel, latency histograms, alerts, queue depth."""
    registry = runtime.channels.context.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
