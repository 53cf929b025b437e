"""The server's video jobs on Ray (``jobs_engine = "ray"``), through the real API, on a real cluster.

Each test runs the same job through a local-engine runtime and a Ray-engine runtime (a
one-node ``ray.cluster_utils.Cluster``: a real raylet and worker processes) and compares
what ``/v1/jobs`` serves and the rows the store holds, in both of Ray's modes: the job's
video decoded inside an inference actor (``actors``, the default) or in a task of its own.
The ``hashlist`` analyzer with a bank holding the mark image gives known answers, cheaply.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before ray: loopback only

ray = pytest.importorskip(
    "ray", reason="the test command installs framewarden[ray]; a bare install has no Ray"
)

from framewarden.api.app import create_app  # noqa: E402
from framewarden.api.runtime import Runtime  # noqa: E402
from framewarden.cli import app as cli_app  # noqa: E402
from framewarden.config import Settings  # noqa: E402
from framewarden.store import jobs as jobs_repo  # noqa: E402
from framewarden.store import keys as keys_repo  # noqa: E402
from tests.api.conftest import auth  # noqa: E402
from tests.jobs.marked import MARK_LABEL, make_clip, make_mark  # noqa: E402

pytestmark = pytest.mark.slow

LOOPBACK = {"node_ip_address": "127.0.0.1"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rayjobmedia")
    mark = make_mark(root / "mark.png")
    return {
        "mark": mark,
        "clip": make_clip(root / "clip.mp4", mark, duration_s=6),
        "long": make_clip(root / "long.mp4", mark, duration_s=90, fps=10, marked=(20, 60)),
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={**LOOPBACK, "num_cpus": 2, "include_dashboard": False})
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture
def connected(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The cluster's address; the executor joins it itself (as ``serve`` does), passing on the
    test's data dir, whose hash bank the actors read.  Left again after each test."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # workers import this checkout
    yield cluster.address
    ray.shutdown()


@pytest.fixture(params=["actors", "tasks"])
def mode(request: pytest.FixtureRequest) -> str:
    """``jobs_ray_mode``."""
    return str(request.param)


def _runtime(data_dir: Path, engine: str, address: str = "", mode: str = "actors") -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        analyzers=["hashlist"],
        allow_file_sources=True,
        alert_escalation_s=0,
        jobs_engine=engine,  # type: ignore[arg-type]
        jobs_ray_mode=mode,  # type: ignore[arg-type]
        ray_address=address,
    )
    return Runtime(settings).start()


def _keys(rt: Runtime) -> dict[str, str]:
    with rt.db.begin() as session:
        return {
            role: keys_repo.create_key(session, name=role, role=role)[1]  # type: ignore[arg-type]
            for role in ("admin", "viewer", "ingest")
        }


def _submit(client: TestClient, keys: dict[str, str], source: Path, **kw: Any) -> str:
    created = client.post("/v1/jobs", json={"source": str(source), **kw}, headers=auth(keys["ingest"]))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _final(client: TestClient, keys: dict[str, str], job_id: str, timeout_s: float = 180) -> dict[str, Any]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(keys["viewer"])).json()
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _outcome(rt: Runtime, client: TestClient, keys: dict[str, str], job_id: str) -> dict[str, Any]:
    """What a client sees of a finished job, and the rows behind it."""
    job = _final(client, keys, job_id)
    results = {
        agg: client.get(
            f"/v1/jobs/{job_id}/results", params={"aggregate_by": agg}, headers=auth(keys["viewer"])
        ).json()
        for agg in ("timestamps", "segments")
    }
    with rt.db.read() as session:
        rows = jobs_repo.job_frames(session, job_id=job_id)
    return {"job": job, "results": results, "rows": rows}


def _same(local: dict[str, Any], on_ray: dict[str, Any]) -> None:
    assert on_ray["job"]["status"] == local["job"]["status"] == "succeeded"
    for agg in ("timestamps", "segments"):
        assert on_ray["results"][agg]["ModerationLabels"] == local["results"][agg]["ModerationLabels"]
        assert on_ray["results"][agg]["VideoMetadata"] == local["results"][agg]["VideoMetadata"]
    assert on_ray["rows"] == local["rows"]  # same frames, labels and covered spans; none twice
    assert len({r.pts_ms for r in on_ray["rows"]}) == len(on_ray["rows"])
    s_local, s_ray = local["job"]["summary"], on_ray["job"]["summary"]
    assert s_ray["FramesAnalyzed"] == s_local["FramesAnalyzed"] == len(local["rows"])
    assert s_ray["ModelVersions"] == s_local["ModelVersions"] and s_ray["Progress"] == 100.0


def _run_local(data_dir: Path, source: Path, **kw: Any) -> dict[str, Any]:
    rt = _runtime(data_dir / "local", "local")
    try:
        keys = _keys(rt)
        with TestClient(create_app(rt)) as client:
            return _outcome(rt, client, keys, _submit(client, keys, source, **kw))
    finally:
        rt.stop()


@pytest.fixture
def banked(isolated_settings: Path, media: dict[str, Path]) -> Path:
    added = CliRunner().invoke(cli_app, ["banks", "add", "known", "--label", MARK_LABEL, str(media["mark"])])
    assert added.exit_code == 0, added.output
    return isolated_settings


def test_a_job_on_ray_gives_the_local_engines_labels(
    banked: Path, media: dict[str, Path], connected: str, mode: str
) -> None:
    spec = {"sample_interval_s": 0.2}  # dedup on: covered spans cross chunk boundaries
    local = _run_local(banked, media["clip"], **spec)
    assert any(
        e["ModerationLabel"]["Name"] == MARK_LABEL for e in local["results"]["timestamps"]["ModerationLabels"]
    )
    rt = _runtime(banked / "ray", "ray", connected, mode)
    try:
        keys = _keys(rt)
        events: list[dict[str, Any]] = []
        rt.bus.subscribe(lambda e: events.append(e.payload) if e.kind == "job" else None)
        with TestClient(create_app(rt)) as client:
            job_id = _submit(client, keys, media["clip"], **spec)
            on_ray = _outcome(rt, client, keys, job_id)
        _same(local, on_ray)
        assert any(e.get("FramesAnalyzed") for e in events if e["job_id"] == job_id)  # progress events
        assert {"running", "succeeded"} <= {e["status"] for e in events if e["job_id"] == job_id}
        # the frames were analyzed by the actors, not in the API process
        assert rt.batcher.stats.frames == 0
    finally:
        rt.stop()


def _job_streams() -> dict[int, str]:
    """Processes of Ray workers running a job's stream, with their titles (Ray titles them
    ``ray::<task>``, or ``ray::<actor class>.<method>`` while an actor runs a method)."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or [])
        if title.startswith("ray::") and ("job_task" in title or "fw-job:" in title or "job_items" in title):
            found[proc.pid] = title
    return found


def _job_task_pids() -> list[int]:
    return list(_job_streams())


def _task_pids_once_analyzing(client: TestClient, keys: dict[str, str], job_id: str) -> list[int]:
    """The job task's processes, once it has analyzed frames (the job still running)."""
    end = time.monotonic() + 120
    while time.monotonic() < end:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(keys["viewer"])).json()
        assert job["status"] in {"running", "queued"}, job  # still to be disturbed
        pids = _job_task_pids()
        if pids and job["summary"].get("FramesAnalyzed", 0) > 0:
            return pids
        time.sleep(0.02)
    raise AssertionError("no running job task found")


def test_a_job_whose_ray_worker_dies_completes_without_duplicates(
    banked: Path, media: dict[str, Path], connected: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = {"sample_interval_s": 0.0, "dedup": True}
    local = _run_local(banked, media["long"], **spec)
    rt = _runtime(banked / "ray", "ray", connected, mode)
    caplog.set_level(logging.WARNING, logger="framewarden.engines.ray_jobs")
    try:
        keys = _keys(rt)
        with TestClient(create_app(rt)) as client:
            job_id = _submit(client, keys, media["long"], **spec)
            pids = _task_pids_once_analyzing(client, keys, job_id)
            titles = " ".join(_job_streams().values())
            # Where the video is decoded: in an inference actor, or in a task of its own.
            assert ("InferenceActor.job_items" in titles) == (mode == "actors"), titles
            for pid in pids:
                psutil.Process(pid).kill()  # the worker process dies mid-job (SIGKILL)
            on_ray = _outcome(rt, client, keys, job_id)
        assert "its Ray worker was lost" in caplog.text
        _same(local, on_ray)
    finally:
        rt.stop()


def test_bad_media_and_cancel_on_ray(banked: Path, media: dict[str, Path], connected: str, mode: str) -> None:
    broken = banked / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)  # an MP4 header, then garbage
    local = _run_local(banked, broken)
    rt = _runtime(banked / "ray", "ray", connected, mode)
    try:
        keys = _keys(rt)
        with TestClient(create_app(rt)) as client:
            failed = _final(client, keys, _submit(client, keys, broken))
            # the task's typed error crosses the process boundary as itself: the same message
            assert failed["status"] == local["job"]["status"] == "failed"
            assert failed["error"] == local["job"]["error"] and "broken.mp4" in failed["error"]
            job_id = _submit(client, keys, media["long"], sample_interval_s=0.0)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                job = client.get(f"/v1/jobs/{job_id}", headers=auth(keys["viewer"])).json()
                if job["summary"].get("FramesAnalyzed", 0) > 0:
                    break
                time.sleep(0.02)
            assert client.delete(f"/v1/jobs/{job_id}", headers=auth(keys["ingest"])).status_code == 200
            assert _final(client, keys, job_id)["status"] == "cancelled"
            end = time.monotonic() + 30
            while _job_task_pids() and time.monotonic() < end:  # the task is stopped, not left running
                time.sleep(0.05)
            assert not _job_task_pids()
            with rt.db.read() as session:
                kept = len(jobs_repo.job_frames(session, job_id=job_id))
            time.sleep(0.5)
            with rt.db.read() as session:
                assert len(jobs_repo.job_frames(session, job_id=job_id)) == kept  # nothing written after
    finally:
        rt.stop()


def test_a_job_whose_node_is_lost_completes_on_another(
    banked: Path,
    media: dict[str, Path],
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cluster as in production: a head without CPUs and two worker nodes of 1 CPU.  The
    node running the job's task is removed mid-job; the job finishes on the other one, with
    the local engine's rows, none twice."""
    from ray.cluster_utils import Cluster

    spec = {"sample_interval_s": 0.0, "dedup": True}
    local = _run_local(banked, media["long"], **spec)
    head = {**LOOPBACK, "num_cpus": 0, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    workers = [cluster.add_node(**LOOPBACK, num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    rt = _runtime(banked / "ray", "ray", cluster.address, mode)
    caplog.set_level(logging.WARNING, logger="framewarden.engines.ray_jobs")
    try:
        keys = _keys(rt)
        with TestClient(create_app(rt)) as client:
            job_id = _submit(client, keys, media["long"], **spec)
            pids = _task_pids_once_analyzing(client, keys, job_id)
            raylets = {psutil.Process(pid).ppid() for pid in pids}  # a worker's parent is its node's raylet
            doomed = [n for n in workers if n.all_processes["raylet"][0].process.pid in raylets]
            assert len(doomed) == 1
            cluster.remove_node(doomed[0])
            on_ray = _outcome(rt, client, keys, job_id)
        assert "its Ray worker was lost" in caplog.text
        _same(local, on_ray)
    finally:
        rt.stop()
        ray.shutdown()
        cluster.shutdown()
