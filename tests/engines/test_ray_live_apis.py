"""Two `serve --engine ray` processes on one Ray cluster, as behind a load balancer (docs/scale.md).

Both are the real CLI command (:class:`~tests.e2e.serve_process.ServeProcess`), sharing a
private PostgreSQL and a cluster of a CPU-less head (where both run) and two 1-CPU nodes; two
channels come from a private nginx-rtmp.
The first process leads: it runs the channels' actors, jobs and uploads.  The second follows:
everything asked of it reaches the leader through the relay, and its WebSocket carries the
whole feed.  Then the leader is killed (SIGKILL) and the follower adopts the running
channels' actors, which went on moderating (detached); the killed one, started again,
follows, and takes over in turn when the other is stopped.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before `import ray`

pytest.importorskip("ray", reason="the test command installs framewarden[ray]; a bare install has no Ray")

from tests.e2e.harness import ClipSpec, NginxRtmp, Publisher, encode_clip, next_matching, wait_until
from tests.e2e.serve_process import RAY_LAUNCH, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.postgres]

CHANNELS = ("cam-1", "cam-2")
RULE = {"id": "all", "channel_pattern": ".*", "sample_interval_s": 1.0, "labels": {"Explicit": 50}}


class Feed:
    """A WebSocket client of one API process, collecting its events in a thread."""

    def __init__(self, api: ServeProcess) -> None:
        self._url = api.url.replace("http://", "ws://") + f"/v1/events?key={api.keys['admin']}"
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ws: Any = None
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._open.wait(30), "the WebSocket did not open"

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self._url, open_timeout=30) as ws:
            self._ws = ws
            self._open.set()
            try:
                for message in ws:
                    self.events.put(json.loads(message))
            except ConnectionClosed:
                return

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        event = next_matching(self.events, match, timeout_s)
        if event is None:
            raise AssertionError(f"no matching event within {timeout_s} s")
        return event

    def close(self) -> None:
        self._ws.close()


def _state(api: ServeProcess, name: str) -> str:
    answer = api.api("GET", f"/v1/channels/{name}")
    return str(answer.json().get("state", "")) if answer.status_code == 200 else ""


def _analyzed(api: ServeProcess, name: str) -> int:
    return int(api.api("GET", f"/v1/channels/{name}").json()["stats"]["stats"].get("analyzed") or 0)


def _node(api: ServeProcess, name: str) -> str:
    return str(api.api("GET", f"/v1/channels/{name}").json()["stats"]["stats"].get("node", ""))


def _alert(channel: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == "alert" and e["channel"] == channel


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(
        initialize_head=True,
        head_node_args={
            "node_ip_address": "127.0.0.1",
            "num_cpus": 0,  # the API processes' node, as production runs the head
            "include_dashboard": False,
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
        },
    )
    c.workers = [c.add_node(node_ip_address="127.0.0.1", num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def rtmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NginxRtmp, Path]]:
    root = tmp_path_factory.mktemp("rtmp")
    clip = encode_clip(ClipSpec(width=320, height=240, fps=10, gop_s=1.0, duration_s=6), root / "clip.flv")
    with NginxRtmp(root / "nginx") as server:
        pubs = [Publisher(clip, server.rtmp_url(n), log_dir=root / "ffmpeg").start() for n in CHANNELS]
        for name in CHANNELS:
            assert server.wait_publishing(name, 15.0), f"publisher {name} never appeared"
        yield server, clip
        for pub in pubs:
            pub.close()


def _toml(database_url: str, address: str, control_url: str) -> str:
    return f"""
database_url = "{database_url}"
engine = "ray"
ray_address = "{address}"
analyzers = ["test_flag_all"]
alert_escalation_s = 0
alert_group_s = 0
allow_file_sources = true
upload_transcribe = false
live_assumed_fps = 10.0
live_assumed_gop_s = 1.0
live_keyframe_decode_ms = 100.0
live_infer_ms = 40.0

[controllers.edge]
type = "nginx_rtmp"
control_url = "{control_url}"
"""


def test_a_follower_api_passes_work_to_the_leader_and_takes_over_when_it_is_gone(
    cluster: Any, rtmp: Any, postgres_server: Any, tmp_path: Path
) -> None:
    server, clip = rtmp
    name = f"fw_apis_{os.getpid()}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    toml = _toml(postgres_server.url(name), cluster.address, server.control_url)
    env = {"FW_TEST_RAY_ADDRESS": cluster.address}
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # One data folder, as one mount on every machine (uploads are read where they were stored).
    leader = ServeProcess(tmp_path / "a", toml, env=env, launch=RAY_LAUNCH, data=tmp_path / "data")
    follower = ServeProcess(tmp_path / "b", toml, env=env, launch=RAY_LAUNCH, data=tmp_path / "data")
    feeds: list[Feed] = []
    try:
        leader.create_key("admin")
        leader.start(120)
        follower.keys = dict(leader.keys)  # one database: the same keys
        follower.start(120)
        assert "this one passes them on" in follower.tail()
        assert [api.api("GET", "/healthz").json()["role"] for api in (leader, follower)] == [
            "leader",
            "follower",
        ]
        feed = Feed(follower)
        feeds.append(feed)
        feed.wait(lambda e: e["kind"] == "hello", 10)

        # A rule and two channels made through the follower run in the leader's books.
        assert follower.api("POST", "/v1/rules", json=RULE).status_code == 201
        for channel in CHANNELS:
            body = {"name": channel, "source_url": server.rtmp_url(channel), "controller": "edge"}
            created = follower.api("POST", "/v1/channels", json=body)
            assert created.status_code == 201, created.text
        # The channel actors' alerts reach the follower's WebSocket through the relay.
        first = {c: feed.wait(_alert(c), 120) for c in CHANNELS}
        assert all(_state(api, c) == "live" for api in (leader, follower) for c in CHANNELS)
        listed = follower.api("GET", "/v1/channels").json()
        assert sorted(c["name"] for c in listed) == list(CHANNELS)

        # A rule change through the follower reaches the leader's channel actors.
        changed = follower.api("PUT", "/v1/rules/all", json={**RULE, "labels": {"Explicit": 60}})
        assert changed.status_code == 200 and sorted(changed.json()["affected_channels"]) == list(CHANNELS)
        version = int(changed.json()["version"])
        for channel in CHANNELS:
            feed.wait(
                lambda e, c=channel: e["kind"] == "result" and e["channel"] == c
                and e["payload"]["verdict"]["rule_version"] == version,
                60,
            )  # fmt: skip

        # An event made in the leader's process (a moderator dismissing an alert there) too.
        alert_id = first["cam-1"]["payload"]["id"]
        assert leader.api("POST", f"/v1/alerts/{alert_id}/dismiss", json={}).status_code == 200
        feed.wait(lambda e: e["kind"] == "alert_updated" and e["payload"]["id"] == alert_id, 10)

        # The follower's /metrics has the channel actors' series (gathered by the leader).
        metrics = follower.api("GET", "/metrics").text
        assert 'framewarden_frames_total{channel="cam-2",stage="analyzed"}' in metrics
        assert 'framewarden_capacity_cpus{kind="total"' in metrics

        # A job stored through the follower runs in the leader (the follower runs none).
        job = follower.api("POST", "/v1/jobs", json={"source": str(clip), "sample_interval_s": 1})
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]
        assert wait_until(
            lambda: follower.api("GET", f"/v1/jobs/{job_id}").json()["status"] == "succeeded", 120, 0.5
        ), follower.api("GET", f"/v1/jobs/{job_id}").text

        # So does an upload: stored by the follower (same machine here: the leader reads the file
        # where the follower put it), analyzed and decided by the leader.
        upload = follower.api(
            "POST", "/v1/videos", content=clip.read_bytes(), headers={"Content-Type": "video/x-flv"}
        )
        assert upload.status_code == 202, upload.text
        video_id = upload.json()["id"]
        assert wait_until(
            lambda: follower.api("GET", f"/v1/videos/{video_id}").json()["status"] == "rejected", 120, 0.5
        ), follower.api("GET", f"/v1/videos/{video_id}").text  # every frame flagged: a violation

        # A moderator's stop-stream through the follower drops the publisher at nginx.
        stopped = follower.api("POST", "/v1/channels/cam-1/stop-stream")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["state"] == "stopped"
        assert wait_until(lambda: "cam-1" not in server.publishing(), 15)

        # The leader dies: the follower claims the relay and adopts the channel actors, which
        # went on moderating (detached): no gap, the same actor's counters go on.
        before = _analyzed(follower, "cam-2")
        leader.kill()
        killed_at = time.monotonic()
        assert wait_until(lambda: follower.api("GET", "/healthz").json()["role"] == "leader", 60, 0.2)
        took_over_s = time.monotonic() - killed_at
        assert "this one takes over" in follower.tail()
        assert wait_until(lambda: "cam-2: adopted its running actor" in follower.tail(20_000), 30, 0.2)
        assert _state(follower, "cam-2") == "live"
        # The same actor: its count goes on from where it was (a new one would count from 0).
        assert _analyzed(follower, "cam-2") >= before
        assert wait_until(lambda: _analyzed(follower, "cam-2") > before, 30, 0.5)
        feed.wait(_alert("cam-2"), 60)  # its events reach the new leader's relay
        assert _state(follower, "cam-1") == "stopped"  # stopped stays stopped
        print(f"took over in {took_over_s:.1f} s")

        # A node lost after the takeover: the adopted actor restarts on the other node (nothing
        # it needs to start again belonged to the API process that is gone).
        lost = _node(follower, "cam-2")
        cluster.remove_node(next(n for n in cluster.workers if n.node_id == lost))
        assert wait_until(
            lambda: _state(follower, "cam-2") == "live" and _node(follower, "cam-2") not in ("", lost),
            120,
            0.5,
        ), follower.api("GET", "/v1/channels/cam-2").text
        feed.wait(_alert("cam-2"), 60)

        # The old leader, started again, follows the new one.
        leader.start(120)
        assert "this one passes them on" in leader.tail()
        assert _state(leader, "cam-2") == "live"

        # A leader stopped (SIGTERM, as a deploy does) hands over at once, and the actors go on.
        before = _analyzed(leader, "cam-2")
        assert follower.stop(60) == 0
        assert wait_until(lambda: leader.api("GET", "/healthz").json()["role"] == "leader", 30, 0.2)
        assert _analyzed(leader, "cam-2") >= before and _state(leader, "cam-2") == "live"
        assert wait_until(lambda: _analyzed(leader, "cam-2") > before, 30, 0.5)

        # A deploy that changes the settings: the next leader does not adopt actors running with
        # the old ones, it starts new ones (their counts begin again).
        follower.config.write_text(toml.replace("alert_group_s = 0", "alert_group_s = 1"))
        follower.start(120)
        before = _analyzed(leader, "cam-2")
        assert leader.stop(60) == 0
        assert wait_until(lambda: follower.api("GET", "/healthz").json()["role"] == "leader", 30, 0.2)
        changed = "cam-2: its running actor has other settings; starting a new one"
        assert wait_until(lambda: changed in follower.tail(40_000), 30, 0.2)
        assert wait_until(lambda: _state(follower, "cam-2") == "live", 120, 0.5)
        assert _analyzed(follower, "cam-2") < before
    finally:
        for f in feeds:
            f.close()
        for api in (follower, leader):
            api.stop(60)
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
