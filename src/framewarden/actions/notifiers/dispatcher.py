"""Delivery in the background: retries with backoff, a log of every attempt.

The pipeline must never wait for a webhook.  :meth:`Dispatcher.submit` only
puts deliveries on a schedule and returns; a scheduler thread hands due
deliveries to a small pool, one attempt per target at a time, so a slow
target holds at most one worker and never holds up the others.
A failed attempt is retried after an exponential delay with jitter (so many
channels failing together do not retry in lockstep), up to
``max_attempts``.  Every attempt goes to ``recorder`` (the store keeps the
delivery log from it) and every failure is published on the event bus as a
``notification`` event, so the dashboard can show it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from typing import Any

from framewarden.actions.notifiers.base import Message, Notifier
from framewarden.events import Event, EventBus
from framewarden.redact import redact_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    jitter: float = 0.2  # +/- this fraction of the delay

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        raw = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, raw * (1 + spread))


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One attempt to deliver one message to one target."""

    target: str
    alert_id: int | str | None
    attempt: int
    status: str  # "ok" | "retry" (failed, will retry) | "failed" (gave up) | "dropped"
    error: str | None  # None when delivered
    at: float  # Unix time


# recorder(target, alert_id, attempt, status, error, at): store.notifications.make_recorder fits.
Recorder = Callable[[str, Any, int, str, "str | None", float], None]


@dataclass(slots=True)
class _Delivery:
    target: str
    message: Message
    attempt: int = 1


class Dispatcher:
    """Delivers messages to named notifiers on worker threads."""

    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        *,
        recorder: Recorder | None = None,
        bus: EventBus | None = None,
        policy: RetryPolicy | None = None,
        workers: int = 4,
        max_pending: int = 10_000,
    ) -> None:
        self._notifiers = dict(notifiers)
        self._recorder: Recorder = recorder or (lambda *record: None)
        self._bus = bus or EventBus()
        self.policy = policy or RetryPolicy()
        self._max_pending = max_pending
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._inflight = 0
        self._busy: set[str] = set()  # targets with an attempt running
        self._workers = workers
        self._closing = False
        self._abandoned = False  # close() timed out: retries still running are dropped
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fw-notify")
        self._thread = threading.Thread(target=self._run, name="fw-notify-scheduler", daemon=True)
        self._thread.start()

    # --- API ---------------------------------------------------------------
    def submit(self, targets: Iterable[str], message: Message) -> None:
        """Schedule ``message`` for each named target; never blocks on delivery."""
        now = time.monotonic()
        with self._cond:
            for name in targets:
                if self._closing or len(self._heap) >= self._max_pending:
                    why = "dispatcher closed" if self._closing else "too many pending deliveries"
                    self._finish(_Delivery(name, message), "dropped", why)
                    continue
                heapq.heappush(self._heap, (now, next(self._counter), _Delivery(name, message)))
            self._cond.notify_all()

    def set_notifier(self, name: str, notifier: Notifier | None) -> None:
        """Add or replace a target at run time, or remove it (``None``): targets stored through the API."""
        with self._cond:
            if notifier is None:
                self._notifiers.pop(name, None)
            else:
                self._notifiers[name] = notifier

    def notifier(self, name: str) -> Notifier | None:
        with self._cond:
            return self._notifiers.get(name)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._inflight

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking work, deliver what is scheduled within ``timeout``; True if all done."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while self._heap or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            drained = not self._heap and not self._inflight
            leftover = [d for _, _, d in self._heap]
            self._heap.clear()
            self._abandoned = True
            self._cond.notify_all()
        for delivery in leftover:
            self._finish(delivery, "dropped", f"not delivered within close timeout {timeout:g}s")
        self._thread.join(timeout=1.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return drained

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- workers -------------------------------------------------------------
    def _next_ready(self, now: float) -> tuple[float, int, _Delivery] | None:
        """The earliest due delivery whose target is idle (one attempt per target at a time)."""
        if self._inflight >= self._workers:
            return None
        for entry in sorted(self._heap):
            if entry[0] > now:
                return None
            if entry[2].target not in self._busy:
                return entry
        return None

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._heap and self._closing and (self._abandoned or not self._inflight):
                    return
                now = time.monotonic()
                entry = self._next_ready(now)
                if entry is None:
                    wait = self._heap[0][0] - now if self._heap else 0.5
                    self._cond.wait(min(0.5, max(wait, 0.005)))
                    continue
                self._heap.remove(entry)
                heapq.heapify(self._heap)
                delivery = entry[2]
                self._inflight += 1
                self._busy.add(delivery.target)
                self._pool.submit(self._attempt, delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        try:
            notifier = self._notifiers.get(delivery.target)
            if notifier is None:
                self._finish(delivery, "failed", f"unknown notification target {delivery.target!r}")
                return
            try:
                notifier.send(delivery.message)
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                if delivery.attempt >= self.policy.max_attempts:
                    self._finish(delivery, "failed", error)
                else:
                    self._finish(delivery, "retry", error)
                    self._reschedule(delivery)
            else:
                self._finish(delivery, "ok", None)
        finally:
            with self._cond:
                self._inflight -= 1
                self._busy.discard(delivery.target)
                self._cond.notify_all()

    def _reschedule(self, delivery: _Delivery) -> None:
        due = time.monotonic() + self.policy.delay(delivery.attempt)
        nxt = _Delivery(delivery.target, delivery.message, delivery.attempt + 1)
        with self._cond:
            if not self._abandoned:
                heapq.heappush(self._heap, (due, next(self._counter), nxt))
                self._cond.notify_all()
                return
        self._finish(nxt, "dropped", "dispatcher closed before the retry")

    def _finish(self, delivery: _Delivery, status: str, error: str | None) -> None:
        error = redact_text(error) if error else error  # stored, pushed to viewers and logged
        record = DeliveryRecord(
            delivery.target, delivery.message.alert_id, delivery.attempt, status, error, time.time()
        )
        try:
            self._recorder(*astuple(record))
        except Exception:  # the delivery log must not kill delivery
            log.exception("notification recorder failed for %s", record)
        if status != "ok":
            log.warning(
                "notification %s to %r (attempt %d): %s", status, delivery.target, delivery.attempt, error
            )
            self._bus.publish(
                Event(
                    "notification",
                    {
                        "target": record.target,
                        "alert_id": record.alert_id,
                        "attempt": record.attempt,
                        "status": status,
                        "error": error,
                    },
                    channel=delivery.message.channel,
                )
            )
