"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from framewarden import __version__
from framewarden.api.deps import RuntimeDep, ViewerDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(runtime: RuntimeDep) -> dict[str, object]:
    """Liveness: answers without a credential."""
    return {"status": "ok", "version": __version__, "channels": len(runtime.channels.names())}


@router.get("/metrics")
def metrics(runtime: RuntimeDep, _: ViewerDep) -> Response:
    """Prometheus text format: frames per stage and channel, latency histograms, alerts, queue depth."""
    registry = runtime.channels.context.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
