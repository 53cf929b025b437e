"""GET /v1/notifications: moderator and up, newest first, cursor pages, secrets masked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from framewarden.api.routers.notifications import redact_secrets
from framewarden.api.runtime import Runtime
from framewarden.store import notifications as repo
from tests.api.conftest import auth


def _seed(runtime: Runtime) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    with runtime.db.begin() as s:
        for i in range(5):
            repo.record_notification(s, target="hook", alert_id=None, attempt=i + 1, status="retry",
                                     error=f"POST https://bot:hunter2@hooks.example/x?token=abc{i} -> 500",
                                     at=t0 + i)  # fmt: skip
        repo.record_notification(s, target="mail", alert_id=None, attempt=1, status="ok", at=t0 + 10)


@pytest.mark.parametrize(
    ("role", "code"), [("viewer", 403), ("ingest", 403), ("moderator", 200), ("admin", 200)]
)
def test_roles(client: TestClient, keys: dict[str, str], role: str, code: int) -> None:
    assert client.get("/v1/notifications", headers=auth(keys[role])).status_code == code


def test_pages_filters_and_redaction(client: TestClient, keys: dict[str, str], runtime: Runtime) -> None:
    _seed(runtime)
    h = auth(keys["moderator"])
    first = client.get("/v1/notifications?limit=4", headers=h).json()
    assert [n["target"] for n in first["items"]] == ["mail", "hook", "hook", "hook"]
    rest = client.get(f"/v1/notifications?limit=4&cursor={first['next_cursor']}", headers=h).json()
    assert [n["attempt"] for n in rest["items"]] == [2, 1] and rest["next_cursor"] is None
    errors = [n["error"] for n in first["items"][1:] + rest["items"]]
    assert all("hunter2" not in e and "abc" not in e for e in errors), errors
    assert errors[0] == "POST https://***@hooks.example/x?token=*** -> 500"
    only = client.get("/v1/notifications?status=ok", headers=h).json()["items"]
    assert [n["target"] for n in only] == ["mail"]
    assert client.get("/v1/notifications?target=hook&limit=1", headers=h).json()["items"][0]["attempt"] == 5
    bad = client.get("/v1/notifications?cursor=not-a-cursor", headers=h)
    assert bad.status_code == 422 and "detail" in bad.json()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("no secrets here", "no secrets here"),
        ("rtsp://u:p@cam/live", "rtsp://***@cam/live"),
        ("GET http://h/?api_key=XYZ&x=1", "GET http://h/?api_key=***&x=1"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
    ],
)
def test_redact_secrets(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected
