"""The services a channel worker uses, each behind a narrow protocol.

A worker records results, raises alerts, sends notifications and keeps
evidence, but it should not know about SQLAlchemy, SMTP or S3.  Each service
is a one-method protocol here with a do-nothing default, so a worker runs
(and is tested) with only a batcher, and ``serve`` plugs in the store-backed
implementations.  :class:`WorkerContext` bundles them; it is shared by every
channel of a :class:`~framewarden.pipeline.channels.ChannelManager`.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from framewarden.events import EventBus
from framewarden.media.frame import Frame
from framewarden.pipeline.metrics import PipelineMetrics, default_metrics
from framewarden.result import ModerationResult
from framewarden.rules.verdict import Verdict


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """What was decided about one analyzed frame of a channel (picklable)."""

    channel: str
    seq: int
    pts_ms: float
    captured_at: float  # wall clock when the frame's data arrived
    decided_at: float  # wall clock when the verdict was ready
    labels: Mapping[str, float]  # taxonomy labels with ancestors, 0-100
    verdict: Verdict
    model_versions: Mapping[str, str] = field(default_factory=dict)
    frame_number: int = -1  # index among decoded frames of the session (-1 = unknown)
    evidence_key: str = ""  # where the evidence sink kept the frame ("" = not kept)

    @property
    def latency_ms(self) -> float:
        """Frame arrival -> verdict, inside framewarden."""
        return max(0.0, (self.decided_at - self.captured_at) * 1000.0)

    @property
    def flagged(self) -> bool:
        return self.verdict.flagged

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "seq": self.seq,
            "pts_ms": self.pts_ms,
            "frame_number": self.frame_number,
            "captured_at": self.captured_at,
            "decided_at": self.decided_at,
            "latency_ms": round(self.latency_ms, 3),
            "labels": {k: round(v, 3) for k, v in self.labels.items()},
            "verdict": self.verdict.to_dict(),
            "model_versions": dict(self.model_versions),
            "evidence_key": self.evidence_key,
        }


class FrameSubmitter(Protocol):
    """What a worker needs of :class:`~framewarden.pipeline.batcher.InferenceBatcher`."""

    def submit(self, frame: Frame) -> Future[ModerationResult]: ...


class ResultSink(Protocol):
    """Stores one record per analyzed frame (the results table, a memory ring)."""

    def record(self, record: FrameRecord) -> None: ...


class AlertSink(Protocol):
    """Raises an alert for a flagged verdict (auto-stops included)."""

    def raise_alert(self, verdict: Verdict, record: FrameRecord, stopped: bool | None = None) -> None:
        """``stopped``: for an auto-stop verdict, whether the stream controller stopped the stream."""
        ...


class Notifier(Protocol):
    """Tells people about a flagged verdict (webhooks, e-mail)."""

    def notify(self, verdict: Verdict, record: FrameRecord) -> None: ...


class EvidenceSink(Protocol):
    """Keeps the frame of a record; returns its key ("" when not kept)."""

    def keep(self, frame: Frame, record: FrameRecord) -> str: ...


class NullResultSink:
    def record(self, record: FrameRecord) -> None:
        """Results are published as events only."""


class NullAlertSink:
    def raise_alert(self, verdict: Verdict, record: FrameRecord, stopped: bool | None = None) -> None:
        """No alert store: the "result" event still carries the verdict."""


class NullNotifier:
    def notify(self, verdict: Verdict, record: FrameRecord) -> None:
        """Nobody to tell."""


class NullEvidenceSink:
    def keep(self, frame: Frame, record: FrameRecord) -> str:
        return ""


class MemoryResultSink:
    """The most recent records, per channel, in memory (tests, a dashboard without a store)."""

    def __init__(self, per_channel: int = 1000) -> None:
        self._records: dict[str, collections.deque[FrameRecord]] = collections.defaultdict(
            lambda: collections.deque(maxlen=per_channel)
        )
        self._lock = threading.Lock()

    def record(self, record: FrameRecord) -> None:
        with self._lock:
            self._records[record.channel].append(record)

    def for_channel(self, channel: str) -> list[FrameRecord]:
        with self._lock:
            return list(self._records.get(channel, ()))

    def __iter__(self) -> Iterator[FrameRecord]:
        with self._lock:
            everything = [r for records in self._records.values() for r in records]
        return iter(sorted(everything, key=lambda r: r.decided_at))


SourceOpener = Callable[..., Any]  # open_video(source, *, live=..., timeout_s=...) -> VideoSource


def open_live_source(source: str, *, timeout_s: float = 10.0) -> Any:
    """The default opener: :func:`framewarden.media.source.open_video` in live mode."""
    from framewarden.media.source import open_video  # the media layer loads PyAV; import on use

    return open_video(source, live=True, timeout_s=timeout_s)


def preferred_max_side(analyzers: Sequence[object]) -> int:
    """The frame size the analyzers need: 0 (full size) unless every one names a limit."""
    sides = [int(getattr(a, "preferred_max_side", 0) or 0) for a in analyzers]
    return 0 if not sides or 0 in sides else max(sides)


@dataclass
class WorkerContext:
    """Everything a channel worker talks to; shared by all channels of a manager."""

    batcher: FrameSubmitter
    events: EventBus = field(default_factory=EventBus)
    results: ResultSink = field(default_factory=NullResultSink)
    alerts: AlertSink = field(default_factory=NullAlertSink)
    notifier: Notifier = field(default_factory=NullNotifier)
    evidence: EvidenceSink = field(default_factory=NullEvidenceSink)
    metrics: PipelineMetrics = field(default_factory=default_metrics)
    open_source: SourceOpener = open_live_source
    max_side: int = 0  # scale frames in the decoder so the longer side <= this (0 = full size)
    open_timeout_s: float = 10.0  # give up opening (or reading) a live source after this long
    inference_timeout_s: float = 60.0  # a frame whose result takes longer fails the session
