"""The Ray engine on a real multi-node Ray cluster (``ray.cluster_utils.Cluster``: real raylets).

Every test compares with the local engine on the same inputs: the per-video JSON must be
identical apart from the wall-clock figures, whatever the cluster does meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Loopback only: Ray resolves 127.0.0.1 to the machine's outward address unless its
# "local-only" mode is on (a constant read at import, hence before ``import ray``).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ray = pytest.importorskip(
    "ray", reason="the test command installs framewarden[ray]; a bare install has no Ray"
)

from framewarden.config import get_settings  # noqa: E402
from framewarden.engines.ray_scan import RayOptions, RayScanner  # noqa: E402
from framewarden.jobs.scan import NullListener, Scanner, ScanOptions  # noqa: E402
from framewarden.jobs.state import ScanState  # noqa: E402
from framewarden.moderator import Moderator  # noqa: E402

pytestmark = pytest.mark.slow

ANALYZERS = ["nudenet"]
LOOPBACK = {"node_ip_address": "127.0.0.1"}
_TIMINGS = ("WallSeconds", "DecodedFramesPerSecond", "AnalyzedFramesPerSecond")


def _clip(path: Path, seconds: int, pattern: str) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"{pattern}=size=320x240:rate=10:d={seconds}",
            "-c:v",
            "libx264",
            "-g",
            "10",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("clips")
    patterns = ["testsrc2", "testsrc", "smptebars", "yuvtestsrc"]
    clips = [str(_clip(root / f"{p}.mp4", 6, p)) for p in patterns]
    return [*clips, str(root / "missing.mp4")]  # a failure is a result too


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    # Loopback only: the raylets, GCS and object stores talk over 127.0.0.1.
    c = Cluster(initialize_head=True, head_node_args={**LOOPBACK, "num_cpus": 1, "include_dashboard": False})
    c.add_node(**LOOPBACK, num_cpus=1)
    c.wait_for_nodes()
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)  # workers import this checkout
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def _options(**kw: Any) -> ScanOptions:
    return ScanOptions(sample_interval_s=0.0, dedup=False, max_side=320, workers=2, **kw)


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    for key in _TIMINGS:
        body.get("Summary", {}).pop(key, None)
    return body


@pytest.fixture(scope="module")
def local_results(clips: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    moderator = Moderator(ANALYZERS, settings=get_settings())
    state = ScanState(tmp_path_factory.mktemp("local"))
    outcomes = Scanner(
        moderator,
        _options(),
        state,
        model_versions=moderator.model_versions,
        min_confidence=moderator.min_confidence,
    ).run(clips)
    return {o.source: _strip(o.body) for o in outcomes}


def _ray_scanner(
    out: Path, listener: Any = None, mode: str = "nodes", room_timeout_s: float = 60.0, **kw: Any
) -> RayScanner:
    settings = get_settings()
    moderator = Moderator(ANALYZERS, settings=settings)
    return RayScanner(
        ANALYZERS,
        _options(**kw),
        ScanState(out),
        settings,
        ray_options=RayOptions(task_retries=3, mode=mode, room_timeout_s=room_timeout_s),
        listener=listener or NullListener(),
        model_versions=moderator.model_versions,
        min_confidence=moderator.min_confidence,
    )


@pytest.mark.parametrize("mode", ["nodes", "tasks"])
def test_same_results_as_the_local_engine(
    cluster: Any, clips: list[str], local_results: dict, tmp_path: Path, mode: str
) -> None:
    scanner = _ray_scanner(tmp_path, mode=mode)
    outcomes = scanner.run(clips)
    assert [o.source for o in outcomes] == clips
    for o in outcomes:
        assert _strip(o.body) == local_results[o.source]
        assert _strip(json.loads(o.result_file.read_text())) == local_results[o.source]
    assert sum(o.succeeded for o in outcomes) == 4  # the missing file FAILED, named
    assert "missing.mp4" in outcomes[-1].body["StatusMessage"]
    assert len(list(tmp_path.glob("*.json"))) == 5
    if mode == "nodes":  # one scan actor a node; the models ran there (no frame left the node)
        assert len(scanner.actor_stats) == 2
        assert sum(s["frames"] for s in scanner.actor_stats) == sum(
            o.body["Summary"]["FramesAnalyzed"] for o in outcomes
        )


class _RemoveNodeOnFirstProgress(NullListener):
    def __init__(self, cluster: Any, node: Any) -> None:
        self.cluster, self.node, self.removed = cluster, node, False

    def on_progress(self, source: str, counters: Any, pts_ms: float) -> None:
        if not self.removed:
            self.removed = True
            self.cluster.remove_node(self.node)


@pytest.mark.parametrize("mode", ["nodes", "tasks"])
def test_a_lost_node_loses_and_duplicates_nothing(
    cluster: Any,
    clips: list[str],
    local_results: dict,
    tmp_path: Path,
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = cluster.add_node(**LOOPBACK, num_cpus=1)
    cluster.wait_for_nodes()
    listener = _RemoveNodeOnFirstProgress(cluster, worker)
    with caplog.at_level("WARNING", logger="framewarden.engines"):
        outcomes = _ray_scanner(tmp_path, listener, mode=mode).run(clips)
    assert listener.removed
    assert any("was lost" in r.getMessage() for r in caplog.records)  # a video was sent again
    assert {o.source: _strip(o.body) for o in outcomes} == local_results
    assert len(list(tmp_path.glob("*.json"))) == len(clips)


class _AddNodeOnFirstProgress(NullListener):
    def __init__(self, cluster: Any) -> None:
        self.cluster, self.node = cluster, None

    def on_progress(self, source: str, counters: Any, pts_ms: float) -> None:
        if self.node is None:
            self.node = self.cluster.add_node(**LOOPBACK, num_cpus=1)


def test_a_node_that_joins_mid_scan_gets_a_scan_actor(
    cluster: Any,
    clips: list[str],
    local_results: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from framewarden.engines import ray_scan_nodes

    monkeypatch.setattr(ray_scan_nodes, "NODE_LOOK_S", 0.2)
    listener = _AddNodeOnFirstProgress(cluster)
    try:
        scanner = _ray_scanner(tmp_path, listener)
        outcomes = scanner.run(clips)
        assert listener.node is not None
        assert len(scanner.actor_stats) == 3  # the two nodes' actors and the new node's
        assert {o.source: _strip(o.body) for o in outcomes} == local_results
    finally:
        if listener.node is not None:
            cluster.remove_node(listener.node)


def test_a_node_without_room_is_left_to_the_others(
    cluster: Any,
    clips: list[str],
    local_results: dict,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = cluster.add_node(**LOOPBACK, num_cpus=1)
    cluster.wait_for_nodes()
    port = node.node_manager_port
    node_id = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerPort"] == port)

    @ray.remote(num_cpus=1)
    class Holder:  # other work that holds the node's only CPU
        def ping(self) -> int:
            return 1

    holder = Holder.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote()
    try:
        ray.get(holder.ping.remote(), timeout=60)
        with caplog.at_level("WARNING", logger="framewarden.engines"):
            scanner = _ray_scanner(tmp_path, room_timeout_s=2.0)
            outcomes = scanner.run(clips)
        assert any("could not be placed" in r.getMessage() for r in caplog.records)
        assert len(scanner.actor_stats) == 2  # the two nodes with room
        assert {o.source: _strip(o.body) for o in outcomes} == local_results
    finally:
        ray.kill(holder)
        cluster.remove_node(node)


def test_killed_driver_then_resume(
    cluster: Any, clips: list[str], local_results: dict, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [
        sys.executable,
        "-m",
        "framewarden.cli",
        "scan",
        *clips,
        "--engine",
        "ray",
        "--address",
        cluster.address,
        "--analyzers",
        ",".join(ANALYZERS),
        "--sample-interval",
        "0",
        "--no-dedup",
        "--max-side",
        "320",
        "--out",
        str(out),
        "-q",
    ]
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None and not list(out.glob("*.json")):
        time.sleep(0.05)
    assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    first = {p.name for p in out.glob("*.json")}
    assert 1 <= len(first) < len(clips)
    outcomes = _ray_scanner(out, resume=True).run(clips)
    assert sum(o.resumed for o in outcomes) >= len(first) - 1  # a FAILED one is retried
    assert {o.source: _strip(o.body) for o in outcomes} == local_results
    assert len(list(out.glob("*.json"))) == len(clips)
