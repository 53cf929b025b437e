"""A private PostgreSQL cluster for the test session, and the ``db`` fixture over both databases.

The binaries are found for whatever version is installed: ``FRAMEWARDEN_PG_BIN``
if set, else the newest ``/usr/lib/postgresql/<version>/bin`` with an
``initdb``, else ``pg_config --bindir``, else ``initdb`` on the PATH.  When none
is found the PostgreSQL half of the suite is skipped with the reason, except
under ``CI=true``, where it fails: a CI run must never go green without it.

The cluster lives in a temporary folder, listens on a free loopback port and
keeps its socket there too, so it never meets a system PostgreSQL.  The
server refuses to run as root, so when the suite runs as root its binaries
run as the ``postgres`` OS user (``runuser``) on a folder chowned to it.
Durability is switched off (fsync, synchronous_commit): it is thrown away.

The ``db`` fixture hands each test an empty migrated database: on SQLite a
copy of a migrated file, on PostgreSQL one session-wide database truncated
after each test (far cheaper than migrating, or cloning, per test).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = "fw_migrated"
CLONE_SOURCE = "fw_clone_source"  # a migrated copy nobody connects to, for CREATE DATABASE ... TEMPLATE
_counter = itertools.count()
KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.parent.name)) or (0,)


def find_pg_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` for the installed PostgreSQL, or None."""
    explicit = os.environ.get("FRAMEWARDEN_PG_BIN")
    if explicit:
        return Path(explicit)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and (Path(done.stdout.strip()) / "initdb").is_file():
            return Path(done.stdout.strip())
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


PG_BIN = find_pg_bin() or Path("/usr/lib/postgresql/<none>/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl start in a temp folder; :meth:`stop` removes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fw-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        self._as_postgres = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        if not (PG_BIN / "initdb").is_file():
            raise RuntimeError(
                "no PostgreSQL initdb found (set FRAMEWARDEN_PG_BIN, or install postgresql; "
                f"looked in /usr/lib/postgresql/*/bin, pg_config --bindir and PATH; tried {PG_BIN})"
            )
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        steps = [
            ("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync"),
            (
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start",
            ),
        ]
        for step in steps:
            done = self._run(*step)
            if done.returncode != 0:
                log = self.root / "server.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{step[0]} failed ({done.returncode}): {done.stderr.strip()} {tail}")
        self.started = True

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres") as conn:
            conn.autocommit = True
            conn.execute(sql)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running private PostgreSQL, or a skip that says why it could not start (a failure under CI)."""
    server = PostgresServer()
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError) as exc:
        server.stop()
        if in_ci():
            pytest.fail(f"CI=true and PostgreSQL could not be started: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL could not be started: {exc}")
    try:
        from framewarden.store.migrations import upgrade

        server.execute(f"CREATE DATABASE {TEMPLATE}")
        upgrade(server.url(TEMPLATE))
        server.execute(f"CREATE DATABASE {CLONE_SOURCE} TEMPLATE {TEMPLATE}")
        yield server
    finally:
        server.stop()


@pytest.fixture(params=KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each kind (nothing migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"fw_empty_{os.getpid()}_{next(_counter)}"
    server.execute(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_database(postgres_server: PostgresServer) -> Iterator[object]:
    """One migrated PostgreSQL database for the session; tests empty it after use."""
    from framewarden.store.db import connect

    database = connect(postgres_server.url(TEMPLATE), migrate=False)
    yield database
    database.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test (cheaper than migrating each time)."""
    from framewarden.store.db import connect

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    connect(f"sqlite:///{path}").close()  # the last close checkpoints the WAL into the file
    return path


def _truncate_all(database: Any) -> None:
    from framewarden.store.models import Base

    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A migrated, empty :class:`framewarden.store.db.Database` on SQLite and on PostgreSQL."""
    from framewarden.store.db import connect

    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "test.db")
        database = connect(f"sqlite:///{tmp_path / 'test.db'}", migrate=False)
        yield database
        database.close()
        return
    database = request.getfixturevalue("pg_database")
    try:
        yield database
    finally:
        _truncate_all(database)


def clone_database(server: PostgresServer) -> str:
    """A fresh migrated database (a copy of the template, cheap); returns its name."""
    name = f"fw_clone_{os.getpid()}_{next(_counter)}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {CLONE_SOURCE}")
    return name
