"""The FastAPI application: one router per resource, errors mapped in one place."""

from __future__ import annotations

from fastapi import FastAPI

import framewarden.api.admission as admission
import framewarden.api.routers.notifications as notifications_router
import framewarden.api.storage_errors as storage_errors
from framewarden import __version__
from framewarden.api import docs, errors, rekognition
from framewarden.api.routers import (
    alerts,
    channels,
    chat,
    events,
    images,
    jobs,
    keys,
    results,
    rules,
    stats,
    system,
    videos,
)
from framewarden.api.routers.controllers import router as controllers_router
from framewarden.api.routers.dashboard import router as dashboard_router
from framewarden.api.routers.frames import router as frames_router
from framewarden.api.routers.targets import router as targets_router
from framewarden.api.runtime import Runtime
from framewarden.redact import install_log_redaction


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
    install_log_redaction()  # no log line (uvicorn's access log included) carries a key or a password
    errors.install(app)
    storage_errors.install(app)
    admission.install(app)
    for module in (system, images, channels, rules, alerts, results, events, keys, jobs, videos, chat):
        app.include_router(module.router)
    app.include_router(notifications_router.router)
    app.include_router(controllers_router)
    rekognition.install(app, runtime.settings.rekognition_path_prefix)
    app.include_router(frames_router)
    app.include_router(dashboard_router)
    app.include_router(targets_router)
    from framewarden import web  # the dashboard's pages (imported late: it needs the API's modules)

    web.install(app)
    app.include_router(stats.router)
    return app
