"""The FastAPI application: one router per resource, errors mapped in one place."""

from __future__ import annotations

from fastapi import FastAPI

from framewarden import __version__
from framewarden.api import docs, errors
from framewarden.api.routers import alerts, channels, events, images, keys, results, rules, system
from framewarden.api.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """An app bound to a started :class:`Runtime` (the caller owns its lifetime)."""
    app = FastAPI(
        title="framewarden",
        version=__version__,
        summary="Self-hosted, real-time moderation of live streams, videos and images.",
        docs_url=None,  # served by api/docs.py from package files, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    docs.install(app)
    app.state.runtime = runtime
    errors.install(app)
    for module in (system, images, channels, rules, alerts, results, events, keys):
        app.include_router(module.router)
    return app
