"""Who is calling: API keys, roles, and the per-key rate limit of the image endpoint.

Keys are sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; only
the WebSocket, which browsers cannot give headers, also takes ``?key=`` (on
HTTP routes a key in the URL would land in access logs, so it is refused).  A
missing or unknown key is 401, a key whose role does not allow the route 403.

Every credential (an API key today, a dashboard session tomorrow) resolves to
the same :class:`Principal`; routes depend on roles (``require(role)``), never
on how the caller proved who it is.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

ROLE_GRANTS: dict[str, frozenset[str]] = {
    # role -> the roles whose routes it may use
    "admin": frozenset({"admin", "moderator", "viewer", "ingest"}),
    "moderator": frozenset({"moderator", "viewer", "ingest"}),
    "viewer": frozenset({"viewer"}),
    "ingest": frozenset({"ingest"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return role in ROLE_GRANTS.get(self.role, frozenset())

    @property
    def identity(self) -> str:
        """What decisions are recorded under (moderator identity on alerts)."""
        return f"{self.name} ({self.key_id})"


ANONYMOUS_ADMIN = Principal("local", "local", "admin")  # auth turned off for local use
QUERY_KEY = "key"  # the WebSocket's query parameter for the API key
QUERY_KEY_REFUSED = (
    "?key= is accepted only on the WebSocket /v1/events; send Authorization: Bearer <key> or X-API-Key"
)


def presented_key(
    authorization: str | None, x_api_key: str | None, query_key: str | None = None
) -> str | None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return (x_api_key or "").strip() or (query_key or "").strip() or None


class RateLimiter:
    """Sliding one-minute window per key (in process memory)."""

    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> tuple[bool, float]:
        """(allowed, seconds until the next call would be allowed)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False, max(0.0, hits[0] + self.window_s - now)
            hits.append(now)
            return True, 0.0
