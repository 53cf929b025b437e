"""``/docs``: Swagger UI served from the installed package, so it works offline.

FastAPI's default page loads Swagger UI from a CDN: blank on an air-gapped
install.  The ``fastapi-offline`` package ships the Swagger UI dist files; they
are served under ``/docs/static`` and the page points at them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/docs/static"


def swagger_assets() -> Path:
    """The folder holding swagger-ui-bundle.js, swagger-ui.css and favicon.png."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI and ReDoc, assets from the package (create the app with docs_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(STATIC_PREFIX, StaticFiles(directory=swagger_assets()), name="swagger-static")

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon.png",
        )

    app.add_api_route(docs_url, swagger_ui, include_in_schema=False, response_class=HTMLResponse)

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{STATIC_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_PREFIX}/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route(redoc_url, redoc, include_in_schema=False, response_class=HTMLResponse)
