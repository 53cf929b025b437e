"""Engines: SQLite tuned for threads (WAL, busy timeout, foreign keys), PostgreSQL via psycopg."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from framewarden.config import Settings
from framewarden.errors import ConfigError
from framewarden.store import jobs, results
from framewarden.store.db import Database, connect, make_engine, open_database
from framewarden.store.migrations import current, head


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 30000)],
)
def test_sqlite_file_pragmas(tmp_path: Path, pragma: str, expected: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
    finally:
        engine.dispose()


def test_sqlite_creates_the_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    engine.dispose()
    assert path.is_file()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "only sqlite and postgresql"),
        ("not a url", "not a SQLAlchemy URL"),
    ],
)
def test_unsupported_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_engine(url)


def test_plain_postgresql_url_gets_psycopg3() -> None:
    engine = make_engine("postgresql://u@127.0.0.1:1/x")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_open_database_on_a_fresh_data_dir_just_works(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")
    db = open_database(settings)
    try:
        assert (tmp_path / "fresh" / "framewarden.db").is_file()
        assert current(db.engine) == head()
        assert "alerts" in inspect(db.engine).get_table_names()
    finally:
        db.close()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError), db.begin() as session:
        results.add_result(session, channel="c", job_id="no-such-job")


def test_a_failed_transaction_is_rolled_back(db: Database) -> None:
    with pytest.raises(RuntimeError), db.begin() as session:
        jobs.create_job(session, kind="scan", job_id="j1")
        raise RuntimeError("boom")
    with db.read() as session:
        assert jobs.get_job(session, job_id="j1") is None


def test_concurrent_writers_on_sqlite_do_not_lock(tmp_path: Path) -> None:
    """Eight threads x 40 read-then-write transactions: none fails with 'database is locked'."""
    db = connect(f"sqlite:///{tmp_path / 'busy.db'}")
    with db.begin() as session:
        jobs.create_job(session, kind="scan", job_id="shared")
    errors: list[BaseException] = []
    threads_n, writes_n = 8, 40

    def writer(n: int) -> None:
        try:
            for i in range(writes_n):
                with db.begin() as session:
                    # read first, then write: the pattern that fails under deferred BEGIN
                    assert jobs.get_job(session, job_id="shared") is not None
                    results.add_result(session, channel=f"ch-{n}", job_id="shared", frame_seq=i)
                    jobs.add_progress(session, job_id="shared", done=1)
                with db.read() as session:
                    results.count_results(session, channel=f"ch-{n}")
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with db.read() as session:
            assert results.count_results(session, job_id="shared") == threads_n * writes_n
            job = jobs.get_job(session, job_id="shared")
            assert job is not None and job.done == threads_n * writes_n
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        db.close()
