"""Run one video job: decode, sample, dedup, analyze through the shared batcher, persist.

Durability.  Analyzed frames are written to the store in small groups, in
media-time order, in the same transaction as the job's progress.  A job
killed at any point (kill -9 included) is run again from the start of the
video, but frames at or before the last persisted one are only decoded (to
rebuild the dedup state, which decides what comes next), never analyzed or
stored again: nothing is lost, nothing is counted twice, and the finished
job's results equal those of an uninterrupted run.

Priority.  Frames go through a :class:`BackgroundLane`, so a live channel's
frame never waits behind more than one batch of job frames.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from framewarden.config import Settings
from framewarden.jobs.spec import JobSpec
from framewarden.media.s3 import parse_s3_url, s3_url
from framewarden.pipeline.batcher import BackgroundLane
from framewarden.pipeline.dedup import Deduplicator
from framewarden.result import ModerationResult
from framewarden.store import jobs as jobs_repo
from framewarden.store.db import Database

log = logging.getLogger(__name__)

FLUSH_FRAMES = 16
FLUSH_S = 0.5
MAX_IN_FLIGHT = 16


class JobCancelled(Exception):
    """The job was cancelled while it ran."""


@dataclass(slots=True)
class _Pending:
    seq: int
    pts_ms: float
    future: Future[ModerationResult] | None  # None: a near-duplicate


@dataclass
class JobRunner:
    """Runs one job to its end; the caller decides what the end means (status, notify)."""

    db: Database
    lane: BackgroundLane
    settings: Settings
    job_id: str
    spec: JobSpec
    max_side: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[dict[str, Any]], None] = lambda _: None
    opener: Callable[..., Any] | None = None

    def run(self) -> None:
        """Raises :class:`JobCancelled`, an InputError for bad media, or what decoding raised."""
        opener = self.opener or _open_video
        with self.db.read() as session:
            resume_after = jobs_repo.last_frame_pts(session, job_id=self.job_id)
        started = time.perf_counter()
        analyzed = skipped = sampled = 0
        channel = f"job:{self.job_id}"
        with opener(self._url(), timeout_s=self.settings.s3_timeout_s, settings=self.settings) as video:
            meta = video.metadata
            duration = float(meta.duration_ms or 0)
            step_s = self.spec.sample_interval_s or (1.0 / meta.frame_rate if meta.frame_rate else 0.04)
            with self.db.begin() as session:
                jobs_repo.merge_summary(
                    session,
                    job_id=self.job_id,
                    patch={
                        "VideoMetadata": meta.to_rekognition(),
                        "MergeGapMs": 2.0 * step_s * 1000.0 + 1.0,
                        "ModelVersions": dict(getattr(self.lane.batcher.moderator, "model_versions", {})),
                    },
                )
            dedup = Deduplicator(self.spec.dedup, 8, 10.0)
            pending: collections.deque[_Pending] = collections.deque()
            batch: list[jobs_repo.FrameRecord] = []
            cover_until: float | None = None
            last_flush = time.monotonic()
            frames = video.frames(
                channel=channel, sample_interval_s=self.spec.sample_interval_s, max_side=self.max_side
            )

            def flush(pts_ms: float) -> None:
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
                with self.db.begin() as session:
                    if self._cancelled_in_store(session):
                        raise JobCancelled(self.job_id)
                    if cover_until is not None:  # before the new rows: it extends an earlier frame
                        jobs_repo.cover_last_frame(session, job_id=self.job_id, until_ms=cover_until)
                    jobs_repo.add_job_frames(session, job_id=self.job_id, channel=channel, frames=batch)
                    jobs_repo.merge_summary(session, job_id=self.job_id, patch=progress)
                batch, cover_until, last_flush = [], None, time.monotonic()
                self.on_progress(progress)

            def settle(item: _Pending) -> None:
                nonlocal analyzed, cover_until
                if item.future is None:
                    if batch:
                        last = batch[-1]
                        batch[-1] = jobs_repo.FrameRecord(
                            last.seq, last.pts_ms, last.labels, max(last.covered_until_ms, item.pts_ms)
                        )
                    else:  # the frame it duplicates is already stored
                        cover_until = max(cover_until or 0.0, item.pts_ms)
                    return
                moderation = item.future.result()
                analyzed += 1
                batch.append(
                    jobs_repo.FrameRecord(item.seq, item.pts_ms, self._labels(moderation), item.pts_ms)
                )

            for frame in frames:
                if self.cancelled.is_set():
                    raise JobCancelled(self.job_id)
                seq = sampled
                sampled += 1
                fresh = dedup.should_analyze(frame)
                if resume_after is not None and frame.pts_ms <= resume_after:
                    continue  # done before the restart; only the dedup state was needed
                if fresh:
                    pending.append(_Pending(seq, frame.pts_ms, self.lane.submit(frame)))
                else:
                    skipped += 1
                    pending.append(_Pending(seq, frame.pts_ms, None))
                while pending and (
                    pending[0].future is None or pending[0].future.done() or len(pending) > MAX_IN_FLIGHT
                ):
                    settle(pending.popleft())
                if len(batch) >= FLUSH_FRAMES or time.monotonic() - last_flush > FLUSH_S:
                    flush(frame.pts_ms)
            while pending:
                settle(pending.popleft())
            flush(duration)

    def _url(self) -> str:
        """The source to open: a pinned S3 version is read as that version, not the latest."""
        if self.spec.version and self.spec.source.startswith("s3://"):
            loc = parse_s3_url(self.spec.source)
            return s3_url(loc.bucket, loc.key, self.spec.version)
        return self.spec.source

    def _labels(self, moderation: ModerationResult) -> tuple[dict[str, Any], ...]:
        """The job's view of a frame: its analyzers only, at its minimum confidence."""
        wanted = set(self.spec.analyzers) if self.spec.analyzers else None
        detections = [d for d in moderation.detections if wanted is None or d.analyzer in wanted]
        view = ModerationResult(
            moderation.source,
            moderation.width,
            moderation.height,
            detections,
            moderation.model_versions,
            min_confidence=self.spec.min_confidence,
        )
        return tuple(lab.to_rekognition() for lab in view.labels)

    def _cancelled_in_store(self, session: Any) -> bool:
        job = jobs_repo.get_job(session, job_id=self.job_id)
        return job is None or job.status == "cancelled"


def _open_video(source: str, **kw: Any) -> Any:
    from framewarden.media.source import open_video

    return open_video(source, **kw)
