"""The event relay's ordering and long poll, without a cluster (its class is plain asyncio)."""

from __future__ import annotations

import asyncio

from framewarden.engines.ray_events import EventRelay


def _event(n: int) -> dict[str, object]:
    return {"kind": "result", "channel": "cam", "at": float(n), "payload": {"n": n}}


def test_fetch_returns_events_in_order_and_waits_for_new_ones() -> None:
    async def scenario() -> None:
        relay = EventRelay()
        assert await relay.fetch(0, 0.01) == (0, [])  # nothing yet: the wait times out
        await relay.publish([_event(1), _event(2)])
        cursor, events = await relay.fetch(0, 1.0)
        assert cursor == 2 and [e["payload"] for e in events] == [{"n": 1}, {"n": 2}]
        waiting = asyncio.ensure_future(relay.fetch(cursor, 5.0))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # a long poll, not a busy loop
        await relay.publish([_event(3)])
        assert await asyncio.wait_for(waiting, 1.0) == (3, [_event(3)])

    asyncio.run(scenario())


def test_a_restarted_relay_is_read_from_its_start() -> None:
    async def scenario() -> None:
        relay = EventRelay()  # a new incarnation: numbering begins again
        await relay.publish([_event(7)])
        assert await relay.fetch(40, 0.01) == (1, [_event(7)])  # the reader's old cursor is past it

    asyncio.run(scenario())
