"""The server's video jobs on Ray (``jobs_engine = "ray"``).

A job's video is decoded, sampled and deduplicated on the cluster and its frames analyzed by
the inference actor pool that batch scans use (:mod:`framewarden.engines.ray_inference`):

- ``jobs_ray_mode = "actors"`` (the default): inside one of the inference actors, beside its
  models (``InferenceActor.job_items``), so no frame crosses Ray's object store: the design
  of the scans' ``nodes`` mode, which costs what the local engine costs per frame;
- ``"tasks"``: in a Ray task of its own that sends the frames to the actors, so decoding and
  inference scale apart (the scans' ``tasks`` mode), at more CPU per frame.

Either way the job's chunks *stream* back (a Ray generator), and the API process writes each
exactly as it writes a local job's (:class:`~framewarden.jobs.runner.JobRunner`), so it stays
the only writer of the store: same rows, same progress and events, same status,
notifications and SNS messages.

A lost worker or actor (its process killed, its node gone) fails the stream.  The executor
starts it again with the job's *stored* resume point, so the new stream decodes the frames
before it without analyzing them again and sends only what is missing: the same resume rule
as a restarted server, hence no lost and no duplicated rows.  (Ray's own retries are off: a
retried generator would send every chunk again.)
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_cluster import connect, lost_worker_errors
from framewarden.engines.ray_inference import (
    ActorPool,
    ActorsLostError,
    default_actor_count,
    release_actors,
    size_decoder_to_task,
    start_actors,
)
from framewarden.jobs.frames import JobCancelled, JobItem, job_items
from framewarden.jobs.runner import JobRunner
from framewarden.jobs.spec import JobSpec

log = logging.getLogger(__name__)

TASK_CPUS = 0.5
ACTOR_CPUS = 0.5
WAIT_S = 0.25  # how often a waiting job looks at its cancel flag


def job_task(
    inputs: dict[str, Any],
    settings: Settings,
    channel: str,
    resume_after: float | None,
    max_side: int,
    actors: list[Any],
) -> Iterator[JobItem]:
    """The body of a job's Ray task: :func:`job_items` against the actor pool."""
    size_decoder_to_task()
    pool = ActorPool(actors, 8, 5.0)
    try:
        yield from job_items(
            JobSpec.model_validate(inputs),
            settings,
            channel=channel,
            submit=pool.submit,
            resume_after=resume_after,
            max_side=max_side,
        )
    finally:
        pool.close()


class RayJobExecutor:
    """Runs each job's frames as a Ray task; a :data:`~framewarden.jobs.runner.JobExecutor`.

    Joins the cluster at ``ray_address`` (or starts a private one) and starts the inference
    actors on the first job, then keeps them for the service's life; actors lost with their
    node are replaced before the next task starts.
    """

    def __init__(
        self, settings: Settings, *, retries: int = 3, actors: int = 0, mode: str | None = None
    ) -> None:
        self.settings = settings
        self.retries = retries
        self.mode = mode or settings.jobs_ray_mode
        self._count = actors
        self._lock = threading.Lock()
        self._ray: Any = None
        self._actors: list[Any] = []
        self._busy: dict[Any, int] = {}  # actors mode: job streams running on each actor
        self._lost_errors: tuple[type[BaseException], ...] = ()

    def __call__(self, runner: JobRunner) -> Iterator[JobItem]:
        ray, actors = self._ensure()
        lost = 0
        while True:
            # The resume point is what the store holds now, after a lost worker too.
            stream, stop = self._start(ray, actors, runner, runner.resume_point())
            finished = False
            try:
                yield from self._drain(ray, stream, runner.cancelled)
                finished = True
                return
            except self._lost_errors as exc:
                lost += 1
                if lost > self.retries:
                    raise
                log.warning(
                    "job %s: its Ray worker was lost (%s); resuming from the last stored frame",
                    runner.job_id,
                    type(exc).__name__,
                )
                actors = self._ensure()[1]
            finally:
                stop(finished)

    def _start(
        self, ray: Any, actors: list[Any], runner: JobRunner, resume_after: float | None
    ) -> tuple[Any, Callable[[bool], None]]:
        """The job's stream of items, and how to end it (``stop(finished)``)."""
        args = (runner.spec.to_inputs(), self.settings, runner.channel, resume_after, runner.max_side)
        if self.mode == "tasks":
            task = ray.remote(job_task).options(
                num_cpus=TASK_CPUS, max_retries=0, name=f"fw-job:{runner.job_id}"
            )
            stream = task.remote(*args, actors)
            # A finished task is nothing to cancel; else it stops now.
            return stream, lambda finished: ray.cancel(stream, force=True)
        actor = self._pick(actors)
        key = f"{runner.job_id}:{uuid.uuid4().hex[:8]}"
        stream = actor.job_items.remote(key, *args)

        def stop(finished: bool) -> None:
            with self._lock:
                self._busy[actor] = max(0, self._busy.get(actor, 1) - 1)
            if not finished:  # cancelled, failed or lost: stop the stream at its next frame
                try:
                    actor.cancel_job.remote(key)
                except Exception:  # the actor is gone, and its stream with it
                    log.debug("job %s: its actor is gone", runner.job_id)

        return stream, stop

    def _pick(self, actors: list[Any]) -> Any:
        """The actor with the fewest job streams (the first of them: the pool is spread)."""
        with self._lock:
            actor = min(actors, key=lambda a: self._busy.get(a, 0))
            self._busy[actor] = self._busy.get(actor, 0) + 1
        return actor

    def close(self) -> None:
        """Stop the actors (the cluster, when joined, keeps running)."""
        with self._lock:
            if self._actors:
                release_actors(self._ray, self._actors)
            self._actors = []

    def _drain(self, ray: Any, stream: Any, cancelled: threading.Event) -> Iterator[JobItem]:
        from ray.exceptions import RayTaskError

        while True:
            if cancelled.is_set():
                raise JobCancelled("job cancelled")
            ready, _ = ray.wait([stream], timeout=WAIT_S)
            if not ready:
                continue
            try:
                ref = next(stream)
            except StopIteration:
                return
            try:
                item: JobItem = ray.get(ref)
            except RayTaskError as exc:  # the job's own error (bad media...): raise it as locally
                cause = getattr(exc, "cause", None)
                if isinstance(cause, ActorsLostError):
                    raise cause from None  # retried with new actors
                raise (cause if isinstance(cause, Exception) else exc) from None
            yield item

    def _ensure(self) -> tuple[Any, list[Any]]:
        """The ``ray`` module and the live inference actors (started or replaced as needed)."""
        with self._lock:
            if self._ray is None:
                self._ray = connect(self.settings.ray_address or None)
                from ray import exceptions as rex

                self._lost_errors = (
                    ActorsLostError,
                    *lost_worker_errors(),
                    rex.ActorDiedError,
                    rex.RayActorError,
                )
            ray = self._ray
            self._actors = self._alive(ray, self._actors)
            # Actors mode: an actor also decodes, so it reserves its jobs' share too (no tasks).
            actor_cpus, task_cpus = (
                (ACTOR_CPUS, TASK_CPUS) if self.mode == "tasks" else (ACTOR_CPUS + TASK_CPUS, 0.0)
            )
            wanted = self._count or default_actor_count(ray, actor_cpus, task_cpus)
            if len(self._actors) < wanted:
                self._actors += start_actors(
                    ray,
                    wanted - len(self._actors),
                    analyzers=None,  # the server's analyzers, as its own moderator
                    settings=self.settings,
                    min_confidence=self.settings.min_confidence,
                    max_batch=8,
                    max_wait_ms=2.0,
                    num_cpus=actor_cpus,
                    of_total=wanted,  # a replacement covers its share, not the whole cluster
                    task_cpus=task_cpus,
                )
            return ray, list(self._actors)

    @staticmethod
    def _alive(ray: Any, actors: list[Any]) -> list[Any]:
        if not actors:
            return []
        checks = {actor.ready.remote(): actor for actor in actors}
        alive, lost = [], []
        for ref, actor in checks.items():
            try:
                ray.get(ref, timeout=60)  # a new actor may still be loading its models
                alive.append(actor)
            except Exception:  # lost with its node, or crashed
                log.warning("an inference actor of the jobs was lost; replacing it")
                lost.append(actor)
        if lost:
            release_actors(ray, lost)  # and its CPU reservation, placed again elsewhere
        return alive
