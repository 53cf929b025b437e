"""Dashboard sessions: an API key exchanged once for a cookie, with a CSRF token.

Browsers should not keep API keys in script-readable storage, so the sign-in
form posts the key once; the server answers with an opaque session token in
an ``HttpOnly; SameSite=Strict`` cookie and keeps the session in memory (a
restart signs everyone out, which is acceptable for a moderation console).
A session resolves to the same :class:`Principal` as its key, and the key is
re-checked on every request, so revoking a key ends its sessions at once.

State-changing requests authenticated by the cookie must carry the session's
CSRF token in ``X-CSRF-Token`` (or a ``csrf_token`` form field, for plain
forms such as logout); a forged cross-site POST has neither.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request, status
from starlette.requests import HTTPConnection

from framewarden.api.auth import Principal

COOKIE = "fw_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
DEFAULT_TTL_S = 12 * 3600.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class DashboardSession:
    token: str
    csrf: str
    principal: Principal
    expires_at: float


class SessionStore:
    """Sessions in process memory, dropped at expiry or logout."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, DashboardSession] = {}
        self._lock = threading.Lock()

    def create(self, principal: Principal, now: float | None = None) -> DashboardSession:
        now = time.time() if now is None else now
        session = DashboardSession(
            token=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            principal=principal,
            expires_at=now + self.ttl_s,
        )
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None, now: float | None = None) -> DashboardSession | None:
        if not token:
            return None
        now = time.time() if now is None else now
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires_at <= now:
                del self._sessions[token]
                return None
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def drop_key(self, key_id: str) -> None:
        """End every session of a key (it was revoked)."""
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.principal.key_id != key_id}


def store_of(conn: HTTPConnection) -> SessionStore:
    store = getattr(conn.app.state, "sessions", None)
    if store is None:  # an app built without the dashboard still answers cleanly
        store = conn.app.state.sessions = SessionStore()
    return store


def current_session(conn: HTTPConnection) -> DashboardSession | None:
    return store_of(conn).get(conn.cookies.get(COOKIE))


def check_csrf(request: Request, session: DashboardSession, form_token: str | None = None) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (403)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or form_token or ""
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid CSRF token")


def same_origin(conn: HTTPConnection) -> bool:
    """A WebSocket opened with the cookie must come from this site (no cross-site hijacking)."""
    origin = conn.headers.get("origin")
    if not origin:
        return True  # not a browser
    host = conn.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def session_principal(conn: HTTPConnection, *, check_key: bool = True) -> Principal | None:
    """The principal of the request's session cookie, or None when there is none.

    Raises 403 for a state-changing request without the session's CSRF token,
    and drops the session when its key has been revoked since sign-in.
    """
    session = current_session(conn)
    if session is None:
        return None
    if check_key:
        from framewarden.store import keys as keys_repo

        with conn.app.state.runtime.db.read() as db:
            row = keys_repo.get_key(db, key_id=session.principal.key_id)
            live = row is not None and row.revoked_at is None
        if not live:
            store_of(conn).drop_key(session.principal.key_id)
            return None
    if isinstance(conn, Request):
        check_csrf(conn, session)
    return session.principal
