"""The durable job queue of ``framewarden serve``.

Jobs live in the store (``jobs`` table, per-frame results in ``results``); this
service only runs them.  Submitting writes a ``queued`` row and wakes a
worker thread; a worker marks it ``running``, runs it with
:class:`~framewarden.jobs.runner.JobRunner` and writes its final status.  On
start-up every ``queued`` or ``running`` job of the store is queued again, so
a restart (or a kill -9) loses nothing: the runner resumes after the last
persisted frame.  Progress and completion are published as ``job`` events
(the WebSocket forwards them) and completion goes to the job's notification
targets, SNS-shaped when a Rekognition client asked for it.

A batch job (a CSV manifest, as S3 Batch Operations reads) is a parent row
whose children are ordinary video jobs created in the same transaction; the
parent finishes when its last child does, and its report is built from them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden.actions.notifiers import Dispatcher, Message
from framewarden.config import Settings
from framewarden.errors import FramewardenError, InputError
from framewarden.events import Event, EventBus
from framewarden.jobs.manifest import parse_manifest
from framewarden.jobs.runner import JobCancelled, JobExecutor, JobRunner
from framewarden.jobs.sns import completion_message
from framewarden.jobs.spec import JobSpec
from framewarden.pipeline.batcher import BackgroundLane, InferenceBatcher
from framewarden.store import jobs as jobs_repo
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError
from framewarden.store.models import Job

log = logging.getLogger(__name__)

_STOP = "\0stop"
JOB_NICE = 10


def job_view(job: Job) -> dict[str, Any]:
    """The public view of a job row (no secrets live in a job)."""
    summary = dict(job.summary or {})
    fps = float(summary.get("FramesPerSecond", 0.0) or 0.0)
    duration = float((summary.get("VideoMetadata") or {}).get("DurationMillis", 0) or 0)
    at = float(summary.get("ProgressMillis", 0.0) or 0.0)
    eta = None
    if job.status == "running" and fps > 0 and duration > 0:
        interval = float((job.inputs or {}).get("sample_interval_s", 0) or 0) or 0.04
        eta = round(max(0.0, (duration - at) / 1000.0 / interval / fps), 1)
    progress = 100.0 if job.status == "succeeded" else float(summary.get("Progress", 0.0) or 0.0)
    if job.kind == "batch" and job.total:
        progress = round(100.0 * (job.done + job.failed) / job.total, 1)
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "source": (job.inputs or {}).get("source"),
        "tag": (job.inputs or {}).get("tag", ""),
        "progress": progress,
        "frames_per_second": fps,
        "eta_s": eta,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "summary": summary,
    }


@dataclass
class JobService:
    db: Database
    batcher: InferenceBatcher
    settings: Settings
    bus: EventBus = field(default_factory=EventBus)
    dispatcher: Dispatcher | None = None
    server_analyzers: Sequence[str] = ()
    max_side: int = 0
    workers: int = 1
    lane_slots: int = 2
    live_share: float = 1.0  # the jobs' share of inference while live channels run
    live_active: Callable[[], bool] = lambda: False
    executor: JobExecutor | None = None  # None: settings.jobs_engine decides (local: this process)
    # Another API process of a Ray cluster runs the jobs (engines/ray_switchboard.Peer): this one
    # stores them and hands them over (docs/scale.md, several API processes).  None: it runs them.
    leader: Any = None
    _queue: queue.Queue[str] = field(default_factory=queue.Queue, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _running: dict[str, threading.Event] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        # Two job frames at most ahead of a live frame: live latency over job throughput.
        self.lane = BackgroundLane(
            self.batcher, max_in_flight=self.lane_slots, share=self.live_share, yield_to=self.live_active
        )

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> JobService:
        if self.leader is not None:  # the leader resumed the stored jobs and runs the new ones
            return self
        if self.executor is None and self.settings.jobs_engine == "ray":
            from framewarden.engines.ray_jobs import RayJobExecutor

            self.executor = RayJobExecutor(self.settings)  # joins the cluster on the first job
        with self.db.begin() as session:
            unfinished = [(j.id, j.kind) for j in jobs_repo.list_unfinished_jobs(session)]
        for job_id, kind in unfinished:
            if kind == "video":
                self._queue.put(job_id)
        if unfinished:
            log.info("resuming %d unfinished job(s)", len(unfinished))
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"fw-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def take_over(self) -> JobService:
        """This process now leads: run the jobs, the unfinished stored ones first."""
        self.leader = None
        return self.start()

    def enqueue(self, job_ids: Sequence[str]) -> None:
        """Run these stored jobs: here, or on the leader (a stored job is never lost: a leader
        that does not answer now resumes it when one takes over)."""
        if self.leader is None:
            for job_id in job_ids:
                self._queue.put(job_id)
            return
        try:
            self.leader.call("jobs", "enqueue", list(job_ids))
        except FramewardenError as exc:
            log.warning("job(s) %s stay queued for the next leader: %s", ", ".join(job_ids), exc)

    def stop_running(self, job_ids: Sequence[str]) -> None:
        """Stop these jobs where they run (their cancel request is already stored)."""
        if self.leader is not None:
            try:
                self.leader.call("jobs", "stop_running", list(job_ids))
            except FramewardenError as exc:  # the next leader reads the stored request
                log.warning("job(s) %s: stop not delivered: %s", ", ".join(job_ids), exc)
            return
        with self._lock:
            for jid in job_ids:
                if jid in self._running:
                    self._running[jid].set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers; running jobs stay ``running`` in the store and resume on restart."""
        self._stopping.set()
        with self._lock:
            for stop in self._running.values():
                stop.set()
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        close = getattr(self.executor, "close", None)
        if close is not None:
            close()

    # --- what the API asks for -------------------------------------------------------------
    def submit(self, spec: JobSpec, *, job_id: str | None = None) -> tuple[Job, bool]:
        """Queue a video job; returns (job, created).  An existing ``job_id`` is returned as is."""
        spec.check(self.settings, list(self.server_analyzers))
        with self.db.begin() as session:
            if job_id is not None:
                existing = jobs_repo.get_job(session, job_id=job_id)
                if existing is not None:
                    session.expunge(existing)
                    return existing, False
            job = jobs_repo.create_job(session, kind="video", inputs=spec.to_inputs(), job_id=job_id)
            session.flush()
            session.expunge(job)
        self._publish(job.id, "queued", {"source": spec.source})
        self.enqueue([job.id])
        return job, True

    def submit_batch(self, manifest: str, template: JobSpec) -> Job:
        """A batch job over every input of a CSV manifest, each run as a video job."""
        sources = parse_manifest(manifest, source="manifest")
        if not sources:
            raise InputError("manifest", "lists no inputs")
        specs = [
            template.model_copy(update={"source": s}).check(self.settings, list(self.server_analyzers))
            for s in sources
        ]
        batch_id = uuid.uuid4().hex
        with self.db.begin() as session:
            batch = jobs_repo.create_job(
                session,
                kind="batch",
                inputs={**template.to_inputs(), "source": "manifest", "inputs": sources},
                total=len(specs),
                job_id=batch_id,
            )
            jobs_repo.start_job(session, job_id=batch_id)
            for i, spec in enumerate(specs):
                spec = spec.model_copy(update={"parent": batch_id})
                jobs_repo.create_job(
                    session, kind="video", inputs=spec.to_inputs(), job_id=jobs_repo.child_job_id(batch_id, i)
                )
            session.flush()
            session.expunge(batch)
        self.enqueue([jobs_repo.child_job_id(batch_id, i) for i in range(len(specs))])
        self._publish(batch_id, "running", {"total": len(specs)})
        return batch

    def cancel(self, job_id: str) -> Job:
        with self.db.begin() as session:
            job = jobs_repo.request_cancel(session, job_id=job_id)
            children = (
                [c.id for c in jobs_repo.child_jobs(session, parent_id=job_id)] if job.kind == "batch" else []
            )
            for child in children:
                with contextlib.suppress(ConflictError):  # that child had already finished
                    jobs_repo.request_cancel(session, job_id=child)
            session.expunge(job)
        self.stop_running([job_id, *children])
        self._publish(job_id, "cancelled", {})
        return job

    # --- the workers ------------------------------------------------------------------------
    def _work(self) -> None:
        # Decoding a job's video must not take CPU from live channels: on Linux a thread has its
        # own nice value (FFmpeg's decoder threads inherit it), so the job worker yields first.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICE)
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self._run_one(job_id)
            except Exception:  # a bug in one job must not stop the queue
                log.exception("job %s crashed its worker", job_id)

    def _run_one(self, job_id: str) -> None:
        with self.db.begin() as session:
            job = jobs_repo.get_job(session, job_id=job_id)
            if job is None or job.status in jobs_repo.FINAL_STATUSES:
                return
            spec = JobSpec.model_validate(job.inputs)
            jobs_repo.start_job(session, job_id=job_id)
        stop = threading.Event()
        with self._lock:
            self._running[job_id] = stop
        self._publish(job_id, "running", {"source": spec.source})
        runner = JobRunner(
            self.db,
            self.lane,
            self.settings,
            job_id,
            spec,
            max_side=self.max_side,
            cancelled=stop,
            on_progress=lambda p: self._publish(job_id, "running", p),
            executor=self.executor,
        )
        status, error = "succeeded", None
        try:
            runner.run()
        except JobCancelled:
            if self._stopping.is_set():
                return  # shutting down: stays running, resumes after the restart
            status = "cancelled"
        except InputError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:
            log.warning("job %s failed", job_id, exc_info=True)
            status, error = (
                "failed",
                f"{spec.source}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            )
        finally:
            with self._lock:
                self._running.pop(job_id, None)
        if status == "cancelled":
            return  # the cancel request already wrote it
        self._finish(job_id, spec, status, error)

    def _finish(self, job_id: str, spec: JobSpec, status: str, error: str | None) -> None:
        parent_done = False
        with self.db.begin() as session:
            frames = jobs_repo.job_frames(session, job_id=job_id)
            try:
                jobs_repo.finish_job(
                    session,
                    job_id=job_id,
                    status=status,  # type: ignore[arg-type]
                    error=error,
                    summary={
                        **(jobs_repo.require_job(session, job_id=job_id).summary or {}),
                        "FramesAnalyzed": len(frames),
                        **({"Progress": 100.0} if status == "succeeded" else {}),
                    },
                )
            except ConflictError:  # cancelled meanwhile
                return
            if spec.parent:
                jobs_repo.add_progress(
                    session,
                    job_id=spec.parent,
                    done=int(status == "succeeded"),
                    failed=int(status != "succeeded"),
                )
                parent = jobs_repo.require_job(session, job_id=spec.parent)
                parent_done = parent.status == "running" and parent.done + parent.failed >= parent.total
                if parent_done:
                    jobs_repo.finish_job(
                        session,
                        job_id=spec.parent,
                        status="succeeded",
                        summary={"Succeeded": parent.done, "Failed": parent.failed},
                    )
        self._publish(job_id, status, {"error": error} if error else {})
        self._notify(job_id, spec, status)
        if spec.parent and parent_done:
            self._publish(spec.parent, "succeeded", {})
            self._notify(spec.parent, spec, "succeeded")

    def _notify(self, job_id: str, spec: JobSpec, status: str) -> None:
        if self.dispatcher is None:
            return
        if spec.sns_topic_arn:
            target = self.settings.rekognition_sns_topics.get(spec.sns_topic_arn)
            if target:
                rek_status = {"succeeded": "SUCCEEDED", "failed": "FAILED"}.get(status, status.upper())
                self.dispatcher.submit(
                    [target],
                    completion_message(
                        job_id=job_id,
                        status=rek_status,
                        source=spec.source,
                        tag=spec.tag,
                        topic_arn=spec.sns_topic_arn,
                    ),
                )
        if spec.notify:
            message = Message(
                kind="job",
                channel=f"job:{job_id}",
                alert_id=None,
                summary=f"job {job_id} {status}",
                payload={"job_id": job_id, "status": status, "source": spec.source, "tag": spec.tag},
            )
            self.dispatcher.submit(spec.notify, message)

    def _publish(self, job_id: str, status: str, extra: dict[str, Any]) -> None:
        self.bus.publish(Event("job", {"job_id": job_id, "status": status, **extra}, channel=f"job:{job_id}"))
