"""The channel worker: unit tests on a scripted source, then end-to-end through nginx-rtmp.

The scripted source stands in only for the network: frames still go through
the real dedup, the real inference batcher and Moderator (with analyzers of
known answer from tests/e2e/harness.py), the real rules evaluator and the
real controllers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from framewarden.actions.controllers import ControllerError, NginxRtmpConfig, NullController
from framewarden.analyzers.base import AnalyzerConfig
from framewarden.errors import SourceTimeoutError
from framewarden.events import Event, EventBus
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.channels import ChannelManager
from framewarden.pipeline.context import FrameRecord, MemoryResultSink, WorkerContext, preferred_max_side
from framewarden.pipeline.metrics import PipelineMetrics
from framewarden.pipeline.supervisor import Backoff
from framewarden.pipeline.worker import (
    ChannelSpec,
    ChannelState,
    ChannelWorker,
    LatestQueue,
    QueueClosed,
    SessionEnd,
    percentile,
)
from framewarden.rules.models import Rule
from framewarden.rules.verdict import Verdict
from tests.e2e import conftest as e2e
from tests.e2e.harness import FlagAllConfig, NginxRtmp, SlowConfig, wait_until

rtmp_clip, nginx_rtmp, publish = e2e.rtmp_clip, e2e.nginx_rtmp, e2e.publish

CLEAN = SlowConfig(delay_s=0.0)  # an analyzer that finds nothing, at once


def make_rule(rule_id: str = "watch", *, pattern: str = ".*", interval: float = 0.0, **kw: Any) -> Rule:
    return Rule(
        id=rule_id,
        channel_pattern=pattern,
        sample_interval_s=interval,
        labels=kw.pop("labels", {"Explicit": {"alert": 50, "auto_stop": 90}}),
        **kw,
    )


def distinct_images(n: int, seed: int = 0, size: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def cam_spec(rule: Rule, **kw: Any) -> ChannelSpec:
    """Channel "cam"; a queue long enough that a fast scripted source drops nothing unless asked."""
    return ChannelSpec("cam", "rtmp://h/live/cam", rule, **{"queue_size": 16, **kw})


class ScriptedSource:
    """Yields the given images as a stream (``fps`` media rate; paced when ``pace``), then ends or raises."""

    def __init__(
        self,
        images: list[np.ndarray],
        *,
        fps: float = 25.0,
        pace: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.images = images
        self.fps = fps
        self.pace = pace
        self.error = error
        self.stats = SimpleNamespace(decoded=0, sampled=0, keyframes_only=False)
        self.closed = False
        self.hold = threading.Event()  # set() to keep the stream open after the last frame
        self.calls: list[dict[str, Any]] = []

    def frames(self, *, channel: str, sample_interval_s: float = 0.0, max_side: int = 0) -> Iterator[Frame]:
        self.calls.append({"sample_interval_s": sample_interval_s, "max_side": max_side})
        for i, image in enumerate(self.images):
            if self.pace:
                time.sleep(self.pace)
            self.stats.decoded += 1
            self.stats.sampled += 1
            yield Frame(
                channel, i, i * 1000.0 / self.fps, image, captured_at=time.time(), meta={"frame_number": i}
            )
        while self.hold.is_set():  # a live stream with no new data (yet)
            time.sleep(0.02)
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


class Opener:
    """``open_source`` that hands out scripted sources (or raises) in order; then 'no publisher'."""

    def __init__(self, *items: ScriptedSource | Exception) -> None:
        self.items = list(items)
        self.opened = 0

    def __call__(self, source: str, *, timeout_s: float = 10.0) -> ScriptedSource:
        self.opened += 1
        if not self.items:
            time.sleep(0.05)
            raise SourceTimeoutError(source, "no data within 0.1 s (stalled or unreachable)")
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class Recorder:
    """Alert sink and notifier that remember what they were given."""

    def __init__(self) -> None:
        self.alerts: list[Verdict] = []
        self.stopped: list[bool | None] = []
        self.notified: list[Verdict] = []

    def raise_alert(self, verdict: Verdict, record: FrameRecord, stopped: bool | None = None) -> None:
        self.alerts.append(verdict)
        self.stopped.append(stopped)

    def notify(self, verdict: Verdict, record: FrameRecord) -> None:
        self.notified.append(verdict)


@pytest.fixture
def make_context() -> Iterator[Any]:
    batchers: list[InferenceBatcher] = []

    def factory(analyzer: AnalyzerConfig = CLEAN, opener: Any = None, **kw: Any) -> WorkerContext:
        batcher = InferenceBatcher(Moderator([analyzer]), max_batch=4, max_wait_ms=1.0).start()
        batchers.append(batcher)
        ctx = WorkerContext(batcher=batcher, metrics=PipelineMetrics(_registry()), **kw)
        if opener is not None:
            ctx.open_source = opener
        return ctx

    yield factory
    for batcher in batchers:
        batcher.close(5.0)


def _registry() -> Any:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def run(worker: ChannelWorker, stop: threading.Event | None = None) -> Any:
    return worker.run_session(stop or threading.Event())


# --- small parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([float(i) for i in range(1, 101)], 99, 99.0),
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_latest_queue_keeps_the_newest() -> None:
    queue = LatestQueue(2)
    assert [queue.put(i) for i in range(5)] == [False, False, True, True, True]
    assert (queue.get(0), queue.get(0), queue.get(0)) == (3, 4, None)
    queue.close()
    with pytest.raises(QueueClosed):  # closed and empty
        queue.get(0)


@pytest.mark.parametrize(
    ("sides", "expected"), [([], 0), ([None], 0), ([640, 0], 0), ([640, 1280], 1280), ([320], 320)]
)
def test_preferred_max_side(sides: list[int | None], expected: int) -> None:
    analyzers = [SimpleNamespace(preferred_max_side=s) if s is not None else object() for s in sides]
    assert preferred_max_side(analyzers) == expected


@pytest.mark.parametrize(("trusted", "expected"), [(False, 1.0), (True, 5.0)])
def test_trusted_channels_use_the_trusted_interval(trusted: bool, expected: float) -> None:
    spec = ChannelSpec(
        "c", "rtmp://h/live/c", make_rule(interval=1.0, trusted_sample_interval_s=5.0), trusted=trusted
    )
    assert spec.sample_interval_s == expected


# --- sessions on a scripted source --------------------------------------------------------------


def test_session_records_each_frame_with_latency_and_events(make_context: Any) -> None:
    sink, events = MemoryResultSink(), EventBus()
    seen: list[Event] = []
    events.subscribe(seen.append)
    source = ScriptedSource(distinct_images(6))
    ctx = make_context(opener=Opener(source), results=sink, events=events, max_side=320)
    worker = ChannelWorker(cam_spec(make_rule(), queue_size=10), ctx)
    outcome = run(worker)
    assert outcome.end is SessionEnd.SOURCE_LOST and "stream ended" in outcome.reason
    records = sink.for_channel("cam")
    assert [r.seq for r in records] == list(range(6))
    assert all(r.latency_ms >= 0 and not r.flagged for r in records)
    assert [e.payload["seq"] for e in seen if e.kind == "result"] == list(range(6))
    assert source.closed and source.calls == [{"sample_interval_s": 0.0, "max_side": 320}]
    stats = worker.stats.to_dict()
    assert (stats["decoded"], stats["sampled"], stats["analyzed"], stats["alerts"]) == (6, 6, 6, 0)
    assert stats["latency_p99_ms"] is not None
    assert ctx.metrics.value("cam", "analyzed") == 6


@pytest.mark.parametrize(
    ("similarity", "analyzed", "deduped"),
    [({"enabled": True}, 1, 4), ({"enabled": False}, 5, 0), ({"enabled": True, "max_gap_s": 0.03}, 5, 0)],
)
def test_dedup_follows_the_rule(
    make_context: Any, similarity: dict[str, Any], analyzed: int, deduped: int
) -> None:
    same = distinct_images(1)[0]
    ctx = make_context(opener=Opener(ScriptedSource([same] * 5)))
    worker = ChannelWorker(cam_spec(make_rule(similarity=similarity)), ctx)
    run(worker)
    stats = worker.stats.to_dict()
    assert (stats["analyzed"], stats["deduped"]) == (analyzed, deduped)


def test_slow_inference_drops_old_frames_and_keeps_the_newest(make_context: Any) -> None:
    sink = MemoryResultSink()
    source = ScriptedSource(distinct_images(40), pace=0.005)
    ctx = make_context(SlowConfig(delay_s=0.05), opener=Opener(source), results=sink)
    rule = make_rule(similarity={"enabled": False})
    worker = ChannelWorker(cam_spec(rule, queue_size=2), ctx)
    run(worker)
    stats = worker.stats.to_dict()
    assert stats["dropped"] > 10
    assert stats["analyzed"] + stats["dropped"] == stats["sampled"] == 40
    assert sink.for_channel("cam")[-1].seq == 39  # the newest frame is never the one dropped
    assert ctx.metrics.value("cam", "dropped") == stats["dropped"]


@pytest.mark.parametrize(("k", "n", "frames_until_stop"), [(1, 1, 1), (2, 3, 2), (3, 3, 3)])
def test_auto_stop_calls_the_controller_after_k_of_n(
    make_context: Any, k: int, n: int, frames_until_stop: int
) -> None:
    recorder, controller = Recorder(), NullController()
    ctx = make_context(
        FlagAllConfig(), opener=Opener(ScriptedSource(distinct_images(8))), alerts=recorder, notifier=recorder
    )
    rule = make_rule(auto_stop_window={"k": k, "n": n})
    worker = ChannelWorker(cam_spec(rule, controller=controller), ctx)
    outcome = run(worker)
    assert outcome.end is SessionEnd.AUTO_STOPPED
    assert "auto-stop by rule watch: Exposed Female Genitalia 99%" in outcome.reason
    assert controller.stops == ["cam"]
    assert len(recorder.alerts) == len(recorder.notified) == frames_until_stop
    assert recorder.alerts[-1].stops_stream and not any(v.stops_stream for v in recorder.alerts[:-1])


class _Refusing:
    kind = "http"

    def stop(self, channel: str) -> None:
        raise ControllerError(channel, "server said 500")


class _Working:
    kind = "http"

    def stop(self, channel: str) -> None:
        """The streaming server accepted."""


@pytest.mark.parametrize(
    ("controller", "stopped"),
    [(_Working(), True), (_Refusing(), False), (NullController(), False)],
    ids=["stopped", "refused", "null-cannot-stop"],
)
def test_alert_is_told_whether_the_stream_really_stopped(
    make_context: Any, controller: Any, stopped: bool
) -> None:
    """Stop first, then record the alert, so the alert tells the truth (the AWS sample did not)."""
    recorder = Recorder()
    ctx = make_context(FlagAllConfig(), opener=Opener(ScriptedSource(distinct_images(2))), alerts=recorder)
    worker = ChannelWorker(cam_spec(make_rule(auto_stop_window={"k": 1, "n": 1}), controller=controller), ctx)
    outcome = run(worker)
    assert outcome.end is SessionEnd.AUTO_STOPPED
    assert recorder.stopped == [stopped]
    assert ("stream controller failed" in outcome.reason) is isinstance(controller, _Refusing)


def test_alert_only_rule_never_stops(make_context: Any) -> None:
    recorder, controller = Recorder(), NullController()
    ctx = make_context(FlagAllConfig(), opener=Opener(ScriptedSource(distinct_images(4))), alerts=recorder)
    rule = make_rule(labels={"Explicit": 50})
    worker = ChannelWorker(cam_spec(rule, controller=controller), ctx)
    assert run(worker).end is SessionEnd.SOURCE_LOST
    assert len(recorder.alerts) == 4 and controller.stops == []


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ((SourceTimeoutError("rtmp://h/live/cam", "no data within 1 s"),), "no data within 1 s"),
        (
            (ScriptedSource(distinct_images(2), error=SourceTimeoutError("rtmp://h/live/cam", "stalled")),),
            "stalled",
        ),
        ((ScriptedSource(distinct_images(2), error=ValueError("bad packet")),), "ValueError: bad packet"),
    ],
)
def test_source_failures_end_the_session_with_the_reason(
    make_context: Any, items: tuple[Any], reason: str
) -> None:
    worker = ChannelWorker(cam_spec(make_rule()), make_context(opener=Opener(*items)))
    outcome = run(worker)
    assert outcome.end is SessionEnd.SOURCE_LOST
    assert reason in outcome.reason


def test_a_broken_sink_does_not_stop_the_channel(make_context: Any) -> None:
    class Broken:
        def record(self, record: FrameRecord) -> None:
            raise RuntimeError("database gone")

    ctx = make_context(opener=Opener(ScriptedSource(distinct_images(3))), results=Broken())
    worker = ChannelWorker(cam_spec(make_rule()), ctx)
    assert run(worker).end is SessionEnd.SOURCE_LOST
    assert worker.stats.to_dict()["analyzed"] == 3


def test_stop_drains_waiting_frames(make_context: Any) -> None:
    source = ScriptedSource(distinct_images(3))
    source.hold.set()
    sink = MemoryResultSink()
    ctx = make_context(SlowConfig(delay_s=0.2), opener=Opener(source), results=sink)
    worker = ChannelWorker(cam_spec(make_rule(similarity={"enabled": False})), ctx)
    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run(worker, stop)))
    thread.start()
    assert wait_until(lambda: worker.stats.to_dict()["analyzed"] >= 1, 5.0)
    stop.set()
    thread.join(10.0)
    source.hold.clear()
    assert result[0].end is SessionEnd.STOP_REQUESTED
    assert [r.seq for r in sink.for_channel("cam")] == [0, 1, 2]  # the queued frames were still judged


def test_stop_judges_only_the_frames_waiting_when_it_came(make_context: Any) -> None:
    """Inference slower than the stream (a busy machine): the drain must not chase new frames forever."""
    source = ScriptedSource(distinct_images(400), pace=0.02)  # 50 frames/s for 8 s
    ctx = make_context(SlowConfig(delay_s=0.15), opener=Opener(source))
    worker = ChannelWorker(cam_spec(make_rule(similarity={"enabled": False}), queue_size=2), ctx)
    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run(worker, stop)))
    thread.start()
    assert wait_until(lambda: worker.stats.to_dict()["analyzed"] >= 2, 5.0)
    analyzed_at_stop = worker.stats.to_dict()["analyzed"]
    stop.set()
    thread.join(3.0)  # the frame in inference + at most queue_size waiting: about 0.5 s
    assert not thread.is_alive(), "stop kept judging the frames that arrived after it"
    assert result[0].end is SessionEnd.STOP_REQUESTED
    assert worker.stats.to_dict()["analyzed"] <= analyzed_at_stop + 3


def test_rule_update_clears_state_and_reopens_on_new_interval(make_context: Any) -> None:
    ctx = make_context(FlagAllConfig(), opener=Opener(ScriptedSource(distinct_images(2))))
    rule = make_rule(auto_stop_window={"k": 3, "n": 3})
    worker = ChannelWorker(cam_spec(rule), ctx)
    run(worker)
    assert worker.rule_state.hits == (True, True)
    worker.update_rule(rule, version=2)  # same interval: no reopen, fresh window
    assert worker.target_rule == (rule, 2)
    assert not worker._apply_pending_rule()
    assert worker.rule_state.hits == () and worker.spec.rule_version == 2
    worker.update_rule(make_rule(interval=2.0), version=3)
    assert worker._apply_pending_rule()  # the source must be reopened with the new sampling


# --- end to end through nginx-rtmp ----------------------------------------------------------------


def _manager(ctx: WorkerContext, rules: list[Rule]) -> ChannelManager:
    return ChannelManager(ctx, rules=rules, backoff=Backoff(initial_s=0.2, cap_s=1.0))


def _state(manager: ChannelManager, name: str) -> ChannelState:
    return manager.snapshot(name).state


@pytest.mark.e2e
@pytest.mark.slow
def test_live_channel_produces_results_and_no_alerts(
    nginx_rtmp: NginxRtmp, publish: Any, make_context: Any
) -> None:
    publish("clean")
    sink, recorder = MemoryResultSink(), Recorder()
    ctx = make_context(results=sink, alerts=recorder, open_timeout_s=15.0)
    with _manager(ctx, [make_rule(interval=0.5)]) as manager:
        manager.add("clean", nginx_rtmp.rtmp_url("clean"))
        assert wait_until(lambda: len(sink.for_channel("clean")) >= 3, 30.0), manager.snapshot("clean")
        snap = manager.snapshot("clean")
    assert snap.state is ChannelState.LIVE
    assert snap.stats["sampled"] >= 3 and snap.stats["latency_p50_ms"] is not None
    records = sink.for_channel("clean")
    assert all(r.latency_ms < 5000 for r in records)
    assert [r.pts_ms for r in records] == sorted(r.pts_ms for r in records)
    assert recorder.alerts == []


@pytest.mark.e2e
@pytest.mark.slow
def test_publisher_lost_then_back_goes_reconnecting_then_live(
    nginx_rtmp: NginxRtmp, publish: Any, make_context: Any
) -> None:
    publisher = publish("cam")
    states: list[str] = []
    events = EventBus()
    events.subscribe(lambda e: states.append(e.payload["state"]), kinds={"channel_state"})
    ctx = make_context(events=events, open_timeout_s=10.0)
    with _manager(ctx, [make_rule(interval=1.0)]) as manager:
        manager.add("cam", nginx_rtmp.rtmp_url("cam"))
        assert wait_until(lambda: _state(manager, "cam") is ChannelState.LIVE, 30.0), manager.snapshot("cam")
        publisher.kill()
        assert wait_until(lambda: _state(manager, "cam") is ChannelState.RECONNECTING, 25.0)
        assert manager.snapshot("cam").reason
        publisher.start()
        assert wait_until(lambda: _state(manager, "cam") is ChannelState.LIVE, 40.0), manager.snapshot("cam")
        assert manager.snapshot("cam").reconnects >= 1
    assert states[:2] == ["starting", "live"] and "reconnecting" in states
    assert states[states.index("reconnecting") :].count("live") >= 1 and states[-1] == "stopped"


@pytest.mark.e2e
@pytest.mark.slow
def test_auto_stop_drops_the_publisher_at_nginx(
    nginx_rtmp: NginxRtmp, publish: Any, make_context: Any
) -> None:
    bad, good = publish("bad"), publish("good")
    recorder = Recorder()
    ctx = make_context(FlagAllConfig(), alerts=recorder, open_timeout_s=15.0)
    rules = [make_rule("stop-bad", pattern="^bad$", interval=1.0)]
    with _manager(ctx, rules) as manager:
        manager.add(
            "bad", nginx_rtmp.rtmp_url("bad"), controller=NginxRtmpConfig(control_url=nginx_rtmp.control_url)
        )
        assert wait_until(lambda: _state(manager, "bad") is ChannelState.STOPPED, 40.0), manager.snapshot(
            "bad"
        )
        snap = manager.snapshot("bad")
    assert snap.reason.startswith("auto-stop by rule stop-bad: Exposed Female Genitalia")
    assert "controller failed" not in snap.reason
    assert bad.wait_exit(10.0) is not None  # nginx dropped it, ffmpeg gave up
    assert "bad" not in nginx_rtmp.publishing() and good.running
    assert recorder.alerts and recorder.alerts[-1].stops_stream


def _busy(stats: dict[str, Any]) -> bool:
    return bool(stats["dropped"] >= 20 and stats["analyzed"] >= 3)


@pytest.mark.e2e
@pytest.mark.slow
def test_slow_inference_on_a_live_stream_counts_drops(
    nginx_rtmp: NginxRtmp, publish: Any, make_context: Any
) -> None:
    publish("busy")
    ctx = make_context(SlowConfig(delay_s=0.25), open_timeout_s=15.0)
    rule = make_rule(interval=0.0, similarity={"enabled": False})  # every frame of a 25 fps stream
    with _manager(ctx, [rule]) as manager:
        manager.add("busy", nginx_rtmp.rtmp_url("busy"))
        assert wait_until(lambda: _busy(manager.snapshot("busy").stats), 40.0), manager.snapshot("busy")
        stats = manager.snapshot("busy").stats
    assert stats["analyzed"] >= 1
    assert stats["analyzed"] + stats["dropped"] <= stats["sampled"]
