"""The in-process event bus: alerts, results and channel state go through it.

Publishers (workers, the alert service) call :meth:`EventBus.publish` from any
thread.  Subscribers are plain callables (notifiers, the store) or asyncio
queues (the WebSocket endpoint), fed thread-safely on their own loop.  A slow
queue subscriber loses its oldest events, never blocks a publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "alert", "alert_updated", "result", "channel_state", "notification"
    payload: dict[str, Any]
    channel: str = ""
    at: float = field(default_factory=time.time)
    # Which process published it, when it came from another (a Ray cluster's relay): ""
    # for an event made here.  Not sent to clients.
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "channel": self.channel, "at": self.at, "payload": self.payload}


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[tuple[Subscriber, frozenset[str] | None]] = []
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event], frozenset[str] | None]] = []

    def subscribe(self, callback: Subscriber, kinds: set[str] | None = None) -> Callable[[], None]:
        entry = (callback, frozenset(kinds) if kinds else None)
        with self._lock:
            self._callbacks.append(entry)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(entry)

        return unsubscribe

    def subscribe_queue(
        self, loop: asyncio.AbstractEventLoop, maxsize: int = 1000, kinds: set[str] | None = None
    ) -> tuple[asyncio.Queue[Event], Callable[[], None]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        entry = (loop, queue, frozenset(kinds) if kinds else None)
        with self._lock:
            self._queues.append(entry)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._queues.remove(entry)

        return queue, unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
            queues = list(self._queues)
        for callback, kinds in callbacks:
            if kinds is None or event.kind in kinds:
                try:
                    callback(event)
                except Exception:  # a broken subscriber never breaks the pipeline
                    log.exception("event subscriber %r failed on %s", callback, event.kind)
        for loop, queue, kinds in queues:
            if kinds is None or event.kind in kinds:
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(_put_newest, queue, event)


def _put_newest(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(event)
