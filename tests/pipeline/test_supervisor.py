"""The supervisor's state machine and backoff, and the ChannelManager's surface.

Sources are scripted (tests/pipeline/test_worker.py) so reconnects, crashes
and rule changes happen on cue; inference, rules and events are the real ones.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from framewarden.config import Settings
from framewarden.errors import ConfigError, SourceTimeoutError
from framewarden.events import EventBus
from framewarden.pipeline.channels import (
    ChannelManager,
    DuplicateChannelError,
    UnknownChannelError,
    check_channel_name,
    check_source,
)
from framewarden.pipeline.supervisor import Backoff, ChannelSupervisor
from framewarden.pipeline.worker import ChannelState, ChannelWorker
from framewarden.rules.defaults import DEFAULT_RULE_ID
from tests.e2e.harness import FlagAllConfig, wait_until
from tests.pipeline.test_worker import (
    Opener,
    ScriptedSource,
    cam_spec,
    distinct_images,
    make_context,
    make_rule,
)

__all__ = ["make_context"]  # the fixture, shared with test_worker

FAST = Backoff(initial_s=0.01, cap_s=0.05)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.375, 0.5), (1, 0.75, 1.0), (3, 3.0, 4.0), (5, 7.5, 10.0), (50, 7.5, 10.0)],
)
def test_backoff_grows_to_the_cap_with_jitter(attempt: int, low: float, high: float) -> None:
    backoff = Backoff(initial_s=0.5, cap_s=10.0, factor=2.0, jitter=0.25)
    delays = [backoff.delay(attempt, random.Random(seed)) for seed in range(50)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1  # jittered: channels do not reconnect in lockstep


def _states(events: EventBus, channel: str = "cam") -> list[str]:
    seen: list[str] = []
    events.subscribe(
        lambda e: seen.append(e.payload["state"]) if e.channel == channel else None, {"channel_state"}
    )
    return seen


def _squeeze(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def test_reconnects_after_a_lost_source_and_goes_live_again(make_context: Any) -> None:
    events = EventBus()
    states = _states(events)
    first = ScriptedSource(distinct_images(2), error=SourceTimeoutError("rtmp://h/live/cam", "stalled"))
    opener = Opener(
        first, SourceTimeoutError("rtmp://h/live/cam", "no publisher"), ScriptedSource(distinct_images(2))
    )
    second = opener.items[-1]
    assert isinstance(second, ScriptedSource)
    second.hold.set()
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=opener, events=events)), backoff=FAST
    )
    supervisor.start()
    try:
        assert wait_until(lambda: opener.opened >= 3 and supervisor.state is ChannelState.LIVE, 5.0)
        assert supervisor.reconnects == 2
    finally:
        supervisor.stop(5.0)
        second.hold.clear()
    # A new reason while reconnecting is published too; the states themselves go:
    assert _squeeze(states) == ["starting", "live", "reconnecting", "live", "stopped"]
    snap = supervisor.snapshot()
    assert snap.state is ChannelState.STOPPED and snap.reason == "stopped by request"
    assert snap.stats["sessions"] == 2 and snap.stats["analyzed"] == 4


def test_reconnecting_shows_the_reason(make_context: Any) -> None:
    opener = Opener()  # never a publisher
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=opener)), backoff=FAST
    )
    supervisor.start()
    try:
        assert wait_until(lambda: opener.opened >= 3, 5.0)
        snap = supervisor.snapshot()
        assert snap.state in (ChannelState.RECONNECTING, ChannelState.STARTING)
        assert "no data within" in supervisor.reason or snap.state is ChannelState.STARTING
    finally:
        supervisor.stop(5.0)


def test_a_crashed_worker_is_restarted(make_context: Any) -> None:
    events = EventBus()
    states = _states(events)
    source = ScriptedSource(distinct_images(1))
    source.hold.set()
    opener = Opener(RuntimeError("bug in a decoder binding"), source)
    supervisor = ChannelSupervisor(
        ChannelWorker(cam_spec(make_rule()), make_context(opener=opener, events=events)), backoff=FAST
    )
    supervisor.start()
    try:
        assert wait_until(lambda: supervisor.state is ChannelState.LIVE, 5.0)
    finally:
        supervisor.stop(5.0)
        source.hold.clear()
    assert supervisor.restarts == 1
    assert _squeeze(states)[:4] == ["starting", "error", "starting", "live"]


def test_auto_stop_ends_in_stopped_with_the_reason(make_context: Any) -> None:
    ctx = make_context(FlagAllConfig(), opener=Opener(ScriptedSource(distinct_images(3))))
    supervisor = ChannelSupervisor(ChannelWorker(cam_spec(make_rule()), ctx), backoff=FAST)
    supervisor.start()
    assert wait_until(lambda: not supervisor.running, 5.0)
    assert supervisor.state is ChannelState.STOPPED
    assert supervisor.reason.startswith("auto-stop by rule watch")


# --- the ChannelManager ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ok"),
    [("", False), ("cam-1", True), ("a.b_c", True), ("-x", False), ("a/b", False), ("x" * 129, False)],
)
def test_channel_names(name: str, ok: bool) -> None:
    if ok:
        assert check_channel_name(name) == name
    else:
        with pytest.raises(ConfigError, match="channel name"):
            check_channel_name(name)


@pytest.mark.parametrize(
    ("source", "allow_files", "error"),
    [
        ("rtmp://127.0.0.1/live/a", False, None),
        ("srt://127.0.0.1:9000", False, None),
        ("/videos/a.mp4", False, "local files are not allowed"),
        ("file:///videos/a.mp4", False, "local files are not allowed"),
        ("/videos/a.mp4", True, None),
        ("gopher://x/a", False, "scheme 'gopher' is not allowed"),
    ],
)
def test_channel_sources(source: str, allow_files: bool, error: str | None) -> None:
    settings = Settings(allow_file_sources=allow_files)
    if error is None:
        assert check_source(source, settings) == source
    else:
        with pytest.raises(ConfigError, match=error):
            check_source(source, settings)


def test_manager_add_snapshot_remove(make_context: Any) -> None:
    source = ScriptedSource(distinct_images(2))
    source.hold.set()
    with ChannelManager(make_context(opener=Opener(source)), rules=[make_rule()], backoff=FAST) as manager:
        snap = manager.add("cam", "rtmp://h/live/cam")
        assert snap.rule_id == "watch" and snap.controller == "null"
        assert wait_until(lambda: manager.snapshot("cam").stats["analyzed"] == 2, 5.0)
        assert manager.snapshot("cam").to_dict()["state"] == "live"
        with pytest.raises(DuplicateChannelError):
            manager.add("cam", "rtmp://h/live/cam")
        assert "cam" in manager and manager.names() == ["cam"]
        source.hold.clear()
        manager.remove("cam")
        assert manager.names() == []
        with pytest.raises(UnknownChannelError, match="unknown channel 'cam'"):
            manager.snapshot("cam")


def test_manager_stop_and_start_again(make_context: Any) -> None:
    sources = [ScriptedSource(distinct_images(1)) for _ in range(2)]
    for s in sources:
        s.hold.set()
    with ChannelManager(make_context(opener=Opener(*sources)), rules=[make_rule()], backoff=FAST) as manager:
        manager.add("cam", "rtmp://h/live/cam")
        assert wait_until(lambda: manager.snapshot("cam").state is ChannelState.LIVE, 5.0)
        assert manager.stop("cam", timeout=5.0).state is ChannelState.STOPPED
        manager.start("cam")
        assert wait_until(lambda: manager.snapshot("cam").stats["sessions"] == 2, 5.0)
        for s in sources:
            s.hold.clear()


def test_rule_change_affects_only_the_matching_channel(make_context: Any) -> None:
    sources = {name: ScriptedSource(distinct_images(1)) for name in ("live-1", "live-10")}
    for s in sources.values():
        s.hold.set()

    def opener(source: str, *, timeout_s: float = 10.0) -> ScriptedSource:
        return sources[source.rsplit("/", 1)[-1]]

    ctx = make_context(FlagAllConfig(), opener=opener)
    base = make_rule("base", labels={"Explicit": 50}, auto_stop_window={"k": 3, "n": 3})
    with ChannelManager(ctx, rules=[base], backoff=FAST) as manager:
        for name in sources:
            manager.add(name, f"rtmp://h/live/{name}")
        workers = {name: manager._get(name).worker for name in sources}
        assert wait_until(lambda: all(w.rule_state.hits for w in workers.values()), 5.0)
        assert manager.set_rules([base]) == set()  # saved again unchanged: nobody's state restarts
        strict = make_rule("strict", pattern="^live-1$", priority=1, labels={"Explicit": 40})
        assert manager.set_rules([base, strict]) == {"live-1"}
        assert manager.rule_of("live-1").id == "strict" and manager.rule_of("live-10").id == "base"
        assert manager.snapshot("live-1").rule_id == "strict"
        assert manager.set_rules([base, strict], versions={"strict": 2}) == {"live-1"}
        assert manager.set_rules([], versions={}) == {"live-1", "live-10"}
        assert manager.rule_of("live-10").id == DEFAULT_RULE_ID
        for s in sources.values():
            s.hold.clear()
