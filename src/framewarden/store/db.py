"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned for many threads in one process: WAL (readers never block
the writer), ``busy_timeout`` (a writer waits for the lock instead of failing
with "database is locked"), foreign keys on (off by default in SQLite).
Every transaction of :meth:`Database.begin` starts with ``BEGIN IMMEDIATE``, so
it takes the write lock up front, where the busy timeout applies (a deferred
transaction that read first and writes later fails at once instead of
waiting); :meth:`Database.read` uses a plain ``BEGIN`` and never blocks.
PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``).

Repositories take a :class:`~sqlalchemy.orm.Session` and never commit; the
caller owns the transaction (``with db.begin() as session: ...``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from framewarden.config import Settings, get_settings
from framewarden.errors import ConfigError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "framewarden_read_only"  # execution option: a reading transaction (plain BEGIN)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"database_url {url!r}: not a SQLAlchemy URL ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, echo=echo)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # default to psycopg 3, the driver we ship
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise ConfigError(f"database_url {parsed.render_as_string()!r}: only sqlite and postgresql are supported")


def _sqlite_engine(url: str, database: str | None, *, echo: bool) -> Engine:
    memory = not database or database == ":memory:"
    if not memory:
        Path(database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


@dataclass
class Database:
    """An engine and its session factory: what the app and workers share."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in one transaction: committed on exit, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only (on SQLite it does not take the write lock)."""
        with self.read_sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str, *, migrate: bool = True, echo: bool = False) -> Database:
    """Open ``url``; with ``migrate``, bring its schema to the newest revision first."""
    engine = make_engine(url, echo=echo)
    if migrate:
        from framewarden.store.migrations import upgrade

        upgrade(engine)
    reader = engine.execution_options(**{READ_ONLY_OPTION: True})
    return Database(
        engine,
        sessionmaker(engine, expire_on_commit=False),
        sessionmaker(reader, expire_on_commit=False),
    )


def open_database(settings: Settings | None = None, *, migrate: bool = True) -> Database:
    """The database of ``settings`` (default: the process settings), migrated: a fresh data dir just works."""
    settings = settings or get_settings()
    if not settings.database_url:
        settings.ensure_data_dir()
    log.debug("opening database %s", make_url(settings.db_url).render_as_string())
    return connect(settings.db_url, migrate=migrate)
