"""Batch moderation of stored videos: decode, sample, dedup, analyze, report.

Each video is decoded in a worker thread of its own (``workers`` videos at a
time); every worker submits the frames it keeps to one shared
:class:`~framewarden.pipeline.batcher.InferenceBatcher`, so decoding and
inference overlap and frames of several videos share a micro-batch.  Files
want completeness, not latency: a worker that has ``max_in_flight`` frames
waiting for inference blocks (stops decoding) until the oldest is done, which
bounds memory without ever dropping a frame.

A video's result is written (atomically) only when the video is finished, so
the output folder is the scan's progress record: see
:mod:`framewarden.jobs.state`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from framewarden.config import Settings
from framewarden.errors import InputError
from framewarden.jobs.evidence import EvidenceWriter
from framewarden.jobs.report import ReportRow
from framewarden.jobs.results import Aggregate, AnalyzedFrame, Counters, JobStatus, VideoResult
from framewarden.jobs.state import ScanState
from framewarden.media.frame import Frame
from framewarden.pipeline.batcher import FrameModerator, InferenceBatcher
from framewarden.pipeline.dedup import Deduplicator
from framewarden.result import ModerationResult

log = logging.getLogger(__name__)

Opener = Callable[..., Any]  # framewarden.media.source.open_video's signature


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan; one object instead of a dozen arguments."""

    sample_interval_s: float = 0.0
    aggregate: Aggregate = Aggregate.TIMESTAMPS
    workers: int = 1
    timeout_s: float = 10.0
    max_side: int = 0  # longest side of decoded frames; 0 = full size
    dedup: bool = True
    dedup_max_distance: int = 8
    dedup_max_gap_s: float = 10.0
    max_batch: int = 8
    max_wait_ms: float = 2.0
    max_in_flight: int = 32  # per video: frames submitted and not yet analyzed
    evidence_flagged: bool = False
    evidence_clean: bool = False
    resume: bool = False
    transcribe: bool = False  # add the transcript and spoken-text labels; subtitles beside the result

    def __post_init__(self) -> None:
        if self.sample_interval_s < 0:
            raise ValueError(f"sample interval must be >= 0, got {self.sample_interval_s}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {self.max_in_flight}")


class ScanListener(Protocol):
    """Progress of a scan (the CLI draws bars from it); called from worker threads."""

    def on_start(self, source: str, metadata: Any) -> None: ...

    def on_progress(self, source: str, counters: Counters, pts_ms: float) -> None: ...

    def on_finish(self, source: str, body: dict[str, Any], resumed: bool) -> None: ...


class NullListener:
    """Listens to nothing (the default)."""

    def on_start(self, source: str, metadata: Any) -> None:
        pass

    def on_progress(self, source: str, counters: Counters, pts_ms: float) -> None:
        pass

    def on_finish(self, source: str, body: dict[str, Any], resumed: bool) -> None:
        pass


INTERRUPTED = "INTERRUPTED"  # report status of an input a stopped scan did not finish (not saved)


class ScanInterrupted(Exception):
    """Raised in a worker when the scan is asked to stop (Ctrl-C)."""


@dataclass(slots=True)
class ScanOutcome:
    source: str
    body: dict[str, Any]
    result_file: Path
    resumed: bool = False  # taken from an earlier run, not scanned now

    @classmethod
    def interrupted(cls, source: str, path: Path) -> ScanOutcome:
        message = f"{source}: scan stopped before this input finished; --resume scans it again"
        return cls(source, {"Source": source, "JobStatus": INTERRUPTED, "StatusMessage": message}, path)

    @property
    def succeeded(self) -> bool:
        return self.body.get("JobStatus") == JobStatus.SUCCEEDED.value

    def report_row(self) -> ReportRow:
        return ReportRow.from_result(self.body, self.result_file.name)


@dataclass(slots=True)
class _Pending:
    pts_ms: float
    frame: Frame | None = None  # None: skipped as a duplicate
    future: Future[ModerationResult] | None = None


def _default_opener() -> Opener:
    from framewarden.media.source import open_video

    return open_video


def analyzer_intervals_ms(analyzers: Sequence[Any]) -> dict[str, float]:
    """Analyzer name -> its analysis interval in ms, for analyzers that look once per interval."""
    return {
        str(a.name): float(getattr(a.config, "interval_s", 0) or 0) * 1000
        for a in analyzers
        if float(getattr(getattr(a, "config", None), "interval_s", 0) or 0) > 0
    }


@dataclass
class Scanner:
    """Scans inputs with one moderator; see the module doc."""

    moderator: FrameModerator
    options: ScanOptions
    state: ScanState
    settings: Settings | None = None
    listener: ScanListener = field(default_factory=NullListener)
    opener: Opener | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    min_confidence: float = 50.0

    intervals_ms: dict[str, float] | None = None  # None: read from the moderator's analyzers

    def __post_init__(self) -> None:
        # Analyzers that look once per interval (ocr_text): their labels' segments span the gaps.
        self._intervals_ms = (
            analyzer_intervals_ms(getattr(self.moderator, "analyzers", []))
            if self.intervals_ms is None
            else dict(self.intervals_ms)
        )
        self.stop_event = threading.Event()  # set: workers abandon their video at the next frame
        self.evidence = EvidenceWriter(
            self.state.out_dir / "evidence", self.options.evidence_flagged, self.options.evidence_clean
        )

    def run(self, sources: Sequence[str]) -> list[ScanOutcome]:
        """Scan every source; outcomes in the order of ``sources``."""
        self.state.prepare()
        opts = self.options
        batcher = InferenceBatcher(self.moderator, max_batch=opts.max_batch, max_wait_ms=opts.max_wait_ms)
        batcher.start()
        pool = ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="fw-scan")
        futures = [pool.submit(self._one, s, batcher) for s in sources]
        try:
            try:
                while wait(futures, timeout=0.5).not_done:  # short waits: Ctrl-C is seen at once
                    pass
            except KeyboardInterrupt:
                self.stop()
            pool.shutdown(wait=True, cancel_futures=self.stop_event.is_set())
            return [self._outcome(s, f) for s, f in zip(sources, futures, strict=True)]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            batcher.close(timeout=30)

    def stop(self) -> None:
        """Ask the scan to stop soon: videos in progress are abandoned (not saved), none start."""
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def _outcome(self, source: str, future: Future[ScanOutcome]) -> ScanOutcome:
        if future.cancelled() or isinstance(future.exception(), ScanInterrupted):
            return ScanOutcome.interrupted(source, self.state.result_path(source))
        return future.result()

    def _one(self, source: str, batcher: InferenceBatcher) -> ScanOutcome:
        if self.stop_event.is_set():
            raise ScanInterrupted(source)
        if self.options.resume:
            done = self.state.completed(source)
            if done is not None:
                self.listener.on_finish(source, done, True)
                return ScanOutcome(source, done, self.state.result_path(source), resumed=True)
        body = self.scan_video(source, batcher).to_dict()
        if self.options.transcribe and body["JobStatus"] == JobStatus.SUCCEEDED.value:
            self.transcribe(source, body)
        path = self.state.save(source, body)
        self.listener.on_finish(source, body, False)
        return ScanOutcome(source, body, path)

    def transcribe(self, source: str, body: dict[str, Any]) -> None:
        """Transcript + spoken labels into ``body``; subtitles first (the result marks completion)."""
        from framewarden.config import get_settings
        from framewarden.jobs.transcript import add_transcript, write_subtitles

        try:
            segments = add_transcript(body, source, self.settings or get_settings())
        except InputError as exc:
            body["Transcript"] = {"Error": str(exc)}
            return
        write_subtitles(self.state.result_path(source), segments)

    def scan_video(self, source: str, batcher: InferenceBatcher) -> VideoResult:
        """Scan one input; every failure becomes a FAILED result naming the input."""
        opts = self.options
        result = VideoResult(
            source=source,
            model_versions=dict(self.model_versions),
            sample_interval_s=opts.sample_interval_s,
            min_confidence=self.min_confidence,
            aggregate=opts.aggregate,
        )
        started = time.perf_counter()
        try:
            self._decode_and_analyze(source, batcher, result)
        except ScanInterrupted:
            raise
        except InputError as exc:
            result.status, result.status_message, result.error_kind = JobStatus.FAILED, str(exc), exc.kind
        except Exception as exc:
            log.debug("scan of %s failed", source, exc_info=True)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result.status = JobStatus.FAILED
            result.status_message = f"{source}: {message}"
            result.error_kind = type(exc).__name__
        result.wall_s = time.perf_counter() - started
        return result

    def _decode_and_analyze(self, source: str, batcher: InferenceBatcher, result: VideoResult) -> None:
        opts = self.options
        opener = self.opener or _default_opener()
        counters = result.counters
        with opener(source, timeout_s=opts.timeout_s, settings=self.settings) as video:
            meta = video.metadata
            result.metadata = meta.to_rekognition()
            step_s = opts.sample_interval_s or (1.0 / meta.frame_rate if meta.frame_rate else 0.04)
            result.merge_gap_ms = 2.0 * step_s * 1000.0 + 1.0
            self.listener.on_start(source, meta)
            dedup = Deduplicator(opts.dedup, opts.dedup_max_distance, opts.dedup_max_gap_s)
            pending: collections.deque[_Pending] = collections.deque()
            in_flight = 0
            last_progress = 0.0
            frames = video.frames(
                channel=source, sample_interval_s=opts.sample_interval_s, max_side=opts.max_side
            )
            for frame in frames:
                if self.stop_event.is_set():
                    raise ScanInterrupted(source)
                counters.sampled += 1
                if dedup.should_analyze(frame):
                    pending.append(_Pending(frame.pts_ms, frame, batcher.submit(frame)))
                    in_flight += 1
                else:
                    counters.skipped_duplicates += 1
                    pending.append(_Pending(frame.pts_ms))
                # Completeness over latency: wait for the oldest frames rather than drop any.
                while pending and (pending[0].future is None or in_flight > opts.max_in_flight):
                    in_flight -= self._settle(source, pending.popleft(), result)
                now = time.monotonic()
                if now - last_progress > 0.1:
                    last_progress = now
                    counters.decoded = int(video.stats.decoded)
                    self.listener.on_progress(source, counters, frame.pts_ms)
            while pending:
                self._settle(source, pending.popleft(), result)
            counters.decoded = int(video.stats.decoded)
            counters.keyframes_only = bool(video.stats.keyframes_only)
            self.listener.on_progress(source, counters, float(meta.duration_ms))

    def _settle(self, source: str, item: _Pending, result: VideoResult) -> int:
        """Record one pending frame in order; returns 1 if it was in flight."""
        if item.future is None:
            if result.frames:  # a duplicate stands for what its reference showed
                result.frames[-1] = result.frames[-1].covering(item.pts_ms)
            return 0
        moderation = item.future.result()  # a failed batch fails this video
        result.counters.analyzed += 1
        labels = tuple(moderation.labels)
        if self._intervals_ms:
            _note_spans(result.label_span_ms, moderation, self._intervals_ms)
        result.frames.append(AnalyzedFrame(item.pts_ms, labels, item.pts_ms))
        if self.evidence.enabled and item.frame is not None:
            self.evidence.save(source, item.frame, moderation)
        return 1


def _note_spans(
    spans: dict[str, float], moderation: ModerationResult, intervals_ms: dict[str, float]
) -> None:
    """Record, per label, the interval of the (interval-scheduled) analyzer that found it."""
    from framewarden import taxonomy

    for det in moderation.visible_detections():
        interval = intervals_ms.get(det.analyzer, 0.0)
        if interval and taxonomy.is_label(det.label):
            for name in (det.label, *taxonomy.ancestors(det.label)):
                spans[name] = max(spans.get(name, 0.0), interval)
