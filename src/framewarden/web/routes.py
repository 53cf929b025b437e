"""Dashboard pages, sign-in and sign-out.

Every page needs a signed-in session (or authentication turned off); the
role decides which controls the page shows, and the API refuses the rest
anyway.  Sign-in takes an API key once and answers with an ``HttpOnly``,
``SameSite=Strict`` session cookie; sign-out needs the session's CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from framewarden import __version__, taxonomy
from framewarden.api.auth import ANONYMOUS_ADMIN, Principal
from framewarden.api.deps import authenticate
from framewarden.api.session import COOKIE, SessionStore, check_csrf, current_session, store_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)

PAGES = {
    "wall": ("/", "Live wall"),
    "alerts": ("/alerts", "Alert queue"),
    "charts": ("/charts", "Charts"),
    "rules": ("/rules", "Rules"),
    "channels": ("/channels", "Channels"),
    "targets": ("/notifications", "Notifications"),
}


def install(app: FastAPI) -> None:
    """Mount the dashboard on ``app``: pages at ``/``, static files at ``/static``."""
    app.state.sessions = SessionStore(app.state.runtime.settings.dashboard_session_hours * 3600.0)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)


def _viewer(request: Request) -> tuple[Principal, str] | None:
    """(principal, csrf token) of the page's visitor; None = must sign in."""
    if not request.app.state.runtime.settings.auth_enabled:
        return ANONYMOUS_ADMIN, ""
    session = current_session(request)
    if session is None:
        return None
    return session.principal, session.csrf


# Scripts and connections from this origin only; no framing (clickjacking of the actions).
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _secure(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _labels_tree() -> list[dict[str, Any]]:
    return [
        {"name": n.name, "parent": n.parent, "level": n.level}
        for n in sorted(taxonomy.NODES.values(), key=lambda n: (n.level, n.name))
    ]


def _page(request: Request, page: str, **extra: Any) -> Response:
    who = _viewer(request)
    if who is None:
        return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    principal, csrf = who
    context = {
        "page": page,
        "pages": PAGES,
        "principal": principal,
        "role": principal.role,
        "can_moderate": principal.allows("moderator"),
        "is_admin": principal.allows("admin"),
        "csrf": csrf,
        "version": __version__,
        "auth_enabled": request.app.state.runtime.settings.auth_enabled,
        **extra,
    }
    return _secure(templates.TemplateResponse(request, f"{page}.html", context))


@router.get("/", response_class=HTMLResponse)
def wall(request: Request) -> Response:
    return _page(request, "wall")


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request) -> Response:
    return _page(request, "alerts", labels=_labels_tree())


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert(request: Request, alert_id: int) -> Response:
    return _page(request, "alerts", labels=_labels_tree(), selected=alert_id)


@router.get("/charts", response_class=HTMLResponse)
def charts(request: Request) -> Response:
    return _page(request, "charts")


@router.get("/rules", response_class=HTMLResponse)
def rules(request: Request) -> Response:
    return _page(request, "rules", labels=_labels_tree())


@router.get("/channels", response_class=HTMLResponse)
def channels(request: Request) -> Response:
    return _page(request, "channels")


@router.get("/notifications", response_class=HTMLResponse)
def targets(request: Request) -> Response:
    return _page(request, "targets")


@router.get("/channels/{name}/view", response_class=HTMLResponse)
def channel(request: Request, name: str) -> Response:
    return _page(request, "channel", channel=name)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _secure(templates.TemplateResponse(request, "login.html", {"error": "", "version": __version__}))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, key: Annotated[str, Form(max_length=500)] = "") -> Response:
    runtime = request.app.state.runtime
    try:
        principal = await run_in_threadpool(authenticate, runtime, key.strip() or None)
    except HTTPException as exc:
        return _secure(
            templates.TemplateResponse(
                request,
                "login.html",
                {"error": str(exc.detail), "version": __version__},
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        )
    store = store_of(request)
    store.drop(request.cookies.get(COOKIE))  # no session fixation: always a fresh token
    session = store.create(principal)
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(store.ttl_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    session = current_session(request)
    if session is not None:
        check_csrf(request, session, csrf_token)
        store_of(request).drop(session.token)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response
