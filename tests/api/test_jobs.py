"""``/v1/jobs`` on a real runtime: a video through to SUCCEEDED, results, report, batch, cancel, roles.

The ``hashlist`` analyzer with a bank holding the mark image gives known
answers: the clip shows the mark from 2 s to 4 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.cli import app as cli_app
from framewarden.config import Settings
from framewarden.store import keys as keys_repo
from tests.api.conftest import auth
from tests.jobs.marked import MARK_LABEL, make_clip, make_mark


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jobmedia")
    mark = make_mark(root / "mark.png")
    return {"mark": mark, "clip": make_clip(root / "clip.mp4", mark, duration_s=6)}


@pytest.fixture
def rt(isolated_settings: Path, media: dict[str, Path]) -> Iterator[Runtime]:
    added = CliRunner().invoke(cli_app, ["banks", "add", "known", "--label", MARK_LABEL, str(media["mark"])])
    assert added.exit_code == 0, added.output
    settings = Settings(
        data_dir=isolated_settings, analyzers=["hashlist"], allow_file_sources=True, alert_escalation_s=0
    )
    runtime = Runtime(settings).start()
    yield runtime
    runtime.stop()


@pytest.fixture
def api(rt: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = {}
    with rt.db.begin() as session:
        for role in ("admin", "viewer", "ingest"):
            keys[role] = keys_repo.create_key(session, name=role, role=role)[1]  # type: ignore[arg-type]
    with TestClient(create_app(rt)) as client:
        yield client, keys


def wait_final(client: TestClient, key: str, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_video_job_results_sorted_aggregated_and_paged(
    api: tuple[TestClient, dict[str, str]], media: dict[str, Path]
) -> None:
    client, keys = api
    created = client.post(
        "/v1/jobs",
        json={"source": str(media["clip"]), "sample_interval_s": 0.5, "dedup": False},
        headers=auth(keys["ingest"]),
    )
    assert created.status_code == 201, created.text
    job = wait_final(client, keys["ingest"], created.json()["id"])
    assert job["status"] == "succeeded" and job["progress"] == 100.0
    body = client.get(f"/v1/jobs/{job['id']}/results", headers=auth(keys["viewer"])).json()
    assert body["JobStatus"] == "SUCCEEDED"
    stamps = sorted(
        {e["Timestamp"] for e in body["ModerationLabels"] if e["ModerationLabel"]["Name"] == MARK_LABEL}
    )
    assert stamps and 1500 <= stamps[0] <= 2500 and 3500 <= stamps[-1] <= 4500, stamps
    assert body["VideoMetadata"]["DurationMillis"] == 6000
    segs = client.get(
        f"/v1/jobs/{job['id']}/results", params={"aggregate_by": "segments"}, headers=auth(keys["viewer"])
    ).json()["ModerationLabels"]
    assert [s["ModerationLabel"]["Name"] for s in segs] == [MARK_LABEL]  # one run, one segment
    assert segs[0]["StartTimestampMillis"] == stamps[0] and segs[0]["EndTimestampMillis"] == stamps[-1]
    # with dedup the still mark is analyzed once, yet its segment spans the same time
    deduped = client.post(
        "/v1/jobs",
        json={"source": str(media["clip"]), "sample_interval_s": 0.5},
        headers=auth(keys["ingest"]),
    ).json()["id"]
    assert wait_final(client, keys["ingest"], deduped)["status"] == "succeeded"
    segs2 = client.get(
        f"/v1/jobs/{deduped}/results", params={"aggregate_by": "segments"}, headers=auth(keys["viewer"])
    ).json()["ModerationLabels"]
    assert [(s["StartTimestampMillis"], s["EndTimestampMillis"]) for s in segs2] == [
        (s["StartTimestampMillis"], s["EndTimestampMillis"]) for s in segs
    ]
    # pages: one entry a page, until no next token, the same entries in the same order
    paged, token = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "sort_by": "name"}
        if token:
            params["next_token"] = token
        page = client.get(f"/v1/jobs/{job['id']}/results", params=params, headers=auth(keys["viewer"])).json()
        paged += page["ModerationLabels"]
        token = page.get("NextToken")
        if not token:
            break
    by_name = client.get(
        f"/v1/jobs/{job['id']}/results", params={"sort_by": "name"}, headers=auth(keys["viewer"])
    )
    assert paged == by_name.json()["ModerationLabels"] and len(paged) == len(body["ModerationLabels"])
    listed = client.get(
        "/v1/jobs", params={"status": "succeeded", "limit": 1}, headers=auth(keys["viewer"])
    ).json()
    assert [j["id"] for j in listed["items"]] == [deduped] and listed["next_cursor"]
    rest = client.get(
        "/v1/jobs",
        params={"status": "succeeded", "cursor": listed["next_cursor"]},
        headers=auth(keys["viewer"]),
    ).json()
    assert [j["id"] for j in rest["items"]] == [job["id"]]


def test_manifest_batch_and_completion_report(
    api: tuple[TestClient, dict[str, str]], media: dict[str, Path]
) -> None:
    client, keys = api
    manifest = f"{media['clip']}\n{media['clip'].parent / 'missing.mp4'}\n"
    created = client.post(
        "/v1/jobs", json={"manifest": manifest, "sample_interval_s": 1}, headers=auth(keys["ingest"])
    )
    assert created.status_code == 201, created.text
    batch = wait_final(client, keys["ingest"], created.json()["id"])
    assert (batch["kind"], batch["status"], batch["done"], batch["failed"]) == ("batch", "succeeded", 1, 1)
    report = client.get(f"/v1/jobs/{batch['id']}/report", headers=auth(keys["viewer"]))
    lines = report.text.strip().splitlines()
    assert lines[0].startswith("input,status") and len(lines) == 3
    assert "SUCCEEDED" in lines[1] and MARK_LABEL in lines[1]
    assert "FAILED" in lines[2] and "missing.mp4" in lines[2]


def test_cancel_roles_and_refused_sources(
    api: tuple[TestClient, dict[str, str]], rt: Runtime, media: dict[str, Path]
) -> None:
    client, keys = api
    src = {"source": str(media["clip"]), "sample_interval_s": 0}
    assert client.post("/v1/jobs", json=src, headers=auth(keys["viewer"])).status_code == 403
    assert client.get("/v1/jobs").status_code == 401
    for url in ("ftp://x/y.mp4", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd.mp4"):
        refused = client.post("/v1/jobs", json={"source": url}, headers=auth(keys["ingest"]))
        assert refused.status_code == 422 and "not allowed" in refused.text, url
    unknown = client.post(
        "/v1/jobs", json={**src, "analyzers": ["nudenet"]}, headers=auth(keys["ingest"])
    )  # the server loads hashlist only
    assert unknown.status_code == 422 and "not loaded by this server" in unknown.text
    no_target = client.post("/v1/jobs", json={**src, "notify": ["nowhere"]}, headers=auth(keys["ingest"]))
    assert no_target.status_code == 422 and "not configured" in no_target.text
    rt.settings = rt.settings.model_copy(update={"allow_file_sources": False})
    rt.jobs.settings = rt.settings
    local = client.post("/v1/jobs", json=src, headers=auth(keys["ingest"]))
    assert local.status_code == 422 and "local files" in local.text
    rt.jobs.settings = rt.settings = rt.settings.model_copy(update={"allow_file_sources": True})
    job_id = client.post("/v1/jobs", json=src, headers=auth(keys["ingest"])).json()["id"]
    cancelled = client.delete(f"/v1/jobs/{job_id}", headers=auth(keys["ingest"]))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.delete(f"/v1/jobs/{job_id}", headers=auth(keys["ingest"])).status_code == 409
    assert wait_final(client, keys["ingest"], job_id)["status"] == "cancelled"
    assert client.get("/v1/jobs/nope", headers=auth(keys["viewer"])).status_code == 404


def test_job_events_on_the_websocket(api: tuple[TestClient, dict[str, str]], media: dict[str, Path]) -> None:
    client, keys = api
    with client.websocket_connect(f"/v1/events?key={keys['viewer']}&kinds=job") as ws:
        assert ws.receive_json()["kind"] == "hello"
        job_id = client.post(
            "/v1/jobs",
            json={"source": str(media["clip"]), "sample_interval_s": 1},
            headers=auth(keys["ingest"]),
        ).json()["id"]
        statuses = []
        while not statuses or statuses[-1] not in {"succeeded", "failed"}:
            event = ws.receive_json()
            assert event["kind"] == "job" and event["payload"]["job_id"] == job_id
            statuses.append(event["payload"]["status"])
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "succeeded"
