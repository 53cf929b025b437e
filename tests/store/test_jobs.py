"""Jobs: lifecycle, progress counters, resumable listing."""

from __future__ import annotations

import pytest

from framewarden.errors import InputError
from framewarden.store import jobs
from framewarden.store.db import Database
from framewarden.store.errors import ConflictError, NotFoundError


def test_lifecycle_and_progress(db: Database) -> None:
    with db.begin() as s:
        job = jobs.create_job(s, kind="video", inputs={"files": ["a.mp4"]})
        assert job.status == "queued" and len(job.id) == 32
    with db.begin() as s:
        jobs.start_job(s, job_id=job.id, total=10)
        jobs.add_progress(s, job_id=job.id, done=3)
        jobs.add_progress(s, job_id=job.id, done=2, failed=1)
    with db.begin() as s:
        jobs.finish_job(s, job_id=job.id, summary={"flagged": 2})
    with db.read() as s:
        got = jobs.require_job(s, job_id=job.id)
        assert (got.status, got.total, got.done, got.failed, got.summary) == (
            "succeeded",
            10,
            5,
            1,
            {"flagged": 2},
        )
        assert got.created_at <= got.started_at <= got.finished_at  # type: ignore[operator]


def test_unfinished_jobs_are_listed_oldest_first(db: Database) -> None:
    with db.begin() as s:
        for name in ("a", "b", "c"):
            jobs.create_job(s, kind="scan", job_id=name)
        jobs.start_job(s, job_id="b")
        jobs.finish_job(s, job_id="c", status="failed", error="c.mp4: corrupt")
    with db.read() as s:
        assert [j.id for j in jobs.list_unfinished_jobs(s)] == ["a", "b"]
        assert [j.id for j in jobs.list_jobs(s, status="failed").items] == ["c"]
        assert jobs.require_job(s, job_id="c").error == "c.mp4: corrupt"


def test_list_pages_newest_first(db: Database) -> None:
    with db.begin() as s:
        for i in range(5):
            jobs.create_job(s, kind="scan", job_id=f"j{i}")
    with db.read() as s:
        first = jobs.list_jobs(s, limit=2)
        rest = jobs.list_jobs(s, limit=10, cursor=first.next_cursor)
    ids = [j.id for j in first.items + rest.items]
    assert sorted(ids) == [f"j{i}" for i in range(5)] and len(set(ids)) == 5


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: jobs.add_progress(s, job_id="nope", done=1), NotFoundError),
        (lambda s: jobs.finish_job(s, job_id="j", status="running"), InputError),  # type: ignore[arg-type]
        (lambda s: (jobs.finish_job(s, job_id="j"), jobs.finish_job(s, job_id="j")), ConflictError),
        (lambda s: (jobs.finish_job(s, job_id="j"), jobs.start_job(s, job_id="j")), ConflictError),
    ],
)
def test_bad_moves_are_refused(db: Database, call: object, error: type[Exception]) -> None:
    with db.begin() as s:
        jobs.create_job(s, kind="scan", job_id="j")
    with pytest.raises(error), db.begin() as s:
        call(s)  # type: ignore[operator]
