"""A real runtime (real analyzers) behind FastAPI's TestClient, on SQLite and on PostgreSQL.

Every API test runs twice: once on a SQLite file in a tmp data dir, once on a
fresh PostgreSQL database cloned from a migrated template (tests/pg.py), so
both backends answer every route the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from framewarden.api.app import create_app
from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.store import keys as keys_repo
from tests.pg import KINDS, PostgresServer, clone_database


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "" (the SQLite default in the data dir), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = clone_database(server)
    try:
        yield server.url(name)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def runtime(isolated_settings: Path, database_url: str) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=isolated_settings,
        database_url=database_url,
        analyzers=["nudenet", "hashlist"],
        image_rate_limit_per_minute=5,
        max_upload_bytes=2 * 1024 * 1024,
        alert_escalation_s=0,
    )
    rt = Runtime(settings).start()
    yield rt
    rt.stop()


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    out = {}
    with runtime.db.begin() as session:
        for role in ("admin", "moderator", "viewer", "ingest"):
            _, full = keys_repo.create_key(session, name=f"{role}-tester", role=role)  # type: ignore[arg-type]
            out[role] = full
    return out


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
