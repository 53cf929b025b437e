"""Dashboard sessions: expiry, revocation, CSRF and WebSocket origin checks (no server needed)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from framewarden.api.auth import Principal
from framewarden.api.session import SessionStore, check_csrf, same_origin

ALICE = Principal("k1", "alice", "moderator")


def _request(method: str, headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": method, "headers": raw, "path": "/", "query_string": b""})


def test_a_session_expires_and_is_forgotten() -> None:
    store = SessionStore(ttl_s=60)
    session = store.create(ALICE, now=1000.0)
    assert store.get(session.token, now=1059.0) == session
    assert store.get(session.token, now=1060.0) is None
    assert store.get(session.token, now=1000.0) is None  # gone for good, not only hidden


def test_tokens_are_unique_and_logout_and_revocation_end_sessions() -> None:
    store = SessionStore()
    first, second = store.create(ALICE), store.create(ALICE)
    other = store.create(Principal("k2", "bob", "viewer"))
    assert len({first.token, second.token, first.csrf, second.csrf}) == 4
    store.drop(first.token)
    assert store.get(first.token) is None and store.get(second.token) == second
    store.drop_key("k1")
    assert store.get(second.token) is None and store.get(other.token) == other
    assert store.get(None) is None and store.get("") is None


@pytest.mark.parametrize(
    ("method", "headers", "form", "ok"),
    [
        ("GET", {}, None, True),  # reads need no token
        ("POST", {}, None, False),
        ("POST", {"X-CSRF-Token": "wrong"}, None, False),
        ("POST", {"X-CSRF-Token": "RIGHT"}, None, True),
        ("DELETE", {"X-CSRF-Token": "RIGHT"}, None, True),
        ("POST", {}, "RIGHT", True),  # a plain form (sign-out)
        ("PUT", {}, "wrong", False),
    ],
)
def test_state_changing_requests_need_the_csrf_token(
    method: str, headers: dict[str, str], form: str | None, ok: bool
) -> None:
    session = SessionStore().create(ALICE)
    headers = {k: (session.csrf if v == "RIGHT" else v) for k, v in headers.items()}
    form = session.csrf if form == "RIGHT" else form
    if ok:
        check_csrf(_request(method, headers), session, form)
    else:
        with pytest.raises(HTTPException) as err:
            check_csrf(_request(method, headers), session, form)
        assert err.value.status_code == 403


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (None, True),
        ("http://127.0.0.1:8080", True),
        ("https://evil.example", False),
        ("http://127.0.0.1:9", False),
    ],
)
def test_websocket_cookie_only_from_the_same_origin(origin: str | None, ok: bool) -> None:
    headers = {"Host": "127.0.0.1:8080", **({"Origin": origin} if origin else {})}
    assert same_origin(_request("GET", headers)) is ok
