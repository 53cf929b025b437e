"""The event relay: channel actors' events (state, results, alerts) reach the API's event bus.

Why a Ray actor and not PostgreSQL LISTEN/NOTIFY: the relay must work with whatever store the
cluster has (SQLite on a one-node cluster has no NOTIFY), NOTIFY payloads are capped at 8 kB
(a result event with many labels can pass it) and every API process would need a dedicated
listening connection; a Ray actor is already at hand on every node, costs no CPU reservation
and keeps events in order per channel.  The store remains the record: the relay only carries
what the WebSocket pushes, and a lost event is still in the results and alerts tables.

The relay lives on the leader API's node, owned by that process (it ends with it).  Actors
push batches (``publish``, fire and forget, flushed every 50 ms); every API process of the
cluster pulls them with a long poll (``fetch``, each with its own cursor) and republishes them
on its local :class:`~framewarden.events.EventBus`.  Each API process also pushes the events
it publishes itself (alerts a moderator resolved there, job progress, the leader's channel
states), stamped with its own origin so that it skips them on the way back: a dashboard sees
the same feed whichever API process its WebSocket reached.  The relay is also the switchboard
of calls from the other API processes to the leader (:mod:`framewarden.engines.ray_switchboard`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from framewarden.engines.ray_switchboard import Switchboard
from framewarden.errors import ConfigError
from framewarden.events import Event, EventBus

log = logging.getLogger(__name__)

_FLUSH_S = 0.05
_KEEP = 10_000  # events kept for a slow reader; older ones are dropped (the store has them)


class EventRelay(Switchboard):
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
    """Another API process runs the live channels of this cluster (or holds its relay's name)."""


def claim_relay(ray: Any, node_id: str, claim_s: float = _CLAIM_S) -> tuple[Any, bool]:
    """The cluster's relay and whether this process leads: ``(relay, True)`` when this process
    started it, pinned to ``node_id`` (the API's node) and reserving no CPU; ``(relay, False)``
    when another API process, alive, holds it.

    Pinned hard: a soft affinity lets Ray put it on any node, and losing that node would cut
    the WebSocket off from every channel.  A crashed relay process restarts in place and calls
    to it are retried; the events it held then reach the store but not the WebSocket.

    The relay's name marks the one API process that runs the cluster's live channels and
    other background work (the leader): each keeps books of the channels it placed (admission,
    restarts), so two would place every channel twice.  The others follow it.  A second manager
    in the same process (tests) gets a relay of its own and leads it.  The name of an API
    process that is gone is released by Ray within seconds; this waits up to ``claim_s`` for it.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    me = ray.get_runtime_context().get_job_id()
    actor_cls = ray.remote(EventRelay)
    options: dict[str, Any] = {
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": 1000,  # followers' calls wait inside it
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False),
    }
    deadline = time.monotonic() + claim_s
    while True:
        try:
            return actor_cls.options(name=RELAY_NAME, namespace=NAMESPACE, **options).remote(me), True
        except ValueError:  # the name is taken
            pass
        holder, owner = find_relay(ray), None
        if holder is not None:
            try:
                owner = ray.get(holder.owner.remote(), timeout=5)
            except Exception:  # its process is gone: the name is being released
                owner = None
        if owner == me:
            return actor_cls.options(**options).remote(me), True
        if owner is not None:
            return holder, False
        if time.monotonic() > deadline:
            raise AnotherApiError(
                f"the cluster's relay name is held by an API process that does not answer ({claim_s:g} s)"
            )
        time.sleep(0.5)


def find_relay(ray: Any) -> Any | None:
    """The cluster's relay (the leader's), or None while there is none."""
    try:
        return ray.get_actor(RELAY_NAME, namespace=NAMESPACE)
    except Exception:  # ValueError: no actor of that name
        return None


def start_relay(ray: Any, node_id: str, claim_s: float = _CLAIM_S) -> Any:
    """A relay this process leads (a standalone channel manager): refused with
    :class:`AnotherApiError` when another API process already leads the cluster."""
    relay, leading = claim_relay(ray, node_id, claim_s)
    if not leading:
        raise AnotherApiError(
            "another API process already runs this cluster's live channels: this one would place them twice"
        )
    return relay


class Forwarder:
    """Everything published on a local bus goes to the relay in batches: in a channel actor, all
    of it; in an API process (``origin`` set), only what was made there, stamped with it.

    ``find`` looks the relay up again once a push to the one at hand failed: a channel actor
    outlives the API process that started it, and a new leader's relay replaces the old one
    (events pushed in between reach the store only)."""

    def __init__(
        self, bus: EventBus, relay: Any, *, origin: str = "", find: Callable[[], Any] | None = None
    ) -> None:
        self._relay, self._find, self._origin = relay, find, origin
        self._last: Any = None  # the last push (its failure says the relay is gone)
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._unsubscribe = bus.subscribe(self._keep)
        self._thread = threading.Thread(target=self._run, name="fw-event-forwarder", daemon=True)
        self._thread.start()

    def _keep(self, event: Event) -> None:
        if event.origin:  # it came from the relay: sending it back would loop
            return
        raw = event.to_dict()
        if self._origin:
            raw["origin"] = self._origin
        with self._lock:
            self._pending.append(raw)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        relay = self._current()
        if relay is None:
            log.debug("no event relay now; %d event(s) not pushed", len(batch))
            return
        try:
            self._last = relay.publish.remote(batch)
        except Exception:  # the API is gone: the store still has every record
            log.warning("event relay unreachable; %d event(s) not pushed", len(batch))

    def _current(self) -> Any:
        if self._find is None:
            return self._relay
        if self._relay is not None and self._last is not None and _failed(self._last):
            self._relay = None
        if self._relay is None:
            self._relay, self._last = self._find(), None
        return self._relay

    def _run(self) -> None:
        while not self._stop.wait(_FLUSH_S):
            self.flush()

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._thread.join(1.0)
        self.flush()


def _failed(ref: Any) -> bool:
    """Whether a finished push failed (an unfinished one has not, yet)."""
    import ray

    ready, _ = ray.wait([ref], timeout=0)
    if not ready:
        return False
    try:
        ray.get(ref, timeout=0)
    except Exception:  # the relay's actor died (its API process ended)
        return True
    return False


class Pump:
    """In an API process: pulls the relay's events onto the local bus (the WebSocket), leaving
    out those this process pushed itself (``origin``).  ``find`` gives the relay, looked up
    again after a failure: a new leader's relay replaces a gone one."""

    def __init__(self, ray: Any, find: Callable[[], Any], bus: EventBus, *, origin: str = "") -> None:
        self._ray, self._find, self._bus, self._origin = ray, find, bus, origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fw-event-pump", daemon=True)

    def start(self) -> Pump:
        self._thread.start()
        return self

    def _run(self) -> None:
        cursor, relay, relay_id = 0, None, None
        while not self._stop.is_set():
            if relay is None:
                relay = self._find()
                if relay is None:
                    self._stop.wait(0.5)
                    continue
                if getattr(relay, "_actor_id", None) != relay_id:  # a new leader's relay: from its start
                    cursor, relay_id = 0, getattr(relay, "_actor_id", None)
            try:
                cursor, events = self._ray.get(relay.fetch.remote(cursor, 1.0), timeout=10.0)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("event relay: %s", type(exc).__name__)
                relay = None
                self._stop.wait(0.5)
                continue
            for raw in events:
                origin = raw.get("origin") or "cluster"
                if origin == self._origin:
                    continue
                channel = raw.get("channel", "")
                event = Event(raw["kind"], raw["payload"], channel=channel, at=raw["at"], origin=origin)
                self._bus.publish(event)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3.0)
