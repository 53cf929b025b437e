"""The event relay: channel actors' events (state, results, alerts) reach the API's event bus.

Why a Ray actor and not PostgreSQL LISTEN/NOTIFY: the relay must work with whatever store the
cluster has (SQLite on a one-node cluster has no NOTIFY), NOTIFY payloads are capped at 8 kB
(a result event with many labels can pass it) and every API process would need a dedicated
listening connection; a Ray actor is already at hand on every node, costs no CPU reservation
and keeps events in order per channel.  The store remains the record: the relay only carries
what the WebSocket pushes, and a lost event is still in the results and alerts tables.

The relay lives on the API's node, owned by the API process (it ends with it).  Actors push
batches (``publish``, fire and forget, flushed every 50 ms); the API pulls them with a long
poll (``fetch``) and republishes them on its local :class:`~framewarden.events.EventBus`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from typing import Any

from framewarden.errors import ConfigError
from framewarden.events import Event, EventBus

log = logging.getLogger(__name__)

_FLUSH_S = 0.05
_KEEP = 10_000  # events kept for a slow reader; older ones are dropped (the store has them)


class EventRelay:
    """The relay actor's class (an asyncio actor: ``fetch`` waits without holding a thread)."""

    def __init__(self, owner: str = "") -> None:
        self._owner = owner
        self._events: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=_KEEP)
        self._seq = 0
        self._arrived: asyncio.Event | None = None

    def _signal(self) -> asyncio.Event:
        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    async def publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._seq += 1
            self._events.append((self._seq, event))
        signal = self._signal()
        signal.set()
        self._arrived = asyncio.Event()

    async def owner(self) -> str:
        """The Ray job (the API process) that started the relay."""
        return self._owner

    async def node(self) -> str:
        """The node the relay runs on (for checks and the docs' claim that it sits by the API)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    async def fetch(self, after: int, timeout_s: float) -> tuple[int, list[dict[str, Any]]]:
        """Events after sequence number ``after`` (waits up to ``timeout_s`` for the first)."""
        if after > self._seq:  # the relay restarted (its node was lost): numbering began again
            after = 0
        if not self._events or self._events[-1][0] <= after:
            try:
                await asyncio.wait_for(self._signal().wait(), timeout_s)
            except TimeoutError:
                return after, []
        fresh = [(seq, e) for seq, e in self._events if seq > after]
        return (fresh[-1][0] if fresh else after), [e for _, e in fresh]


RELAY_NAME = "framewarden-live-relay"
NAMESPACE = "framewarden"
_CLAIM_S = 15.0  # how long a new API process waits for a gone one's relay name to be released


class AnotherApiError(ConfigError):
    """Another API process already runs the live channels of this cluster."""


def start_relay(ray: Any, node_id: str, claim_s: float = _CLAIM_S) -> Any:
    """The relay actor, pinned to ``node_id`` (the API's node), reserving no CPU.

    Pinned hard: a soft affinity lets Ray put it on any node, and losing that node would cut
    the WebSocket off from every channel.  A crashed relay process restarts in place and calls
    to it are retried; the events it held then reach the store but not the WebSocket.

    The relay's name marks the one API process that runs the cluster's live channels: each
    keeps its own books of the channels it placed (admission, restarts), so a second one on
    the same cluster would place its channels twice and admit past the nodes' budgets.  A
    second API process is refused (:class:`AnotherApiError`) rather than let do that; a second
    manager in the same process (tests) gets a relay of its own.  The name of an API process
    that is gone is released by Ray within seconds; a new one waits up to ``claim_s`` for it.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    me = ray.get_runtime_context().get_job_id()
    actor_cls = ray.remote(EventRelay)
    options: dict[str, Any] = {
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False),
    }
    deadline = time.monotonic() + claim_s
    while True:
        try:
            return actor_cls.options(name=RELAY_NAME, namespace=NAMESPACE, **options).remote(me)
        except ValueError:  # the name is taken
            pass
        try:
            holder = ray.get_actor(RELAY_NAME, namespace=NAMESPACE)
            owner = ray.get(holder.owner.remote(), timeout=5)
        except Exception:  # released meanwhile, or its process is gone: claim it again
            owner = None
        if owner == me:
            return actor_cls.options(**options).remote(me)
        if owner is not None or time.monotonic() > deadline:
            raise AnotherApiError(
                "another API process already runs this cluster's live channels (Ray job "
                f"{owner or 'unknown'}): one `serve --engine ray` per cluster runs them; "
                "several behind a load balancer are not supported yet (docs/scale.md)"
            )
        time.sleep(0.5)


class Forwarder:
    """In a channel actor: everything published on the local bus goes to the relay in batches."""

    def __init__(self, bus: EventBus, relay: Any) -> None:
        self._relay = relay
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._unsubscribe = bus.subscribe(self._keep)
        self._thread = threading.Thread(target=self._run, name="fw-event-forwarder", daemon=True)
        self._thread.start()

    def _keep(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event.to_dict())

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                self._relay.publish.remote(batch)
            except Exception:  # the API is gone: the store still has every record
                log.warning("event relay unreachable; %d event(s) not pushed", len(batch))

    def _run(self) -> None:
        while not self._stop.wait(_FLUSH_S):
            self.flush()

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._thread.join(1.0)
        self.flush()


class Pump:
    """In the API process: pulls the relay's events onto the local bus (WebSocket, notifiers)."""

    def __init__(self, ray: Any, relay: Any, bus: EventBus) -> None:
        self._ray, self._relay, self._bus = ray, relay, bus
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fw-event-pump", daemon=True)

    def start(self) -> Pump:
        self._thread.start()
        return self

    def _run(self) -> None:
        cursor = 0
        while not self._stop.is_set():
            try:
                cursor, events = self._ray.get(self._relay.fetch.remote(cursor, 1.0), timeout=10.0)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("event relay: %s", exc)
                self._stop.wait(0.5)
                continue
            for raw in events:
                self._bus.publish(
                    Event(raw["kind"], raw["payload"], channel=raw.get("channel", ""), at=raw["at"])
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3.0)
