"""Every route checks its credential: 401 without or with a bad key, 403 for a wrong role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from framewarden.api.auth import RateLimiter
from tests.api.conftest import auth

ROUTES = [
    # method, path, body, minimum role that passes
    ("GET", "/v1/channels", None, "viewer"),
    ("GET", "/v1/alerts", None, "viewer"),
    ("GET", "/v1/rules", None, "viewer"),
    ("GET", "/v1/rules/export", None, "viewer"),
    ("GET", "/metrics", None, "viewer"),
    ("GET", "/v1/channels/x/results", None, "viewer"),
    ("GET", "/v1/keys", None, "admin"),
    (
        "POST",
        "/v1/channels",
        {"name": "c1", "source_url": "rtmp://127.0.0.1:1/live/c1", "start": False},
        "admin",
    ),
    ("POST", "/v1/rules", {"id": "r1", "channel_pattern": "^x", "labels": {"Violence": 60}}, "admin"),
    ("POST", "/v1/alerts/1/confirm", {}, "moderator"),
    ("POST", "/v1/channels/x/alerts/acknowledge", {}, "moderator"),
]
ALLOWED = {
    "viewer": {"viewer", "moderator", "admin"},
    "moderator": {"moderator", "admin"},
    "admin": {"admin"},
}


def test_healthz_needs_no_credential(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
def test_missing_and_unknown_keys_get_401(
    client: TestClient, method: str, path: str, body: object, needs: str
) -> None:
    assert client.request(method, path, json=body).status_code == 401
    bad = client.request(method, path, json=body, headers=auth("fw_000000000000_nope"))
    assert bad.status_code == 401
    assert client.request(method, path, json=body, headers={"Authorization": "Basic abc"}).status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
def test_roles(
    client: TestClient, keys: dict[str, str], method: str, path: str, body: object, needs: str
) -> None:
    for role, key in keys.items():
        status = client.request(method, path, json=body, headers=auth(key)).status_code
        if role in ALLOWED[needs]:
            assert status not in (401, 403), (role, path, status)
        else:
            assert status == 403, (role, path, status)


def test_x_api_key_header_and_revocation(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/channels", headers={"X-API-Key": keys["viewer"]}).status_code == 200
    listed = client.get("/v1/keys", headers=auth(keys["admin"])).json()
    viewer_id = next(k["id"] for k in listed if k["role"] == "viewer")
    assert client.delete(f"/v1/keys/{viewer_id}", headers=auth(keys["admin"])).status_code == 204
    assert client.get("/v1/channels", headers={"X-API-Key": keys["viewer"]}).status_code == 401


def test_keys_are_stored_hashed(client: TestClient, keys: dict[str, str]) -> None:
    created = client.post("/v1/keys", json={"name": "ci", "role": "ingest"}, headers=auth(keys["admin"]))
    assert created.status_code == 201
    full = created.json()["key"]
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.read() as session:
        from framewarden.store.models import ApiKey

        stored = [row.key_hash for row in session.query(ApiKey).all()]
    assert full not in stored
    assert all(len(h) == 64 for h in stored)


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(2, window_s=60)
    assert limiter.allow("k", now=0)[0]
    assert limiter.allow("k", now=1)[0]
    allowed, retry = limiter.allow("k", now=2)
    assert not allowed and retry == pytest.approx(58)
    assert limiter.allow("other", now=2)[0]
    assert limiter.allow("k", now=60.5)[0]
