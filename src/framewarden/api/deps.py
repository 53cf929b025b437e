"""FastAPI dependencies, as ``Annotated`` aliases (STYLE: full-stack-fastapi-template)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from framewarden.api.auth import ANONYMOUS_ADMIN, QUERY_KEY, QUERY_KEY_REFUSED, Principal, presented_key
from framewarden.api.runtime import Runtime
from framewarden.api.session import session_principal
from framewarden.store import keys as keys_repo

log = logging.getLogger(__name__)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.db.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def authenticate(runtime: Runtime, key: str | None) -> Principal:
    if not runtime.settings.auth_enabled:
        return ANONYMOUS_ADMIN
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key (send Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Checking a key only reads; marking it used is a separate, throttled, best-effort
    # write, so reads keep working when the database cannot write (disk full, locked).
    with runtime.db.read() as session:
        row = keys_repo.verify_key(session, key=key, touch=False)
        if row is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown or revoked API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = Principal(row.id, row.name, row.role)
        stale = keys_repo.needs_touch(row)
    if stale:
        try:
            with runtime.db.begin() as session:
                keys_repo.touch_key(session, key_id=principal.key_id)
        except SQLAlchemyError as exc:
            log.warning("could not mark API key %s used: %s", principal.key_id, exc.__class__.__name__)
    return principal


def get_principal(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    # ?key= is for the WebSocket only (browsers cannot set its headers): on HTTP routes
    # it would end up in access logs, proxies and browser history.
    key = presented_key(authorization, x_api_key)
    if key is None and QUERY_KEY in request.query_params:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, QUERY_KEY_REFUSED, headers={"WWW-Authenticate": "Bearer"}
        )
    if key is None and runtime.settings.auth_enabled:
        # The dashboard: a session cookie (with its CSRF token) stands for the key.
        from_session = session_principal(request)
        if from_session is not None:
            return from_session
    return authenticate(runtime, key)


def require(role: str) -> Callable[..., Principal]:
    """A dependency that lets through principals whose role grants ``role``."""

    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {principal.role!r} may not do this (needs {role})"
            )
        return principal

    return check


AdminDep = Annotated[Principal, Depends(require("admin"))]
ModeratorDep = Annotated[Principal, Depends(require("moderator"))]
ViewerDep = Annotated[Principal, Depends(require("viewer"))]
IngestDep = Annotated[Principal, Depends(require("ingest"))]
