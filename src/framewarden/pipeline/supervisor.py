"""Keeps one channel running: reconnects its source, restarts its worker, shows its state.

The state machine, always visible in :meth:`ChannelSupervisor.snapshot` and
published as a "channel_state" event on every change::

    starting -> live -> reconnecting -> live ...
                     \\-> stopped (by request, or by an auto-stop) + reason
                     \\-> error + reason (the worker crashed; restarted after a backoff)

A source that drops (publisher gone, network down) is reopened with
exponential backoff and jitter, so a publisher that comes back is picked up
again without hammering the server meanwhile.  A graceful stop lets the
frames already waiting be judged before the thread ends.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from framewarden.events import Event
from framewarden.pipeline.worker import ChannelState, ChannelWorker, SessionEnd
from framewarden.redact import redact_text, redact_url

log = logging.getLogger(__name__)


def state_line(state: str, reason: str) -> str:
    """``live``, ``error (connection refused)``; a reason that starts with the state stands alone."""
    if not reason:
        return state
    return reason if reason.startswith(state) else f"{state} ({reason})"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnect attempts: ``initial_s * factor**attempt``, capped, with jitter."""

    initial_s: float = 0.5
    cap_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.25  # each delay is shortened by up to this fraction, so channels spread out

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        base = min(self.cap_s, self.initial_s * self.factor ** max(0, attempt))
        return base * (1.0 - self.jitter * (rng or random).random())


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """A channel as the API and the dashboard show it."""

    name: str
    source: str
    state: ChannelState
    reason: str
    since: float  # wall clock of the last state change
    rule_id: str
    rule_version: int
    trusted: bool
    controller: str
    restarts: int
    reconnects: int
    queue_depth: int
    stats: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "trusted": self.trusted,
            "controller": self.controller,
            "restarts": self.restarts,
            "reconnects": self.reconnects,
            "queue_depth": self.queue_depth,
            "stats": dict(self.stats),
        }


class ChannelSupervisor:
    """Owns the thread that runs a worker's sessions, one after another."""

    def __init__(self, worker: ChannelWorker, *, backoff: Backoff | None = None) -> None:
        self.worker = worker
        self.backoff = backoff or Backoff()
        self.restarts = 0
        self.reconnects = 0
        self._state = ChannelState.STOPPED
        self._reason = "not started"
        self._since = time.time()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self._attempt = 0  # reconnect attempts since the channel was last live
        worker.on_live = self._on_live
        worker.on_lost = self._on_lost

    # --- state ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.worker.name

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _set_state(self, state: ChannelState, reason: str = "") -> None:
        reason = redact_text(reason)  # reasons quote URLs; they reach every role and the logs
        with self._lock:
            if (state, reason) == (self._state, self._reason):
                return
            self._state, self._reason, self._since = state, reason, time.time()
        log.info("channel %s: %s", self.name, state_line(state.value, reason))
        events = self.worker.context.events
        events.publish(Event("channel_state", {"state": state.value, "reason": reason}, channel=self.name))

    def fail(self, reason: str) -> None:
        """Show the channel in ``error`` with ``reason`` (for a channel that may not run)."""
        self._set_state(ChannelState.ERROR, reason)

    def _on_live(self) -> None:
        self._attempt = 0
        self._set_state(ChannelState.LIVE)

    def _on_lost(self, reason: str) -> None:
        """The source stalled: show it now; the session still judges what it received, then ends."""
        if not self._stop.is_set():
            self._set_state(ChannelState.RECONNECTING, reason)

    def snapshot(self) -> ChannelSnapshot:
        spec = self.worker.spec
        rule, version = self.worker.target_rule
        with self._lock:
            state, reason, since = self._state, self._reason, self._since
        return ChannelSnapshot(
            name=spec.name,
            source=redact_url(spec.source),  # snapshots reach every role: never the credentials
            state=state,
            reason=reason,
            since=since,
            rule_id=rule.id,
            rule_version=version,
            trusted=spec.trusted,
            controller=getattr(spec.controller, "kind", type(spec.controller).__name__),
            restarts=self.restarts,
            reconnects=self.reconnects,
            queue_depth=self.worker.queue_depth,
            stats=self.worker.stats.to_dict(),
        )

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start (or restart after a stop) the channel's thread."""
        if self.running:
            return
        self._stop = threading.Event()
        self._set_state(ChannelState.STARTING)
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name=f"fw-channel-{self.name}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Graceful stop: waiting frames are judged first.  True when the thread has ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        ended = thread is None or not thread.is_alive()
        if ended and self._state not in (ChannelState.STOPPED, ChannelState.ERROR):
            self._set_state(ChannelState.STOPPED, "stopped by request")
        return ended

    def run(self, stop: threading.Event) -> None:
        """The channel thread: sessions until stopped, with backoff between failures."""
        self._attempt = 0
        while not stop.is_set():
            try:
                outcome = self.worker.run_session(stop)
            except Exception as exc:
                log.exception("channel %s: worker failed", self.name)
                self.restarts += 1
                self._set_state(ChannelState.ERROR, f"{type(exc).__name__}: {exc}")
                self._wait_backoff(stop)
                if not stop.is_set():
                    self._set_state(ChannelState.STARTING, f"restart #{self.restarts}")
                continue
            if outcome.end is SessionEnd.STOP_REQUESTED:
                break
            if outcome.end is SessionEnd.AUTO_STOPPED:
                self._set_state(ChannelState.STOPPED, outcome.reason)
                return
            if outcome.end is SessionEnd.WAITING:  # listen again at once: a backoff would close the port
                waiting = (
                    ChannelState.STARTING
                    if self._state is ChannelState.STARTING
                    else ChannelState.RECONNECTING
                )
                self._set_state(waiting, outcome.reason)
                continue
            self.reconnects += 1
            self.worker.context.metrics.reconnects.labels(self.name).inc()
            if outcome.end is SessionEnd.REOPEN:
                continue
            self._set_state(ChannelState.RECONNECTING, outcome.reason)
            self._wait_backoff(stop)
        self._set_state(ChannelState.STOPPED, "stopped by request")

    def _wait_backoff(self, stop: threading.Event) -> None:
        delay = self.backoff.delay(self._attempt, self._rng)
        self._attempt += 1
        stop.wait(delay)
