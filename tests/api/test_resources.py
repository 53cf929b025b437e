"""Channels, rules, alerts, results and events through the API, on a real runtime."""

from __future__ import annotations

import time

import pytest
import yaml
from fastapi.testclient import TestClient

from framewarden.api.runtime import Runtime
from framewarden.pipeline.context import FrameRecord
from framewarden.pipeline.sinks import StoreResultSink
from framewarden.rules.verdict import Action, Verdict, Violation
from tests.api.conftest import auth


def verdict(channel: str, label: str = "Weapons", conf: float = 91.0) -> Verdict:
    return Verdict(
        channel=channel,
        rule_id="default",
        rule_version=1,
        frame_seq=7,
        pts_ms=7000.0,
        violations=(Violation(label, conf, "default", 60.0, label, Action.ALERT),),
        actions=frozenset({Action.ALERT}),
    )


# --- channels ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("file:///etc/passwd", 422),
        ("/etc/passwd", 422),
        ("gopher://127.0.0.1/x", 422),
        ("rtmp://127.0.0.1:1/live/ok", 201),
    ],
)
def test_channel_sources_are_restricted(
    client: TestClient, keys: dict[str, str], source: str, status: int
) -> None:
    r = client.post(
        "/v1/channels",
        json={"name": "cam", "source_url": source, "start": False},
        headers=auth(keys["admin"]),
    )
    assert r.status_code == status, r.text


def test_channel_lifecycle(client: TestClient, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    body = {"name": "cam-1", "source_url": "rtmp://127.0.0.1:1/live/cam-1", "start": False}
    assert client.post("/v1/channels", json=body, headers=admin).status_code == 201
    assert client.post("/v1/channels", json=body, headers=admin).status_code == 409
    got = client.get("/v1/channels/cam-1", headers=auth(keys["viewer"])).json()
    assert got["state"] == "stopped" and got["desired_state"] == "stopped"
    started = client.post("/v1/channels/cam-1/start", headers=admin).json()
    assert started["desired_state"] == "running"
    # Nothing listens on port 1: the supervisor keeps trying, and says so.
    deadline = time.time() + 20
    state = ""
    while time.time() < deadline:
        state = client.get("/v1/channels/cam-1", headers=admin).json()["state"]
        if state in {"reconnecting", "error"}:
            break
        time.sleep(0.2)
    assert state in {"reconnecting", "error"}
    assert client.post("/v1/channels/cam-1/stop", headers=admin).json()["state"] == "stopped"
    assert client.delete("/v1/channels/cam-1", headers=admin).status_code == 204
    assert client.get("/v1/channels/cam-1", headers=admin).status_code == 404


@pytest.mark.parametrize("controller", [{"type": "teleport"}, "no-such-controller"])
def test_bad_controller_is_rejected_before_storing(
    client: TestClient, keys: dict[str, str], controller: object
) -> None:
    body = {"name": "c", "source_url": "rtmp://127.0.0.1:1/live/c", "controller": controller}
    assert client.post("/v1/channels", json=body, headers=auth(keys["admin"])).status_code == 422
    assert client.get("/v1/channels", headers=auth(keys["admin"])).json() == []


# --- rules ---------------------------------------------------------------------------
def test_rules_crud_history_and_yaml(client: TestClient, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    rule = {"id": "sports", "channel_pattern": "^sports-", "priority": 10, "labels": {"Violence": 80}}
    created = client.post("/v1/rules", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    rule["labels"] = {"Violence": 70}
    assert client.put("/v1/rules/sports", json=rule, headers=admin).json()["version"] == 2
    history = client.get("/v1/rules/sports/history", headers=auth(keys["viewer"])).json()
    assert [h["version"] for h in history] == [1, 2]
    assert all(h["author"].startswith("admin-tester") for h in history)
    exported = client.get("/v1/rules/export", headers=admin)
    assert exported.headers["content-type"].startswith("application/yaml")
    docs = yaml.safe_load(exported.text)["rules"]
    assert [d["id"] for d in docs] == ["sports"]
    docs[0]["priority"] = 5
    imported = client.post(
        "/v1/rules/import",
        content=yaml.safe_dump(docs),
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert imported.status_code == 200, imported.text
    assert client.get("/v1/rules/sports", headers=admin).json()["rule"]["priority"] == 5
    assert client.delete("/v1/rules/sports", headers=admin).status_code == 204
    assert client.get("/v1/rules/sports", headers=admin).status_code == 404


def test_invalid_regex_is_rejected_at_save_time(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(
        "/v1/rules", json={"id": "bad", "channel_pattern": "([a-z", "labels": {}}, headers=auth(keys["admin"])
    )
    assert r.status_code == 422
    assert "channel_pattern" in r.text


def test_rule_change_reaches_only_affected_channels(
    client: TestClient, keys: dict[str, str], runtime: Runtime
) -> None:
    admin = auth(keys["admin"])
    for name in ("news-1", "sports-1"):
        client.post(
            "/v1/channels",
            json={"name": name, "source_url": f"rtmp://127.0.0.1:1/live/{name}"},
            headers=admin,
        )
    r = client.post(
        "/v1/rules", json={"id": "sports", "channel_pattern": "^sports-", "labels": {}}, headers=admin
    )
    assert r.json()["affected_channels"] == ["sports-1"]
    assert runtime.channels.rule_of("sports-1").id == "sports"
    assert runtime.channels.rule_of("news-1").id == "default"


# --- alerts and results ------------------------------------------------------------------------
def test_alert_review_records_identity(client: TestClient, keys: dict[str, str], runtime: Runtime) -> None:
    first = runtime.alerts.record(verdict("live-1"))
    runtime.alerts.record(verdict("live-10", "Hate Symbols"))
    assert first is not None
    mod = auth(keys["moderator"])
    listed = client.get("/v1/alerts", params={"channel": "live-1"}, headers=auth(keys["viewer"])).json()
    assert [a["id"] for a in listed["items"]] == [first.id]
    by_label = client.get("/v1/alerts", params={"label": "Hate Symbols"}, headers=mod).json()["items"]
    assert [a["channel"] for a in by_label] == ["live-10"]
    done = client.post(f"/v1/alerts/{first.id}/confirm", json={"note": "clear weapon"}, headers=mod).json()
    assert done["status"] == "confirmed"
    assert done["acknowledged_by"].startswith("moderator-tester")
    again = client.post(f"/v1/alerts/{first.id}/dismiss", json={}, headers=mod)
    assert again.status_code == 409  # confirmed is final
    detail = client.get(f"/v1/alerts/{first.id}", headers=mod).json()
    assert detail["history"][-1]["note"] == "clear weapon"
    # Acknowledging a channel never touches a channel whose name shares its prefix.
    ack = client.post("/v1/channels/live-1/alerts/acknowledge", json={}, headers=mod).json()
    assert ack["changed"] == []
    still_open = client.get("/v1/alerts", params={"status": "open"}, headers=mod).json()["items"]
    assert [a["channel"] for a in still_open] == ["live-10"]


def test_results_by_channel_paginated(client: TestClient, keys: dict[str, str], runtime: Runtime) -> None:
    sink = StoreResultSink(runtime.db)
    now = time.time()
    for i in range(5):
        sink.record(
            FrameRecord(
                channel="cam",
                seq=i,
                pts_ms=i * 1000.0,
                captured_at=now + i,
                decided_at=now + i + 0.05,
                labels={"Weapons": 80.0, "Violence": 80.0} if i == 3 else {},
                verdict=verdict("cam"),
            )
        )
    viewer = auth(keys["viewer"])
    page = client.get("/v1/channels/cam/results", params={"limit": 2}, headers=viewer).json()
    assert [r["frame_seq"] for r in page["items"]] == [0, 1]
    page2 = client.get(
        "/v1/channels/cam/results", params={"limit": 10, "cursor": page["next_cursor"]}, headers=viewer
    ).json()
    assert [r["frame_seq"] for r in page2["items"]] == [2, 3, 4]
    flagged = client.get("/v1/channels/cam/results", params={"flagged_only": True}, headers=viewer).json()
    assert [r["frame_seq"] for r in flagged["items"]] == [3]
    assert flagged["items"][0]["labels"][0]["Name"] == "Violence"


# --- events --------------------------------------------------------------------------
def test_websocket_pushes_alerts(client: TestClient, keys: dict[str, str], runtime: Runtime) -> None:
    with client.websocket_connect(f"/v1/events?key={keys['viewer']}&kinds=alert") as ws:
        hello = ws.receive_json()
        assert hello["kind"] == "hello"
        runtime.alerts.record(verdict("cam-ws"))
        event = ws.receive_json()
        assert event["kind"] == "alert"
        assert event["channel"] == "cam-ws"
        assert event["payload"]["top_label"] == "Weapons"


def test_websocket_refuses_bad_keys(client: TestClient, keys: dict[str, str]) -> None:
    # As documented: the handshake is answered 401 (unknown key) or 403 (role), {"detail": ...}.
    from starlette.testclient import WebSocketDenialResponse

    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/v1/events?key=nope"):
        pass
    assert info.value.status_code == 401 and "detail" in info.value.json()
    with (
        pytest.raises(WebSocketDenialResponse) as info,
        client.websocket_connect(f"/v1/events?key={keys['ingest']}"),
    ):
        pass
    assert info.value.status_code == 403 and "ingest" in info.value.json()["detail"]


def test_metrics_exposes_pipeline_counters(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/metrics", headers=auth(keys["viewer"]))
    assert r.status_code == 200
    assert "framewarden_frame_latency_seconds" in r.text


def test_openapi_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/images:moderate" in spec["paths"]
    assert "/v1/channels/{name}/stop-stream" in spec["paths"]
