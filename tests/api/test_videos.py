"""POST /v1/videos end to end: real speech (espeak-ng), real models, the status flow and its events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tests.jobs.redbox  # noqa: F401  (registers the red-square analyzer)
from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.events import Event
from framewarden.store import keys as keys_repo
from tests.api.conftest import auth
from tests.speech.conftest import PHRASE_AT_S, speech_clips  # noqa: F401
from tests.speech.media import PHRASE


@pytest.fixture
def upload_runtime(isolated_settings: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=isolated_settings,
        analyzers=["redbox"],
        alert_escalation_s=0,
        text_blocklist=[PHRASE],
        upload_max_bytes=5 * 1024 * 1024,
    )
    rt = Runtime(settings).start()
    yield rt
    rt.stop()


@pytest.fixture
def events(upload_runtime: Runtime) -> list[Event]:
    seen: list[Event] = []
    upload_runtime.bus.subscribe(seen.append, {"video_status"})
    return seen


@pytest.fixture
def vkeys(upload_runtime: Runtime) -> dict[str, str]:
    out = {}
    with upload_runtime.db.begin() as session:
        for role in ("moderator", "viewer", "ingest"):
            _, out[role] = keys_repo.create_key(session, name=f"{role}-tester", role=role)  # type: ignore[arg-type]
    return out


@pytest.fixture
def vclient(upload_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(upload_runtime)) as c:
        yield c


def _upload(client: TestClient, key: str, data: bytes) -> dict:  # type: ignore[type-arg]
    r = client.post("/v1/videos", content=data, headers={**auth(key), "Content-Type": "video/mp4"})
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def _settled(client: TestClient, rt: Runtime, key: str, video_id: str) -> dict:  # type: ignore[type-arg]
    assert rt.uploads.wait_idle(120)
    r = client.get(f"/v1/videos/{video_id}", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_spoken_phrase_rejects_the_upload_at_its_time(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str], events: list[Event],
    speech_clips: dict[str, Path],  # noqa: F811
) -> None:  # fmt: skip
    created = _upload(vclient, vkeys["ingest"], speech_clips["phrase"].read_bytes())
    assert created["status"] == "uploaded"
    video = _settled(vclient, upload_runtime, vkeys["viewer"], created["id"])
    assert video["status"] == "rejected", video
    spoken = [r for r in video["reasons"] if r["source"] == "speech"]
    assert spoken and spoken[0]["label"] == "Blocklisted Text" and spoken[0]["action"] == "alert"
    # labelled at its time: the segment that holds the phrase starts near where it was spoken
    assert PHRASE_AT_S - 0.5 <= spoken[0]["StartTimestampMillis"] / 1000 <= PHRASE_AT_S + 0.5
    squeeze = PHRASE.replace(" ", "")  # the ASR may write "dish washer"; the blocklist matches both
    assert squeeze in spoken[0]["evidence"].lower().replace(" ", "")
    assert video["has_audio"] is True and video["language"] == "en"
    assert [t for t in video["text_labels"] if t["Name"] == "Blocklisted Text" and t["Source"] == "speech"]
    tags = {(t["Name"], t["Kind"]): t for t in video["tags"]}
    purple = tags[("purple", "spoken_keyword")]["Ranges"][0]
    assert purple["StartTimestampMillis"] <= PHRASE_AT_S * 1000 + 500 < purple["EndTimestampMillis"]
    assert ("Blocklisted Text", "label") in tags
    # every status change was announced, in order
    assert [e.payload["status"] for e in events if e.payload["video_id"] == created["id"]] == [
        "uploaded", "processing", "rejected",
    ]  # fmt: skip
    # subtitles
    vtt = vclient.get(f"/v1/videos/{created['id']}/subtitles.vtt", headers=auth(vkeys["viewer"]))
    assert (
        vtt.status_code == 200
        and vtt.text.startswith("WEBVTT")
        and squeeze in vtt.text.lower().replace(" ", "")
    )
    srt = vclient.get(f"/v1/videos/{created['id']}/subtitles.srt", headers=auth(vkeys["viewer"]))
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:0") and " --> " in srt.text
    # search by tag and status
    found = vclient.get(
        "/v1/videos", params={"tag": "Purple", "status": "rejected"}, headers=auth(vkeys["viewer"])
    )
    assert [v["id"] for v in found.json()["items"]] == [created["id"]]
    assert (
        vclient.get("/v1/videos", params={"tag": "nothing-like-it"}, headers=auth(vkeys["viewer"])).json()[
            "items"
        ]
        == []
    )


def test_same_bytes_twice_are_analyzed_once(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str], speech_clips: dict[str, Path],  # noqa: F811
) -> None:  # fmt: skip
    data = speech_clips["clean"].read_bytes()
    first = _upload(vclient, vkeys["ingest"], data)
    files = {"file": ("again.mp4", data, "video/mp4")}
    r = vclient.post("/v1/videos", files=files, headers=auth(vkeys["ingest"]))
    assert r.status_code == 202, r.text
    second = r.json()
    assert second["analysis_of"] == first["id"] and second["filename"] == "again.mp4"
    a = _settled(vclient, upload_runtime, vkeys["viewer"], first["id"])
    b = _settled(vclient, upload_runtime, vkeys["viewer"], second["id"])
    assert a["status"] == b["status"] == "approved"
    assert b["transcript"] == a["transcript"] and a["transcript"]
    # only the first was ever processed; the second took its decision
    assert [h["to"] for h in a["history"]] == ["uploaded", "processing", "approved"]
    assert [h["to"] for h in b["history"]] == ["uploaded", "approved"]
    stored = list((upload_runtime.settings.uploads_location).rglob(a["content_hash"]))
    assert len(stored) == 1  # the bytes are stored once too


def test_corrupt_upload_fails_with_a_reason(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str], events: list[Event]
) -> None:
    created = _upload(vclient, vkeys["ingest"], b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    video = _settled(vclient, upload_runtime, vkeys["viewer"], created["id"])
    assert video["status"] == "failed"
    assert "corrupt" in video["failure"] or "invalid data" in video["failure"]
    assert events[-1].payload["status"] == "failed" and events[-1].payload["failure"] == video["failure"]


def test_upload_without_audio_is_judged_on_frames(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str], speech_clips: dict[str, Path],  # noqa: F811
) -> None:  # fmt: skip
    created = _upload(vclient, vkeys["ingest"], speech_clips["red_silent"].read_bytes())
    video = _settled(vclient, upload_runtime, vkeys["viewer"], created["id"])
    # Blood & Gore at 90: the default rule's Graphic Violence review tier (85)
    assert video["status"] == "needs_review", video
    assert video["has_audio"] is False and video["transcript"] == []
    assert {r["source"] for r in video["reasons"]} == {"frames"}
    assert "Blood & Gore" in {t["Name"] for t in video["tags"] if t["Kind"] == "label"}
    r = vclient.get(f"/v1/videos/{created['id']}/subtitles.vtt", headers=auth(vkeys["viewer"]))
    assert r.status_code == 404
    # a moderator overrides; a viewer may not
    body = {"status": "approved", "note": "fake blood, a film set"}
    denied = vclient.post(f"/v1/videos/{created['id']}/override", json=body, headers=auth(vkeys["viewer"]))
    assert denied.status_code == 403
    done = vclient.post(f"/v1/videos/{created['id']}/override", json=body, headers=auth(vkeys["moderator"]))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved" and done.json()["override_by"].startswith("moderator-tester")
    last = vclient.get(f"/v1/videos/{created['id']}", headers=auth(vkeys["viewer"])).json()["history"][-1]
    assert (
        last["to"] == "approved" and last["actor"].startswith("moderator-tester") and "film" in last["note"]
    )


def test_status_changes_reach_websocket_clients(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str], speech_clips: dict[str, Path],  # noqa: F811
) -> None:  # fmt: skip
    url = f"/v1/events?kinds=video_status&key={vkeys['viewer']}"
    with vclient.websocket_connect(url) as ws:
        assert ws.receive_json()["kind"] == "hello"
        created = _upload(vclient, vkeys["ingest"], speech_clips["red_silent"].read_bytes())
        statuses = []
        while not statuses or statuses[-1] not in {"approved", "rejected", "needs_review", "failed"}:
            event = ws.receive_json()
            assert event["kind"] == "video_status" and event["payload"]["video_id"] == created["id"]
            statuses.append(event["payload"]["status"])
    assert statuses == ["uploaded", "processing", "needs_review"]


def test_limits_and_roles(vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str]) -> None:
    too_big = b"\0" * (5 * 1024 * 1024 + 1)
    r = vclient.post("/v1/videos", content=too_big, headers=auth(vkeys["ingest"]))
    assert r.status_code == 413
    assert not [p for p in upload_runtime.settings.uploads_location.rglob("*") if p.is_file()]  # nothing kept
    assert vclient.post("/v1/videos", content=b"x", headers=auth(vkeys["viewer"])).status_code == 403
    assert vclient.post("/v1/videos", content=b"x").status_code == 401
    r = vclient.post("/v1/videos", json={"source": "file:///etc/passwd"}, headers=auth(vkeys["ingest"]))
    assert r.status_code == 422 and "s3://" in r.json()["detail"]
    assert vclient.get("/v1/videos?status=bogus", headers=auth(vkeys["viewer"])).status_code == 422
    assert vclient.get("/v1/videos/nope", headers=auth(vkeys["viewer"])).status_code == 404


def test_chat_messages_get_verdicts_under_the_channel_rule(
    vclient: TestClient, upload_runtime: Runtime, vkeys: dict[str, str]
) -> None:
    body = {"messages": [{"id": "1", "user": "ann", "text": "hello everyone"},
                         {"id": "2", "user": "bob", "text": "P.U.R.P.L.E monkey dishwasher"}]}  # fmt: skip
    r = vclient.post("/v1/channels/lobby/chat", json=body, headers=auth(vkeys["ingest"]))
    assert r.status_code == 200, r.text
    clean, bad = r.json()["verdicts"]
    assert not clean["flagged"] and clean["alert_id"] is None
    assert bad["flagged"] and bad["labels"]["Blocklisted Text"] >= 70 and bad["alert_id"] is not None
    assert bad["verdict"]["violations"][0]["action"] == "alert"
    alert = vclient.get(f"/v1/alerts/{bad['alert_id']}", headers=auth(vkeys["viewer"])).json()
    assert alert["channel"] == "lobby"
    assert (
        vclient.post("/v1/channels/lobby/chat", json=body, headers=auth(vkeys["viewer"])).status_code == 403
    )
    assert (
        vclient.post(
            "/v1/channels/lobby/chat", json={"messages": []}, headers=auth(vkeys["ingest"])
        ).status_code
        == 422
    )


def test_s3_reference_is_streamed_into_the_store(
    isolated_settings: Path,
    speech_clips: dict[str, Path],  # noqa: F811
) -> None:
    import hashlib

    import boto3
    from moto.server import ThreadedMotoServer

    from tests.e2e.harness import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t",
                          region_name="us-east-1")  # fmt: skip
        s3.create_bucket(Bucket="incoming")
        data = speech_clips["red_silent"].read_bytes()
        s3.put_object(Bucket="incoming", Key="clips/red.mp4", Body=data)
        settings = Settings(data_dir=isolated_settings, analyzers=["redbox"], alert_escalation_s=0,
                            auth_enabled=False, s3_endpoint_url=endpoint, s3_access_key_id="t",
                            s3_secret_access_key="t")  # fmt: skip
        rt = Runtime(settings).start()
        try:
            with TestClient(create_app(rt)) as client:
                r = client.post("/v1/videos", json={"source": "s3://incoming/clips/red.mp4"})
                assert r.status_code == 202, r.text
                assert r.json()["content_hash"] == hashlib.sha256(data).hexdigest()
                assert rt.uploads.wait_idle(60)
                assert client.get(f"/v1/videos/{r.json()['id']}").json()["status"] == "needs_review"
                missing = client.post("/v1/videos", json={"source": "s3://incoming/nope.mp4"})
                assert missing.status_code == 422 and "no such S3 object" in missing.json()["detail"]
        finally:
            rt.stop()
    finally:
        server.stop()


def test_every_status_change_is_sent_to_the_upload_webhook(isolated_settings: Path) -> None:
    import json

    from tests.actions.webhook_server import webhook_receiver
    from tests.e2e.harness import wait_until

    with webhook_receiver() as rx:
        hook = {"name": "uploads-hook", "type": "webhook", "url": rx.url}
        settings = Settings(data_dir=isolated_settings, analyzers=["redbox"], alert_escalation_s=0,
                            auth_enabled=False, upload_notify=["uploads-hook"],
                            notification_targets=[hook])  # fmt: skip
        rt = Runtime(settings).start()
        try:
            with TestClient(create_app(rt)) as client:
                video_id = client.post("/v1/videos", content=b"garbage" * 100).json()["id"]
                assert rt.uploads.wait_idle(60)
                assert wait_until(lambda: len(rx.requests) >= 3, 20)
        finally:
            rt.stop()
    bodies = [json.loads(r.body) for r in rx.requests]
    assert [b["kind"] for b in bodies] == ["video_status"] * 3
    assert [b["payload"]["status"] for b in bodies] == ["uploaded", "processing", "failed"]
    assert {b["payload"]["video_id"] for b in bodies} == {video_id}
    assert bodies[-1]["payload"]["failure"]
