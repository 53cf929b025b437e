"""Calls from a follower API process to the leader through the relay, and the events both push.

The switchboard half of the relay is plain asyncio (tested without a cluster); the servant,
the peer and the event origins run against a real relay actor on a private one-node cluster.
"""

from __future__ import annotations

import asyncio
import os
import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from framewarden.actions.controllers import ControllerError
from framewarden.engines.ray_events import EventRelay
from framewarden.engines.ray_switchboard import LeaderUnavailableError, RemoteCallError, portable
from framewarden.events import Event, EventBus
from framewarden.pipeline.channels import DuplicateChannelError, UnknownChannelError


def test_a_call_waits_for_the_leaders_answer() -> None:
    async def scenario() -> None:
        relay = EventRelay()
        call = asyncio.ensure_future(relay.call("channels", "names", (), {}, 5.0))
        taken = await relay.take_calls(1.0)
        assert [(t, m) for _, t, m, _, _ in taken] == [("channels", "names")]
        assert not call.done()  # it waits for the answer, not for the take
        await relay.answer(taken[0][0], True, ["cam-1"])
        assert await asyncio.wait_for(call, 1.0) == (True, ["cam-1"])
        assert await relay.take_calls(0.01) == []  # nothing left

    asyncio.run(scenario())


def test_a_call_nobody_answers_comes_back_empty() -> None:
    async def scenario() -> None:
        relay = EventRelay()
        assert await relay.call("channels", "names", (), {}, 0.05) == (False, None)
        taken = await relay.take_calls(0.1)
        await relay.answer(taken[0][0], True, [])  # too late: dropped, nothing raised

    asyncio.run(scenario())


class _Odd(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}+{b}")


def test_errors_travel_as_themselves_or_as_text() -> None:
    for exc in (
        UnknownChannelError("cam-1"),
        DuplicateChannelError("channel 'cam-1' already exists"),
        ControllerError("cam-1", "nginx said 500"),
    ):
        assert portable(exc) is exc  # the API answers the same status in any process
    odd = portable(_Odd(1, 2))
    assert isinstance(odd, RemoteCallError) and str(odd) == "1+2"


# --- against a real relay actor -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip(
        "ray", reason="the test command installs framewarden[ray]; a bare install has no Ray"
    )
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


class _Books:
    def __init__(self) -> None:
        self.names_ = ["cam-1"]

    def names(self) -> list[str]:
        return self.names_

    def snapshot(self, name: str) -> str:
        raise UnknownChannelError(name)

    def stop_stream(self, name: str) -> str:
        raise ControllerError(name, "refused by the server")

    def close(self) -> None:  # not in ALLOWED: a follower may not call it
        raise AssertionError("called")


def test_a_peer_calls_the_leaders_objects_through_the_relay(ray_local: Any) -> None:
    from framewarden.engines.ray_events import claim_relay, find_relay
    from framewarden.engines.ray_switchboard import Peer, Servant

    relay, leading = claim_relay(ray_local, ray_local.get_runtime_context().get_node_id())
    assert leading
    books = _Books()
    servant = Servant(ray_local, relay, {"channels": lambda: books}).start()
    peer = Peer(ray_local, lambda: find_relay(ray_local))
    try:
        assert peer.call("channels", "names") == ["cam-1"]
        with pytest.raises(UnknownChannelError, match="unknown channel 'cam-9'"):
            peer.call("channels", "snapshot", "cam-9")
        with pytest.raises(ControllerError) as stopped:
            peer.call("channels", "stop_stream", "cam-1")
        assert stopped.value.reason == "refused by the server"
        with pytest.raises(RemoteCallError, match="may not be called"):
            peer.call("channels", "close")
        with pytest.raises(RemoteCallError, match="may not be called"):
            peer.call("settings", "names")  # not a target at all
    finally:
        servant.close()
        ray_local.kill(relay, no_restart=True)
    # The leader is gone (its relay with it): a clear error, not a hang.
    assert wait_for_no_relay(ray_local)
    with pytest.raises(LeaderUnavailableError, match="retry in a few seconds"):
        peer.call("channels", "names")


def wait_for_no_relay(ray: Any, timeout_s: float = 30.0) -> bool:
    from framewarden.engines.ray_events import find_relay

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if find_relay(ray) is None:
            return True
        time.sleep(0.2)
    return False


def test_each_api_process_sees_the_others_events_once(ray_local: Any) -> None:
    """A's events reach B's bus, not A's own again; what B pumped is not pushed back (no loop)."""
    from framewarden.engines.ray_events import Forwarder, Pump, claim_relay

    relay, _ = claim_relay(ray_local, ray_local.get_runtime_context().get_node_id())
    bus_a, bus_b = EventBus(), EventBus()
    seen_a: queue.Queue[Event] = queue.Queue()
    seen_b: queue.Queue[Event] = queue.Queue()
    bus_a.subscribe(seen_a.put)
    bus_b.subscribe(seen_b.put)
    parts = [
        Forwarder(bus_a, relay, origin="api:A"),
        Forwarder(bus_b, relay, origin="api:B"),
        Pump(ray_local, lambda: relay, bus_a, origin="api:A").start(),
        Pump(ray_local, lambda: relay, bus_b, origin="api:B").start(),
    ]
    try:
        bus_a.publish(Event("alert_updated", {"id": 7}, channel="cam-1"))
        assert seen_a.get(timeout=5).payload == {"id": 7}  # its own publish
        got = seen_b.get(timeout=10)
        assert (got.kind, got.payload, got.channel, got.origin) == (
            "alert_updated",
            {"id": 7},
            "cam-1",
            "api:A",
        )
        # A channel actor's event (no origin) reaches both, each once.
        Forwarder(EventBus(), relay).close()  # (a forwarder with nothing to send sends nothing)
        actor_bus = EventBus()
        actor = Forwarder(actor_bus, relay)
        actor_bus.publish(Event("alert", {"id": 8}, channel="cam-2"))
        actor.close()
        for seen in (seen_a, seen_b):
            got = seen.get(timeout=10)
            assert (got.payload, got.origin) == ({"id": 8}, "cluster")
        time.sleep(1.5)  # room for a loop to show: B pushing A's event back, A pumping its own
        assert seen_a.empty() and seen_b.empty()
        cursor, held = ray_local.get(relay.fetch.remote(0, 0.1))
        assert cursor == 2 and [e["payload"]["id"] for e in held] == [7, 8]
    finally:
        for part in parts:
            part.close()
        ray_local.kill(relay, no_restart=True)
