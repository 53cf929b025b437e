"""Security through the API: no host commands or SSRF from clients, no secrets to lower roles.

Each test here failed before the fix it guards (issue 8, items 1-4; issue 9's stop-stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.store import channels as channels_repo
from framewarden.store import keys as keys_repo
from framewarden.store.db import open_database
from tests.api.conftest import auth
from tests.api.test_resources import verdict
from tests.e2e.harness import free_port

SECRET = "hunter2"
CRED_SOURCE = f"rtsp://admin:{SECRET}@127.0.0.1:1/stream1?token=t0ps3cret"


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "analyzers": ["hashlist"],
        "alert_escalation_s": 0,
        "port": 8080,
        "controllers": {
            # nothing listens on this port: every stop fails
            "down": {"type": "nginx_rtmp", "control_url": f"http://127.0.0.1:{free_port()}/control"},
            "web": {"type": "http", "url": "http://127.0.0.1:1/stop", "headers": {"X-Token": "tok-123"}},
        },
    }
    return Settings(**(base | extra))


def start(settings: Settings) -> tuple[Runtime, dict[str, str]]:
    runtime = Runtime(settings).start()
    keys = {}
    with runtime.db.begin() as session:
        for role in ("admin", "moderator", "viewer"):
            _, keys[role] = keys_repo.create_key(session, name=f"{role}-t", role=role)  # type: ignore[arg-type]
    return runtime, keys


@pytest.fixture
def secured(isolated_settings: Path) -> Iterator[tuple[TestClient, Runtime, dict[str, str]]]:
    runtime, keys = start(make_settings(isolated_settings))
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, runtime, keys
    finally:
        runtime.stop()


def create(client: TestClient, keys: dict[str, str], **body: Any) -> Any:
    payload = {"name": "cam", "source_url": "rtmp://127.0.0.1:1/live/cam", "start": False} | body
    return client.post("/v1/channels", json=payload, headers=auth(keys["admin"]))


# --- 1. controllers by name only; sources and controllers within the allow-list -----------------
def test_inline_command_controller_is_refused(
    secured: tuple[TestClient, Runtime, dict[str, str]], tmp_path: Path
) -> None:
    client, _, keys = secured
    marker = tmp_path / "pwned"
    r = create(client, keys, controller={"type": "command", "argv": ["touch", str(marker)]})
    assert r.status_code == 422 and "settings" in r.text
    assert client.get("/v1/channels", headers=auth(keys["admin"])).json() == []
    assert not marker.exists()


def test_controller_is_named_and_shown_by_name(secured: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    client, _, keys = secured
    assert create(client, keys, controller="nope").status_code == 422
    r = create(client, keys, controller="web")
    assert r.status_code == 201, r.text
    listed = client.get("/v1/channels", headers=auth(keys["viewer"])).json()
    assert listed[0]["controller"] == "web" and "tok-123" not in str(listed)


@pytest.mark.parametrize(
    "source",
    [
        "http://169.254.169.254/latest/meta-data/",
        "rtsp://[fd00:ec2::254]/x",
        "rtmp://127.0.0.1:8080/live/x",  # the server's own API port
    ],
)
def test_sources_outside_the_network_policy_are_refused(
    secured: tuple[TestClient, Runtime, dict[str, str]], source: str
) -> None:
    client, _, keys = secured
    r = create(client, keys, source_url=source)
    assert r.status_code == 422, r.text
    assert "detail" in r.json()


# --- 2. redaction ------------------------------------------------------------------------------
def test_lower_roles_see_masked_sources_admins_see_them_to_edit(
    secured: tuple[TestClient, Runtime, dict[str, str]],
) -> None:
    client, _, keys = secured
    created = create(client, keys, source_url=CRED_SOURCE)
    assert created.status_code == 201 and created.json()["source_url"] == CRED_SOURCE
    for role in ("viewer", "moderator", "admin"):
        listed = client.get("/v1/channels", headers=auth(keys[role])).text
        assert SECRET not in listed and "t0ps3cret" not in listed, role
        assert "rtsp://***@127.0.0.1:1/stream1" in listed
    for role in ("viewer", "moderator"):
        assert SECRET not in client.get("/v1/channels/cam", headers=auth(keys[role])).text
    assert client.get("/v1/channels/cam", headers=auth(keys["admin"])).json()["source_url"] == CRED_SOURCE


def test_websocket_hello_and_channel_events_are_masked(
    secured: tuple[TestClient, Runtime, dict[str, str]],
) -> None:
    client, _, keys = secured
    create(client, keys, source_url=CRED_SOURCE)
    with client.websocket_connect(f"/v1/events?key={keys['viewer']}&kinds=channel_state") as ws:
        hello = ws.receive_json()
        assert hello["kind"] == "hello" and hello["channels"][0]["source"].startswith("rtsp://***@")
        assert SECRET not in str(hello)
        client.post("/v1/channels/cam/start", headers=auth(keys["admin"]))
        # Nothing listens on port 1: the failure's reason names the URL (masked).
        seen = []
        while not any(e["payload"].get("state") in {"reconnecting", "error"} for e in seen):
            seen.append(ws.receive_json())
    assert SECRET not in str(seen) and "t0ps3cret" not in str(seen)
    reason = client.get("/v1/channels/cam", headers=auth(keys["viewer"])).json()["reason"]
    assert reason and SECRET not in reason


# --- 3. ?key= only on the WebSocket ---------------------------------------------------------------
def test_query_key_is_refused_on_http_routes(secured: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    client, _, keys = secured
    r = client.get(f"/v1/channels?key={keys['admin']}")
    assert r.status_code == 401 and "only on the WebSocket" in r.json()["detail"]
    assert client.get("/v1/channels", headers=auth(keys["admin"])).status_code == 200
    with client.websocket_connect(f"/v1/events?key={keys['viewer']}") as ws:
        assert ws.receive_json()["kind"] == "hello"
    spec = client.get("/openapi.json", headers=auth(keys["admin"])).json()
    params = spec["paths"]["/v1/channels"]["get"].get("parameters", [])
    assert "key" not in {p["name"] for p in params}


# --- 4. demo: and channels restored at start-up ---------------------------------------------------
def test_demo_scheme_serves_only_the_bundled_clip(isolated_settings: Path) -> None:
    settings = make_settings(isolated_settings, allowed_source_schemes=["rtmp", "demo"])
    runtime, keys = start(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            assert create(client, keys, source_url="demo:/etc/passwd").status_code == 422
            assert create(client, keys, source_url="demo:").status_code == 201
    finally:
        runtime.stop()


def test_restored_channels_are_checked_again(isolated_settings: Path) -> None:
    settings = make_settings(isolated_settings, allowed_source_schemes=["rtmp", "http", "demo"])
    db = open_database(settings)
    with db.begin() as session:
        stored = {
            "files": "/etc/passwd",
            "demo": "demo:/etc/passwd",
            "meta": "http://169.254.169.254/latest/",
            "ok": "rtmp://127.0.0.1:1/live/ok",
        }
        for name, source in stored.items():
            channels_repo.create_channel(session, name=name, source_url=source, desired_state="running")
        channels_repo.create_channel(
            session,
            name="migrated",
            source_url="rtmp://127.0.0.1:1/live/m",
            controller_name="migrated-migrated",
            desired_state="running",
        )
    db.close()
    runtime, keys = start(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            got = {c["name"]: c for c in client.get("/v1/channels", headers=auth(keys["admin"])).json()}
            expected = {
                "files": "local files are not allowed",
                "demo": "plays only the bundled demo clip",
                "meta": "denied by network_deny",
                "migrated": "unknown stream controller 'migrated-migrated'",
            }
            for name, reason in expected.items():
                assert got[name]["state"] == "error", got[name]
                assert reason in got[name]["reason"], got[name]
                started = client.post(f"/v1/channels/{name}/start", headers=auth(keys["admin"]))
                assert started.status_code == 422, started.text
            assert "not allowed" not in got["ok"]["reason"] and "denied" not in got["ok"]["reason"]
    finally:
        runtime.stop()


# --- issue 9: stop-stream failures and refusals ------------------------------------------------------
def test_failed_stop_stream_is_502_json_and_keeps_the_alert_open(
    secured: tuple[TestClient, Runtime, dict[str, str]],
) -> None:
    client, runtime, keys = secured
    assert create(client, keys, controller="down", start=True).status_code == 201
    alert = runtime.alerts.record(verdict("cam"))
    assert alert is not None
    moderator = auth(keys["moderator"])
    for path in ("/v1/channels/cam/stop-stream", f"/v1/alerts/{alert.id}/stop-stream"):
        r = client.post(path, headers=moderator)
        assert r.status_code == 502, (path, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert "cannot stop stream" in r.json()["detail"]
    got = client.get(f"/v1/alerts/{alert.id}", headers=moderator).json()
    assert got["status"] == "open"
    assert [h["action"] for h in got["history"]].count("auto_stop_failed") == 2
    channel = client.get("/v1/channels/cam", headers=moderator).json()
    assert channel["desired_state"] == "running" and channel["state"] != "stopped"


def test_stop_stream_on_a_confirmed_alert_changes_nothing(
    secured: tuple[TestClient, Runtime, dict[str, str]],
) -> None:
    client, runtime, keys = secured
    assert create(client, keys, start=True).status_code == 201
    alert = runtime.alerts.record(verdict("cam"))
    assert alert is not None
    moderator = auth(keys["moderator"])
    assert client.post(f"/v1/alerts/{alert.id}/confirm", headers=moderator).status_code == 200
    before = runtime.channels.snapshot("cam").state
    r = client.post(f"/v1/alerts/{alert.id}/stop-stream", headers=moderator)
    assert r.status_code == 409 and "confirmed" in r.json()["detail"]
    assert runtime.channels.snapshot("cam").state == before != "stopped"
    assert client.get("/v1/channels/cam", headers=moderator).json()["desired_state"] == "running"


# --- issue 8, item 9: no per-rule analyzers ---------------------------------------------------------
def test_rule_analyzers_field_is_refused_with_a_reason(
    secured: tuple[TestClient, Runtime, dict[str, str]],
) -> None:
    client, _, keys = secured
    rule = {"id": "r", "channel": "cam", "labels": {"Explicit": 50}, "analyzers": ["nudenet"]}
    r = client.post("/v1/rules", json=rule, headers=auth(keys["admin"]))
    assert r.status_code == 422 and "settings.analyzers" in r.text
