"""`serve --engine ray` on a real 2-node Ray cluster: channel actors, node loss, capacity.

The API runs in this process (the Ray driver) on the head node, over a private PostgreSQL;
two channels come from a private nginx-rtmp fed by ffmpeg.  The analyzer is the harness's
``test_flag_all`` (a known answer on every frame), imported by every Ray worker through a
setup hook.  Each channel reserves 0.4 CPU, so the 1-CPU nodes hold two channels each under
the 0.9 headroom: one per node at first; after the worker node is removed both run on the head,
and a third is refused.  The streams have 10 fps and a keyframe every second, as admission
assumes; a fourth one with keyframes 4 s apart turns out to cost 0.6 CPU once open (every frame
decoded), which takes its node past its budget: the API says so.  A channel whose actor cannot
start (an analyzer its nodes lack) shows ``error`` with the reason.  The API's channels share
one inference actor per node (``ray_live_shared_inference``), also after a move; a second manager
checks channels that load their own models and ``live_rebalance`` moving one that outgrew its
node to a node that joins.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before `import ray`

ray = pytest.importorskip(
    "ray", reason="the test command installs framewarden[ray]; a bare install has no Ray"
)

from fastapi.testclient import TestClient  # noqa: E402

from framewarden.api.app import create_app  # noqa: E402
from framewarden.api.runtime import Runtime  # noqa: E402
from framewarden.config import Settings  # noqa: E402
from framewarden.events import Event  # noqa: E402
from tests.e2e.harness import ClipSpec, NginxRtmp, Publisher, encode_clip, next_matching, wait_until  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.postgres]

LOOPBACK = {"node_ip_address": "127.0.0.1"}
# Node loss is noticed after health_check_period x threshold (defaults: seconds to tens of seconds).
FAST_FAILURE = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}
CHANNELS = ("cam-a", "cam-b")
LONG_GOP = "cam-d"  # keyframes every 4 s where admission assumes 1 s


def _import_test_analyzers() -> None:
    """Ray workers' setup hook: register the harness's analyzers with known answers."""
    import tests.e2e.harness  # noqa: F401


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(
        initialize_head=True,
        head_node_args={
            **LOOPBACK,
            "num_cpus": 1,
            "include_dashboard": False,
            "_system_config": FAST_FAILURE,
        },
    )
    env = {"PYTHONPATH": os.pathsep.join(sys.path)}  # workers import this checkout and tests/
    # The driver (the API) joins while the head is the only raylet, so it is attached to the
    # head: removing the worker node later takes channels away, never the API.
    ray.init(
        address=c.address,
        log_to_driver=False,
        runtime_env={"env_vars": env, "worker_process_setup_hook": _import_test_analyzers},
    )
    assert ray.get_runtime_context().get_node_id() == c.head_node.node_id
    c.worker = c.add_node(**LOOPBACK, num_cpus=1)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def rtmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NginxRtmp, list[Publisher]]]:
    root = tmp_path_factory.mktemp("rtmp")
    clip = encode_clip(ClipSpec(width=320, height=240, fps=10, gop_s=1.0, duration_s=6), root / "clip.flv")
    long_gop = encode_clip(
        ClipSpec(width=320, height=240, fps=10, gop_s=4.0, duration_s=8), root / "gop4.flv"
    )
    clips = {**{n: clip for n in CHANNELS}, LONG_GOP: long_gop}
    with NginxRtmp(root / "nginx") as server:
        pubs = [Publisher(c, server.rtmp_url(n), log_dir=root / "ffmpeg").start() for n, c in clips.items()]
        for name in clips:
            assert server.wait_publishing(name, 15.0), f"publisher {name} never appeared"
        yield server, pubs
        for pub in pubs:
            pub.close()


class Api:
    def __init__(self, runtime: Runtime, client: TestClient, key: str) -> None:
        self.runtime, self.client, self.key = runtime, client, key
        self.events: queue.Queue[Event] = queue.Queue()
        runtime.bus.subscribe(self.events.put)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.key}"}, **kw)

    def state(self, name: str) -> str:
        return str(self.call("GET", f"/v1/channels/{name}").json()["state"])

    def stats(self, name: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/channels/{name}").json()["stats"]["stats"])

    def node(self, name: str) -> str:
        stats = self.call("GET", f"/v1/channels/{name}").json()["stats"]["stats"]
        return str(stats.get("node", ""))

    def admitted_on(self, name: str) -> str:
        return str(self.call("GET", f"/v1/channels/{name}").json()["stats"]["stats"]["admitted_on"])

    def wait_event(self, match: Callable[[Event], bool], timeout_s: float) -> Event:
        event = next_matching(self.events, match, timeout_s)
        if event is None:
            raise AssertionError(f"no matching event within {timeout_s} s")
        return event


@pytest.fixture(scope="module")
def api(
    cluster: Any, rtmp: Any, postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    name = f"fw_live_{os.getpid()}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=postgres_server.url(name),
        analyzers=["test_flag_all"],
        alert_escalation_s=0,
        alert_group_s=0,  # every flagged frame opens an alert: one fires after the move too
        engine="ray",
        # Admission assumes the test streams' shape (10 fps, a keyframe every second): sampled at
        # 1 frame/s they decode keyframes only, 0.02 + 1 x 300 ms + 1 x 80 ms = 0.40 CPU each.
        live_assumed_fps=10.0,
        live_assumed_gop_s=1.0,
        live_keyframe_decode_ms=300.0,
        live_decode_ms=50.0,  # a 4 s GOP is decoded whole: 0.02 + 10 x 50 ms + 80 ms = 0.60 CPU
        live_infer_ms=80.0,
        live_node_headroom=0.9,
        ray_live_shared_inference=True,  # one set of models per node (the own-models path: below)
        # The operator's controller, referred to by name (docs/security.md).
        controllers={"edge": {"type": "nginx_rtmp", "control_url": rtmp[0].control_url}},
    )
    import tests.e2e.harness  # noqa: F401  (the API process's own moderator)

    runtime = Runtime(settings).start()
    try:
        with TestClient(create_app(runtime)) as client:
            yield Api(runtime, client, runtime.create_key("admin", "admin"))
    finally:
        runtime.stop()
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _flagged(channel: str, version: int | None = None) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        if e.kind != "result" or e.channel != channel:
            return False
        verdict = e.payload["verdict"]
        return bool(verdict["violations"]) and (version is None or verdict["rule_version"] == version)

    return match


RULE = {"id": "all", "channel_pattern": ".*", "sample_interval_s": 1.0, "labels": {"Explicit": 50}}


def _frames(metrics: str, channel: str, stage: str) -> float:
    found = re.search(rf'framewarden_frames_total{{channel="{channel}",stage="{stage}"}} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


def _stream_shape_overfills_its_node(api: Api, server: NginxRtmp) -> None:
    body = {"name": LONG_GOP, "source_url": server.rtmp_url(LONG_GOP)}
    created = api.call("POST", "/v1/channels", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["stats"]["stats"]["cost"]["cpus"] == 0.4  # admitted on the assumption

    def channel() -> dict[str, Any]:
        return dict(api.call("GET", f"/v1/channels/{LONG_GOP}").json())

    assert wait_until(lambda: "over_budget" in channel()["stats"]["stats"], 90, 0.5), channel()
    body = channel()
    stats = body["stats"]["stats"]
    assert stats["stream"]["gop_s"] == pytest.approx(4.0, abs=0.2)  # what the actor measured
    full_decode = {"cpus": 0.6, "keyframes_only": False, "decoded_per_s": 10.0, "analyzed_per_s": 1.0}
    assert stats["cost"] == full_decode
    node = stats["node"]
    over = f"node {node[:12]} over its real-time budget: channels reserve 1.00 of 0.90 CPU"
    assert over in stats["over_budget"]
    assert body["state"] == "live" and "over its real-time budget" in body["reason"]
    neighbour = next(n for n in CHANNELS if api.node(n) == node)  # its node's other channel is told too
    assert over in api.stats(neighbour)["over_budget"]
    metrics = api.call("GET", "/metrics").text
    assert f'framewarden_capacity_cpus{{kind="reserved",node="{node}"}} 1.0' in metrics
    assert f'framewarden_capacity_over_budget_cpus{{node="{node}"}} 0.1' in metrics
    # Removing it gives the room back (and makes room for the node-loss part that follows).
    assert api.call("DELETE", f"/v1/channels/{LONG_GOP}").status_code == 204
    metrics = api.call("GET", "/metrics").text
    assert f'framewarden_capacity_over_budget_cpus{{node="{node}"}} 0.0' in metrics
    assert "over_budget" not in api.stats(neighbour)
    assert f'framewarden_frames_total{{channel="{LONG_GOP}"' not in metrics  # its series went with it


def _inference_crash_is_survived(api: Api, cluster: Any, channel: str) -> None:
    head = cluster.head_node.node_id
    actor = api.runtime.channels.manager.inference[head]  # type: ignore[attr-defined]
    pid = ray.get(actor.pid.remote(), timeout=10)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: _pid_or_none(actor) not in (None, pid), 60, 0.5)  # restarted, in place

    def analyzed() -> float:
        return _frames(api.call("GET", "/metrics").text, channel, "analyzed")

    before = analyzed()
    assert wait_until(lambda: analyzed() > before + 2, 30, 0.5)
    assert api.state(channel) == "live" and api.stats(channel)["shared_inference"]
    while not api.events.empty():  # the alerts from before the crash
        api.events.get_nowait()
    api.wait_event(lambda e: e.kind == "alert" and e.channel == channel, 60)  # it still alerts


def _pid_or_none(actor: Any) -> int | None:
    try:
        return int(ray.get(actor.pid.remote(), timeout=5))
    except Exception:  # restarting
        return None


def test_channels_move_off_a_lost_node_and_capacity_holds(api: Api, cluster: Any, rtmp: Any) -> None:
    server, _ = rtmp
    assert api.call("POST", "/v1/rules", json=RULE).status_code == 201
    for name in CHANNELS:
        body = {
            "name": name,
            "source_url": server.rtmp_url(name),
            "controller": "edge",
        }
        created = api.call("POST", "/v1/channels", json=body)
        assert created.status_code == 201, created.text
    for name in CHANNELS:
        api.wait_event(lambda e, n=name: e.kind == "alert" and e.channel == n, 120)
    assert all(api.state(n) == "live" for n in CHANNELS)
    nodes = {n: api.node(n) for n in CHANNELS}
    worker_id = cluster.worker.node_id
    assert set(nodes.values()) == {worker_id, cluster.head_node.node_id}  # spread: one per node
    assert all(api.admitted_on(n) == node for n, node in nodes.items())  # where admission put them
    assert all(api.stats(n)["shared_inference"] for n in CHANNELS)  # frames go to the node's models
    assert set(api.runtime.channels.manager.inference) == set(nodes.values())  # type: ignore[attr-defined]
    moved = next(n for n, node in nodes.items() if node == worker_id)
    relay = api.runtime.channels.relay  # type: ignore[attr-defined]
    assert ray.get(relay.node.remote()) == cluster.head_node.node_id  # beside the API
    metrics = api.call("GET", "/metrics").text
    assert f'framewarden_capacity_cpus{{kind="reserved",node="{worker_id}"}} 0.4' in metrics
    # Each actor's own series reach the API's /metrics (same names and labels as one process).
    decoded = {n: _frames(metrics, n, "decoded") for n in CHANNELS}
    assert all(v > 0 for v in decoded.values()) and _frames(metrics, "cam-a", "analyzed") > 0
    assert metrics.count("# TYPE framewarden_frames_total counter") == 1
    assert 'framewarden_frame_latency_seconds_count{channel="cam-b"}' in metrics
    assert wait_until(
        lambda: all(_frames(api.call("GET", "/metrics").text, n, "decoded") > decoded[n] for n in CHANNELS),
        20, 0.5,
    )  # fmt: skip

    # A crashed shared inference actor starts again in place (same node) and its channel goes on.
    _inference_crash_is_survived(api, cluster, next(n for n, node in nodes.items() if node != worker_id))

    # The real stream shape: a channel whose keyframes are 4 s apart costs more than assumed.
    _stream_shape_overfills_its_node(api, server)

    # Lose the worker node: the channel shows reconnecting, then live on the head, and alerts again.
    cluster.remove_node(cluster.worker)
    assert wait_until(lambda: api.state(moved) == "reconnecting", 60, 0.2)
    # A scrape meanwhile leaves out the actor that cannot answer instead of failing or hanging.
    other = next(n for n in CHANNELS if n != moved)
    scraped = api.call("GET", "/metrics")
    assert scraped.status_code == 200 and _frames(scraped.text, other, "decoded") > 0
    assert wait_until(lambda: api.state(moved) == "live", 120, 0.5)
    # The event bus (what the WebSocket pushes) saw it too: reconnecting, then live from the new actor.
    api.wait_event(lambda e: e.kind == "channel_state" and e.channel == moved
                   and e.payload["state"] == "reconnecting", 5)  # fmt: skip
    api.wait_event(lambda e: e.kind == "channel_state" and e.channel == moved
                   and e.payload["state"] == "live", 5)  # fmt: skip
    assert api.node(moved) == cluster.head_node.node_id
    assert api.stats(moved)["shared_inference"]  # the restarted actor found the head's inference actor
    api.wait_event(lambda e: e.kind == "alert" and e.channel == moved, 60)

    # The surviving node is full (2 x 0.4 of 0.9): a third channel is refused, not squeezed in.
    refused = api.call("POST", "/v1/channels", json={"name": "cam-c", "source_url": server.rtmp_url("cam-c")})
    assert refused.status_code == 503
    assert "needs 0.40 CPU" in refused.json()["detail"]
    assert api.call("GET", "/v1/channels/cam-c").status_code == 404  # nothing left behind

    # A rule change reaches both actors (the restarted one included): no more violations.
    changed = {**RULE, "labels": {"Violence": 50}}
    put = api.call("PUT", "/v1/rules/all", json=changed)
    assert put.status_code == 200 and sorted(put.json()["affected_channels"]) == list(CHANNELS)
    version = int(put.json()["version"])
    for name in CHANNELS:
        api.wait_event(
            lambda e, n=name: e.kind == "result" and e.channel == n
            and e.payload["verdict"]["rule_version"] == version and not e.payload["verdict"]["violations"],
            60,
        )  # fmt: skip

    # A moderator's stop-stream drops the publisher at nginx and stops the channel.
    stopped = api.call("POST", f"/v1/channels/{moved}/stop-stream")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    assert wait_until(lambda: moved not in server.publishing(), 15)
    assert api.state(other) == "live"

    # Auto-stop, decided inside the actor: a channel rule that stops the stream on a violation.
    auto = {"id": "stop-it", "channel": other, "sample_interval_s": 1.0,
            "labels": {"Explicit": {"alert": 50, "auto_stop": 90}}}  # fmt: skip
    created = api.call("POST", "/v1/rules", json=auto)
    assert created.status_code == 201 and created.json()["affected_channels"] == [other]
    assert wait_until(lambda: api.state(other) == "stopped", 60, 0.5)
    assert "auto-stop by rule stop-it" in api.call("GET", f"/v1/channels/{other}").json()["reason"]
    assert wait_until(lambda: other not in server.publishing(), 15)


def _manager(api: Api, **changes: Any) -> tuple[Any, queue.Queue[Event]]:
    """A second channel manager on the same cluster and store, with other settings."""
    from prometheus_client import CollectorRegistry

    from framewarden.engines.ray_live import RayChannelManager
    from framewarden.events import EventBus
    from framewarden.pipeline.context import WorkerContext
    from framewarden.pipeline.metrics import PipelineMetrics

    # Small reservations: the head has 0.2 CPU left by now (two stopped channels hold 0.8).
    cheap = {"live_infer_ms": 0.0, "live_keyframe_decode_ms": 1.0, "live_decode_ms": 1.0}
    settings = api.runtime.settings.model_copy(update={**cheap, **changes})
    bus = EventBus()
    seen: queue.Queue[Event] = queue.Queue()
    bus.subscribe(seen.put)
    context = WorkerContext(batcher=None, events=bus, metrics=PipelineMetrics(CollectorRegistry()))  # type: ignore[arg-type]
    return RayChannelManager(context, settings=settings), seen


def test_a_channel_that_outgrew_its_node_moves_where_it_fits(api: Api, cluster: Any, rtmp: Any) -> None:
    """``live_rebalance`` with actors that load their own models (``ray_live_shared_inference``
    off): a channel admitted at 0.03 CPU turns out to need 1.02 (keyframes 4 s apart, every frame
    decoded), past the head's budget on its own; when a node with room joins, it moves there."""
    manager, _ = _manager(
        api,
        ray_live_shared_inference=False,
        live_rebalance=True,
        live_keyframe_decode_ms=10.0,  # assumed: 0.02 + 1 keyframe x 10 ms = 0.03 CPU
        live_decode_ms=100.0,  # real: 0.02 + 10 frames x 100 ms = 1.02 CPU
    )
    try:
        manager.add("cam-big", rtmp[0].rtmp_url(LONG_GOP))  # that publisher still runs

        # Its cost is known once the stream is open; `live` once its first frame is analyzed.
        def outgrown() -> bool:
            snap = manager.snapshot("cam-big")
            return snap.state.value == "live" and "over_budget" in snap.stats

        assert wait_until(outgrown, 60, 0.5)
        snap = manager.snapshot("cam-big")
        assert snap.stats["shared_inference"] is False  # its own models
        assert snap.stats["node"] == cluster.head_node.node_id and snap.stats["cost"]["cpus"] == 1.02
        assert "moved_for_room" not in snap.stats  # nowhere to go yet: the head is the only node

        roomy = cluster.add_node(**LOOPBACK, num_cpus=2)
        cluster.wait_for_nodes()

        def moved() -> bool:
            now = manager.snapshot("cam-big")
            return now.state.value == "live" and now.stats.get("node") == roomy.node_id

        assert wait_until(moved, 90, 0.5)
        snap = manager.snapshot("cam-big")
        assert snap.stats["moved_for_room"] == 1 and "over_budget" not in snap.stats
        assert (snap.stats.get("analyzed") or 0) > 0
        assert {c["node"]: c["reserved"] for c in manager.capacity()}[roomy.node_id] == 1.02
    finally:
        manager.close(5.0)


def test_an_actor_that_cannot_start_shows_error_not_reconnecting(api: Api, cluster: Any) -> None:
    """Its constructor raises (here: an analyzer the nodes lack): the channel is ``error`` with
    the reason, published on the bus, instead of ``reconnecting`` forever."""
    manager, seen = _manager(
        api,
        analyzers=["model_missing_on_nodes"],  # registered nowhere: as a node without the model
        ray_live_shared_inference=False,
    )
    try:
        manager.add("cam-x", "rtmp://127.0.0.1:1/live/cam-x")
        assert wait_until(lambda: manager.snapshot("cam-x").state.value == "error", 60, 0.2)
        snap = manager.snapshot("cam-x")
        assert snap.reason.startswith(
            "channel actor failed to start: ConfigError: unknown analyzer 'model_missing_on_nodes'"
        ), snap.reason
        event = seen.get(timeout=5)
        while not (event.kind == "channel_state" and event.payload["state"] == "error"):
            event = seen.get(timeout=5)
        assert event.channel == "cam-x" and event.payload["reason"] == snap.reason
        time_before = snap.since
        assert manager.snapshot("cam-x").state.value == "error"  # it stays so (Ray does not restart it)
        assert manager.snapshot("cam-x").since == time_before
        # Starting it again places a new actor, which fails the same way (nothing was fixed).
        assert manager.start("cam-x").state.value in ("starting", "error")
        assert wait_until(lambda: manager.snapshot("cam-x").state.value == "error", 60, 0.2)
        assert manager.snapshot("cam-x").reason == snap.reason
        assert manager.snapshot("cam-x").since > time_before
        manager.remove("cam-x")
        assert "cam-x" not in manager
    finally:
        manager.close(5.0)


class _Answers:
    """A stand-in channel actor for the scrape: answers its metrics after ``delay_s``."""

    def __init__(self, channel: str, delay_s: float) -> None:
        from prometheus_client import CollectorRegistry

        from framewarden.pipeline.metrics import PipelineMetrics

        self.metrics_ = PipelineMetrics(CollectorRegistry())
        self.metrics_.count(channel, "decoded", 5)
        self.delay_s = delay_s

    def metrics(self) -> list[Any]:
        import time

        from framewarden.engines.ray_metrics import snapshot_families

        time.sleep(self.delay_s)
        return snapshot_families(self.metrics_.registry)


def test_a_scrape_skips_actors_that_do_not_answer_in_time(cluster: Any) -> None:
    import time

    from framewarden.engines.ray_metrics import gather, merge

    cls = ray.remote(num_cpus=0)(_Answers)
    quick, stuck = cls.remote("quick", 0.0), cls.remote("stuck", 30.0)
    ray.get(quick.__ray_ready__.remote()), ray.get(stuck.__ray_ready__.remote())
    started = time.monotonic()
    families = merge(gather(ray, [quick, stuck], timeout_s=0.5))
    waited = time.monotonic() - started
    channels = {s.labels["channel"] for s in families["framewarden_frames"].samples}
    assert channels == {"quick"}  # the stuck one is left out of this scrape...
    assert waited < 10.0  # ...without waiting for it (it takes 30 s)
    for actor in (quick, stuck):
        ray.kill(actor)


def test_a_running_actor_of_a_channel_no_longer_stored_is_stopped(api: Api, cluster: Any, rtmp: Any) -> None:
    """The API's channel actors are detached (they outlive it, and the next API adopts them).
    One whose channel the books no longer hold (deleted from the store while no API process
    led) is stopped when the books are built; the others are left alone."""
    from framewarden.engines.ray_events import NAMESPACE
    from framewarden.engines.ray_live import channel_actor_name

    manager = api.runtime.channels.manager  # type: ignore[attr-defined]
    server, _ = rtmp
    kept = manager.names()
    manager.add("cam-orphan", server.rtmp_url(CHANNELS[0]), start=False)
    actor = ray.get_actor(channel_actor_name("cam-orphan"), namespace=NAMESPACE)
    assert ray.get(actor.placement.remote(), timeout=60)["cpus"] > 0  # running, its CPU reserved
    with manager._lock:  # the books of a new leader, built from a store without it
        manager._channels.pop("cam-orphan")
    manager.ledger.release("cam-orphan")
    assert manager.release_orphans() == ["cam-orphan"]

    def gone() -> bool:
        try:
            ray.get(actor.placement.remote(), timeout=5)
        except Exception:  # RayActorError: killed
            return True
        return False

    assert wait_until(gone, 30, 0.5)
    assert manager.names() == kept and manager.release_orphans() == []
