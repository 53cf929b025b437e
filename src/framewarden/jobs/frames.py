"""A video job's frames as a stream of chunks: decode, sample, dedup, analyze, label.

This is the part of a job that needs no store, so it runs wherever the job's engine puts
it: in the API process (:class:`~framewarden.jobs.runner.JobRunner`, through the shared
batcher) or in a Ray task (:mod:`framewarden.engines.ray_jobs`, through the inference
actors).  Either way it only *yields* chunks; the API process writes them, so the store
keeps one writer and the same rows whichever engine ran the job.

Resuming.  Frames at or before ``resume_after`` (the media time of the job's last stored
frame) are decoded, to rebuild the dedup state that decides what comes next, but never
analyzed or yielded again: a job run again after a crash (of the server, of a Ray worker)
adds exactly the frames that were missing.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from framewarden.config import Settings
from framewarden.jobs.spec import JobSpec
from framewarden.media.frame import Frame
from framewarden.media.s3 import parse_s3_url, s3_url
from framewarden.pipeline.dedup import Deduplicator
from framewarden.result import ModerationResult
from framewarden.store.jobs import FrameRecord

FLUSH_FRAMES = 16
FLUSH_S = 0.5
MAX_IN_FLIGHT = 16

Submit = Callable[[Frame], "Future[ModerationResult]"]


class JobCancelled(Exception):
    """The job was cancelled while it ran."""


@dataclass(frozen=True, slots=True)
class JobOpened:
    """The video is open: what the job's summary learns before the first frame."""

    metadata: dict[str, Any]
    merge_gap_ms: float


@dataclass(frozen=True, slots=True)
class JobChunk:
    """Frames to store together with the job's progress, in media-time order.

    ``cover_until`` extends the job's already stored last frame over near-duplicates that
    followed it; it is applied before ``records`` are added.
    """

    records: tuple[FrameRecord, ...]
    cover_until: float | None
    progress: dict[str, Any]


JobItem = JobOpened | JobChunk


@dataclass(slots=True)
class _Pending:
    seq: int
    pts_ms: float
    future: Future[ModerationResult] | None  # None: a near-duplicate


def job_url(spec: JobSpec) -> str:
    """The source to open: a pinned S3 version is read as that version, not the latest."""
    if spec.version and spec.source.startswith("s3://"):
        loc = parse_s3_url(spec.source)
        return s3_url(loc.bucket, loc.key, spec.version)
    return spec.source


def job_labels(spec: JobSpec, moderation: ModerationResult) -> tuple[dict[str, Any], ...]:
    """The job's view of a frame: its analyzers only, at its minimum confidence."""
    wanted = set(spec.analyzers) if spec.analyzers else None
    detections = [d for d in moderation.detections if wanted is None or d.analyzer in wanted]
    view = ModerationResult(
        moderation.source,
        moderation.width,
        moderation.height,
        detections,
        moderation.model_versions,
        min_confidence=spec.min_confidence,
    )
    return tuple(lab.to_rekognition() for lab in view.labels)


def job_items(
    spec: JobSpec,
    settings: Settings,
    *,
    channel: str,
    submit: Submit,
    resume_after: float | None = None,
    max_side: int = 0,
    cancelled: threading.Event | None = None,
    opener: Callable[..., Any] | None = None,
) -> Iterator[JobItem]:
    """Yield the job's :class:`JobOpened`, then chunks of at most ``FLUSH_FRAMES`` frames
    (or ``FLUSH_S`` of work), the last one with the job's final progress.

    Raises :class:`JobCancelled` when ``cancelled`` is set, an InputError for bad media, or
    what decoding raised.
    """
    opener = opener or _open_video
    started = time.perf_counter()
    analyzed = skipped = sampled = 0
    with opener(job_url(spec), timeout_s=settings.s3_timeout_s, settings=settings) as video:
        meta = video.metadata
        duration = float(meta.duration_ms or 0)
        step_s = spec.sample_interval_s or (1.0 / meta.frame_rate if meta.frame_rate else 0.04)
        yield JobOpened(meta.to_rekognition(), 2.0 * step_s * 1000.0 + 1.0)
        dedup = Deduplicator(spec.dedup, 8, 10.0)
        pending: collections.deque[_Pending] = collections.deque()
        batch: list[FrameRecord] = []
        cover_until: float | None = None
        last_flush = time.monotonic()

        def chunk(pts_ms: float) -> JobChunk:
            nonlocal batch, cover_until, last_flush
            fps = analyzed / max(1e-6, time.perf_counter() - started)
            progress = {
                "Progress": round(min(100.0, 100.0 * pts_ms / duration), 1) if duration > 0 else 0.0,
                "ProgressMillis": pts_ms,
                "FramesSampled": sampled,
                "FramesAnalyzed": analyzed,
                "FramesSkippedAsDuplicates": skipped,
                "FramesPerSecond": round(fps, 2),
            }
            out = JobChunk(tuple(batch), cover_until, progress)
            batch, cover_until, last_flush = [], None, time.monotonic()
            return out

        def settle(item: _Pending) -> None:
            nonlocal analyzed, cover_until
            if item.future is None:
                if batch:
                    last = batch[-1]
                    batch[-1] = FrameRecord(
                        last.seq, last.pts_ms, last.labels, max(last.covered_until_ms, item.pts_ms)
                    )
                else:  # the frame it duplicates is already stored
                    cover_until = max(cover_until or 0.0, item.pts_ms)
                return
            moderation = item.future.result()
            analyzed += 1
            batch.append(FrameRecord(item.seq, item.pts_ms, job_labels(spec, moderation), item.pts_ms))

        frames = video.frames(channel=channel, sample_interval_s=spec.sample_interval_s, max_side=max_side)
        for frame in frames:
            if cancelled is not None and cancelled.is_set():
                raise JobCancelled(channel)
            seq = sampled
            sampled += 1
            fresh = dedup.should_analyze(frame)
            if resume_after is not None and frame.pts_ms <= resume_after:
                continue  # done before the restart; only the dedup state was needed
            if fresh:
                pending.append(_Pending(seq, frame.pts_ms, submit(frame)))
            else:
                skipped += 1
                pending.append(_Pending(seq, frame.pts_ms, None))
            while pending and (
                pending[0].future is None or pending[0].future.done() or len(pending) > MAX_IN_FLIGHT
            ):
                settle(pending.popleft())
            if len(batch) >= FLUSH_FRAMES or time.monotonic() - last_flush > FLUSH_S:
                yield chunk(frame.pts_ms)
        while pending:
            settle(pending.popleft())
        yield chunk(duration)


def _open_video(source: str, **kw: Any) -> Any:
    from framewarden.media.source import open_video

    return open_video(source, **kw)
