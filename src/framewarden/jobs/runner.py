"""Run one video job: its frames (in this process or on Ray) persisted in order.

Durability.  Analyzed frames are written to the store in small groups, in
media-time order, in the same transaction as the job's progress.  A job
killed at any point (kill -9 included) is run again from the start of the
video, but frames at or before the last persisted one are only decoded (to
rebuild the dedup state, which decides what comes next), never analyzed or
stored again: nothing is lost, nothing is counted twice, and the finished
job's results equal those of an uninterrupted run.

Engines.  :func:`~framewarden.jobs.frames.job_items` produces the chunks; by
default it runs here, through a :class:`BackgroundLane` (so a live channel's
frame never waits behind more than one batch of job frames).  With
``jobs_engine = "ray"`` an executor runs it on the cluster (in an inference actor or a
Ray task) and hands the chunks back (:mod:`framewarden.engines.ray_jobs`).  Either way this process is the
only writer of the job's rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from framewarden.config import Settings
from framewarden.jobs.frames import JobCancelled, JobChunk, JobItem, JobOpened, job_items
from framewarden.jobs.spec import JobSpec
from framewarden.pipeline.batcher import BackgroundLane
from framewarden.store import jobs as jobs_repo
from framewarden.store.db import Database

log = logging.getLogger(__name__)

__all__ = ["JobCancelled", "JobExecutor", "JobRunner"]

# Runs a job's frames elsewhere (a Ray task); gets the runner for the job's spec, its
# cancel event and ``resume_point()`` (read again after a lost worker).
JobExecutor = Callable[["JobRunner"], Iterator[JobItem]]


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
    executor: JobExecutor | None = None  # None: the frames are produced in this process

    @property
    def channel(self) -> str:
        return f"job:{self.job_id}"

    def resume_point(self) -> float | None:
        """Media time of the job's last stored frame (None: nothing stored yet)."""
        with self.db.read() as session:
            return jobs_repo.last_frame_pts(session, job_id=self.job_id)

    def run(self) -> None:
        """Raises :class:`JobCancelled`, an InputError for bad media, or what decoding raised."""
        items = self.executor(self) if self.executor is not None else self._local_items()
        try:
            for item in items:
                if isinstance(item, JobOpened):
                    self._opened(item)
                else:
                    self._store(item)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a remote producer stops at once (cancel, failure)

    def _local_items(self) -> Iterator[JobItem]:
        return job_items(
            self.spec,
            self.settings,
            channel=self.channel,
            submit=self.lane.submit,
            resume_after=self.resume_point(),
            max_side=self.max_side,
            cancelled=self.cancelled,
            opener=self.opener,
        )

    def _opened(self, item: JobOpened) -> None:
        with self.db.begin() as session:
            jobs_repo.merge_summary(
                session,
                job_id=self.job_id,
                patch={
                    "VideoMetadata": item.metadata,
                    "MergeGapMs": item.merge_gap_ms,
                    "ModelVersions": dict(getattr(self.lane.batcher.moderator, "model_versions", {})),
                },
            )

    def _store(self, item: JobChunk) -> None:
        with self.db.begin() as session:
            if self._cancelled_in_store(session):
                raise JobCancelled(self.job_id)
            if item.cover_until is not None:  # before the new rows: it extends an earlier frame
                jobs_repo.cover_last_frame(session, job_id=self.job_id, until_ms=item.cover_until)
            jobs_repo.add_job_frames(session, job_id=self.job_id, channel=self.channel, frames=item.records)
            jobs_repo.merge_summary(session, job_id=self.job_id, patch=item.progress)
        self.on_progress(item.progress)

    def _cancelled_in_store(self, session: Any) -> bool:
        job = jobs_repo.get_job(session, job_id=self.job_id)
        return job is None or job.status == "cancelled"
