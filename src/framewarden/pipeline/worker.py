"""The channel worker: one live channel, from its source to recorded verdicts.

Two threads per channel.  The *decode* thread pulls sampled frames from the
source into a tiny queue that keeps the newest frame: when inference falls
behind, the oldest waiting frame is dropped (and counted), because for a live
stream a late verdict is worth less than a fresh one.  The *session* thread
(the supervisor's) takes frames from the queue and runs them through dedup,
the shared inference batcher, the rules evaluator and the actions.

A worker runs one *session* at a time (open the source, read until it ends,
fails, is stopped, or an auto-stop fires); reconnecting and restarting are
the supervisor's job (:mod:`framewarden.pipeline.supervisor`).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from framewarden.actions.controllers import ControllerError, NullController, StreamController
from framewarden.errors import InputError
from framewarden.events import Event
from framewarden.media.frame import Frame
from framewarden.media.live_options import redact_url
from framewarden.pipeline.batcher import BatcherClosedError
from framewarden.pipeline.context import FrameRecord, WorkerContext
from framewarden.pipeline.dedup import Deduplicator
from framewarden.result import ModerationResult
from framewarden.rules.evaluate import ChannelRuleState, evaluate
from framewarden.rules.models import Rule

log = logging.getLogger(__name__)

_LATENCY_SAMPLES = 1000
_POLL_S = 0.2  # how often a waiting thread looks at its stop flag
_DECODER_JOIN_S = 1.0  # how long a session end waits for its decode thread
_WATCH_S = 0.1  # how often the stall watchdog looks at the source


class ChannelState(StrEnum):
    STARTING = "starting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """What a worker moderates: a named source under a rule."""

    name: str
    source: str
    rule: Rule
    rule_version: int = 0
    trusted: bool = False  # reputation tier: uses the rule's trusted_sample_interval_s
    controller: StreamController = field(default_factory=NullController)
    queue_size: int = 2  # frames waiting for inference; the oldest is dropped beyond it

    @property
    def sample_interval_s(self) -> float:
        trusted = self.rule.trusted_sample_interval_s
        return trusted if self.trusted and trusted is not None else self.rule.sample_interval_s


class ChannelStats:
    """Counters of one channel across sessions; read from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decoded = 0
        self.sampled = 0
        self.deduped = 0
        self.analyzed = 0
        self.dropped = 0
        self.alerts = 0
        self.sessions = 0
        self.keyframes_only = False
        self.last_frame_at: float | None = None  # wall clock of the last frame's arrival
        self.latency_ms: collections.deque[float] = collections.deque(maxlen=_LATENCY_SAMPLES)

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            latencies = sorted(self.latency_ms)
            return {
                "decoded": self.decoded,
                "sampled": self.sampled,
                "deduped": self.deduped,
                "analyzed": self.analyzed,
                "dropped": self.dropped,
                "alerts": self.alerts,
                "sessions": self.sessions,
                "keyframes_only": self.keyframes_only,
                "last_frame_at": self.last_frame_at,
                "latency_p50_ms": percentile(latencies, 50),
                "latency_p99_ms": percentile(latencies, 99),
            }


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[rank]


class QueueClosed(Exception):
    """The decode side has finished and the queue is empty."""


class LatestQueue:
    """A bounded queue that keeps the newest items: ``put`` on a full queue drops the oldest."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"queue size must be >= 1, got {maxsize}")
        self._items: collections.deque[Any] = collections.deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: Any) -> bool:
        """Add ``item``; True when an older item had to be dropped for it."""
        with self._cond:
            dropped = len(self._items) >= self._maxsize
            if dropped:
                self._items.popleft()
            self._items.append(item)
            self._cond.notify()
            return dropped

    def get(self, timeout: float) -> Any | None:
        """The oldest item; None on timeout; raises :class:`QueueClosed` once closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise QueueClosed
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class SessionEnd(StrEnum):
    STOP_REQUESTED = "stop_requested"  # graceful stop: the supervisor ends
    AUTO_STOPPED = "auto_stopped"  # a rule stopped the stream: the supervisor ends
    SOURCE_LOST = "source_lost"  # open failed, stream ended or broke: reconnect with backoff
    REOPEN = "reopen"  # a new rule needs another sampling interval: reopen at once
    WAITING = "waiting"  # a listening source heard no publisher yet: listen again at once


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    end: SessionEnd
    reason: str = ""


class ChannelWorker:
    """Moderates one channel; :meth:`run_session` is called by the supervisor's thread."""

    def __init__(
        self,
        spec: ChannelSpec,
        context: WorkerContext,
        *,
        on_live: Callable[[], None] = lambda: None,
        on_lost: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.spec = spec
        self.context = context
        self.stats = ChannelStats()
        self.on_live = on_live
        self.on_lost = on_lost  # the source stalled: told at once, while waiting frames are still judged
        self._rule_state = ChannelRuleState(rule_id=spec.rule.id)
        self._dedup = self._make_dedup(spec.rule)
        self._pending: tuple[Rule, int] | None = None
        self._lock = threading.Lock()
        self._queue: LatestQueue | None = None
        self._stall: Any = None  # the current session's stall detector (None: the source has none)
        self._announced = False  # "live" told for the current session
        self._lost_told = False  # "reconnecting" told for the current session (no "live" after it)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def target_rule(self) -> tuple[Rule, int]:
        """The rule (and version) the channel runs, or will run from its next frame."""
        with self._lock:
            return self._pending or (self.spec.rule, self.spec.rule_version)

    @property
    def rule_state(self) -> ChannelRuleState:
        return self._rule_state

    @property
    def queue_depth(self) -> int:
        queue = self._queue
        return len(queue) if queue is not None else 0

    # --- rule changes (any thread) ---------------------------------------------
    def update_rule(self, rule: Rule, version: int = 0) -> None:
        """Swap the rule before the next frame; the channel's dedup and K-of-N state restart."""
        with self._lock:
            self._pending = (rule, version)

    def _apply_pending_rule(self) -> bool:
        """Apply a pending rule; True when it needs the source reopened (other sampling)."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return False
        old_interval = self.spec.sample_interval_s
        self.spec = replace(self.spec, rule=pending[0], rule_version=pending[1])
        self._dedup = self._make_dedup(pending[0])
        self._rule_state = ChannelRuleState(rule_id=pending[0].id)
        log.info("channel %s: rule %s v%d applied, state cleared", self.name, pending[0].id, pending[1])
        return self.spec.sample_interval_s != old_interval

    @staticmethod
    def _make_dedup(rule: Rule) -> Deduplicator:
        sim = rule.similarity
        return Deduplicator(enabled=sim.enabled, max_distance=sim.max_distance, max_gap_s=sim.max_gap_s)

    # --- one session ---------------------------------------------------------------
    def run_session(self, stop: threading.Event) -> SessionOutcome:
        """Open the source and moderate it until it ends, fails, stops or auto-stops."""
        self._apply_pending_rule()
        self._dedup.reset()  # a new session's media time does not follow the old one's
        interval = self.spec.sample_interval_s
        try:
            source = self.context.open_source(self.spec.source, timeout_s=self.context.open_timeout_s)
        except InputError as exc:  # a listener's empty wait is no failure: no backoff, port kept open
            end = SessionEnd.WAITING if getattr(exc, "retry_at_once", False) else SessionEnd.SOURCE_LOST
            return SessionOutcome(end, str(exc))
        with self.stats.lock:
            self.stats.sessions += 1
        queue = LatestQueue(self.spec.queue_size)
        self._queue = queue
        self._stall, self._announced, self._lost_told = getattr(source, "stall", None), False, False
        decode_stop = threading.Event()
        failure: list[str] = []
        decoder = threading.Thread(
            target=self._decode,
            args=(source, interval, queue, decode_stop, failure),
            name=f"fw-decode-{self.name}",
            daemon=True,
        )
        decoder.start()
        lost = threading.Event()
        stall = self._stall
        if stall is not None:
            watchdog = threading.Thread(
                target=self._watch,
                args=(source, stall, decode_stop, lost, failure),
                name=f"fw-watch-{self.name}",
                daemon=True,
            )
            watchdog.start()
        try:
            return self._consume(queue, stop, failure, lost if stall is not None else None)
        finally:
            decode_stop.set()
            # A read blocked on a stalled stream ends at the source's own timeout; the
            # decoder closes its source then, so nobody needs to wait for it here.
            decoder.join(_DECODER_JOIN_S)
            if decoder.is_alive():
                log.info("channel %s: decoder still in a read; it closes its source on its own", self.name)
            self._queue = None
            self.context.metrics.queue_depth.labels(self.name).set(0)

    def _decode(
        self,
        source: Any,
        interval: float,
        queue: LatestQueue,
        stop: threading.Event,
        failure: list[str],
    ) -> None:
        """The decode thread: frames into the newest-keeping queue, counters as they go."""
        metrics, name = self.context.metrics, self.name
        seen_decoded = 0
        try:
            frames = source.frames(channel=name, sample_interval_s=interval, max_side=self.context.max_side)
            for frame in frames:
                arrived = frame.captured_at or time.time()
                dropped = queue.put((frame, arrived))
                decoded = int(getattr(source.stats, "decoded", 0))
                with self.stats.lock:
                    self.stats.decoded += decoded - seen_decoded
                    self.stats.sampled += 1
                    self.stats.dropped += int(dropped)
                    self.stats.last_frame_at = arrived
                    self.stats.keyframes_only = bool(getattr(source.stats, "keyframes_only", False))
                metrics.count(name, "decoded", decoded - seen_decoded)
                metrics.count(name, "sampled")
                metrics.count(name, "dropped", int(dropped))
                metrics.queue_depth.labels(name).set(len(queue))
                seen_decoded = decoded
                if stop.is_set():
                    break
        except InputError as exc:
            failure.append(str(exc))
        except Exception as exc:  # PyAV raises its own errors for broken streams
            failure.append(f"{self.spec.source}: {type(exc).__name__}: {exc}")
        finally:
            if not stop.is_set():  # the source ended or failed by itself: say so before the queue drains
                reason = failure[0] if failure else f"{redact_url(self.spec.source)}: stream ended"
                self._tell_lost(reason, only_if_live=True)
            queue.close()
            try:
                source.close()
            except Exception:
                log.exception("channel %s: closing the source failed", name)

    def _announce_live(self) -> None:
        """Once per session, from whichever thread sees it first; never after the loss was told."""
        with self._lock:
            if self._announced or self._lost_told:
                return
            self._announced = True
        self.on_live()

    def _tell_lost(self, reason: str, *, only_if_live: bool = False) -> None:
        """The source is gone: say so now (the session ends once the frames received are judged)."""
        with self._lock:
            if self._lost_told or (only_if_live and not self._announced):
                return  # not live yet: the session's end says it, after its frames, in order
            self._lost_told = True
        self.on_lost(reason)

    def _watch(
        self, source: Any, stall: Any, done: threading.Event, lost: threading.Event, failure: list[str]
    ) -> None:
        """The stall watchdog of a live source (media/stall.py), beside the busy session thread.

        It notices a dropped publisher long before a read times out and says so at once
        (``on_lost``), even while inference is still busy with the frames already received.
        It also announces the channel live only once data arrives over time, so a stale
        replay (an HLS playlist whose publisher is gone) never looks live.
        """
        while not done.wait(_WATCH_S):
            now = time.time()
            if stall.advancing and source.stats.decoded:
                self._announce_live()
            gone = stall.stalled_for(now)
            if gone is not None:
                reason = f"{redact_url(self.spec.source)}: stalled (no data for {gone:.1f} s)"
                failure.insert(0, reason)
                lost.set()
                self._tell_lost(reason)
                getattr(source, "abort", lambda: None)()  # a relay is killed; PyAV reads time out
                return

    def _consume(
        self,
        queue: LatestQueue,
        stop: threading.Event,
        failure: list[str],
        lost: threading.Event | None = None,
    ) -> SessionOutcome:
        """Judge frames until the source ends; ``lost`` (set by the watchdog) ends it once drained."""
        stall = self._stall
        while True:
            if stop.is_set():
                self._drain(queue)
                return SessionOutcome(SessionEnd.STOP_REQUESTED, "stopped by request")
            if self._apply_pending_rule():
                return SessionOutcome(SessionEnd.REOPEN, "rule changed the sampling interval")
            if lost is not None and lost.is_set():  # stalled: judge what was received, then reconnect
                self._drain(queue)
                return SessionOutcome(SessionEnd.SOURCE_LOST, failure[0])
            try:
                item = queue.get(_POLL_S)
            except QueueClosed:
                reason = failure[0] if failure else f"{redact_url(self.spec.source)}: stream ended"
                return SessionOutcome(SessionEnd.SOURCE_LOST, reason)
            if item is None:
                continue
            if stall is None or stall.advancing:  # the watchdog may not have had its turn yet
                self._announce_live()
            outcome = self.process(*item)
            if outcome is not None:
                return outcome

    def _drain(self, queue: LatestQueue) -> None:
        """Graceful stop: frames already waiting are still judged (at most ``queue_size``).

        Only those: the decoder keeps adding frames until the session ends, and when
        inference takes longer than a sample interval (a busy machine) a drain that
        waited for an empty queue would never end.
        """
        for _ in range(len(queue)):
            try:
                item = queue.get(0)
            except QueueClosed:
                return
            if item is None:
                return
            try:
                self.process(*item)
            except BatcherClosedError:  # shutting down past the drain timeout: nothing left to judge with
                left = len(queue) + 1
                log.info("channel %s: inference already closed; %d frame(s) not judged", self.name, left)
                return

    # --- one frame -------------------------------------------------------------------
    def process(self, frame: Frame, arrived: float) -> SessionOutcome | None:
        """Dedup -> inference -> rules -> actions -> record.  Returns an outcome on auto-stop."""
        ctx, name, spec = self.context, self.name, self.spec
        if not self._dedup.should_analyze(frame):
            with self.stats.lock:
                self.stats.deduped += 1
            ctx.metrics.count(name, "deduped")
            return None
        submitted = time.perf_counter()
        result = self._infer(ctx.batcher.submit(frame))
        ctx.metrics.inference.labels(name).observe(time.perf_counter() - submitted)
        labels = {lab.name: float(lab.confidence) for lab in result.labels}
        verdict, self._rule_state = evaluate(
            spec.rule,
            labels,
            self._rule_state,
            channel=name,
            frame_seq=frame.seq,
            pts_ms=frame.pts_ms,
            rule_version=spec.rule_version,
        )
        record = FrameRecord(
            channel=name,
            seq=frame.seq,
            pts_ms=frame.pts_ms,
            captured_at=arrived,
            decided_at=time.time(),
            labels=labels,
            verdict=verdict,
            model_versions=result.model_versions,
            frame_number=int(frame.meta.get("frame_number", -1)),  # type: ignore[call-overload]
        )
        with self.stats.lock:
            self.stats.analyzed += 1
            self.stats.latency_ms.append(record.latency_ms)
            self.stats.alerts += int(verdict.flagged)
        ctx.metrics.count(name, "analyzed")
        ctx.metrics.latency.labels(name).observe(record.latency_ms / 1000.0)
        key = _guarded(name, "evidence", ctx.evidence.keep, frame, record) or ""
        if key:
            record = replace(record, evidence_key=key)
        _guarded(name, "results", ctx.results.record, record)
        ctx.events.publish(Event("result", record.to_dict(), channel=name))
        outcome: SessionOutcome | None = None
        stopped: bool | None = None
        if verdict.stops_stream:
            # Stop first, so the alert records what really happened to the stream.
            outcome, stopped = self._auto_stop(verdict)
        if verdict.flagged:
            peak = verdict.peak
            ctx.metrics.alerts.labels(name, peak.action.value if peak else "alert").inc()
            _guarded(name, "alerts", ctx.alerts.raise_alert, verdict, record, stopped)
            _guarded(name, "notifier", ctx.notifier.notify, verdict, record)
        return outcome

    def _infer(self, future: Future[ModerationResult]) -> ModerationResult:
        try:
            return future.result(timeout=self.context.inference_timeout_s)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(
                f"channel {self.name}: no inference result after {self.context.inference_timeout_s:g} s"
            ) from None

    def _auto_stop(self, verdict: Any) -> tuple[SessionOutcome, bool]:
        """Stop the stream at the server; (the outcome, whether the controller succeeded)."""
        peak = verdict.peak
        what = f"{peak.label} {peak.confidence:.0f}%" if peak else "violation"
        reason = f"auto-stop by rule {verdict.rule_id}: {what}"
        try:
            self.spec.controller.stop(self.name)
        except ControllerError as exc:
            log.error("%s", exc)
            return SessionOutcome(
                SessionEnd.AUTO_STOPPED, f"{reason}; stream controller failed: {exc.reason}"
            ), False
        # A controller that cannot reach the streaming server (the null one) stops only our analysis.
        return SessionOutcome(SessionEnd.AUTO_STOPPED, reason), bool(
            getattr(self.spec.controller, "can_stop", True)
        )


def _guarded(channel: str, what: str, call: Callable[..., Any], *args: Any) -> Any:
    """Run one action; a broken sink is logged and never stops the channel."""
    try:
        return call(*args)
    except Exception:
        log.exception("channel %s: %s failed", channel, what)
        return None
