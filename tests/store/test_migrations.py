"""Migrations: an empty database of either kind upgrades to the models' exact schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from framewarden.store import migrations
from framewarden.store.db import make_engine
from framewarden.store.models import Base

TABLES = {
    "alembic_version",
    "alert_events",
    "alert_labels",
    "alerts",
    "api_keys",
    "channels",
    "jobs",
    "notification_targets",
    "notifications",
    "results",
    "rule_versions",
    "rules",
    "video_events",
    "video_tags",
    "videos",
}


def test_upgrade_from_empty_creates_every_table(db_url: str) -> None:
    assert migrations.current(db_url) is None
    migrations.upgrade(db_url)
    assert migrations.current(db_url) == migrations.head()
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_upgraded_schema_matches_the_models(db_url: str) -> None:
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    migrations.upgrade(db_url)
    migrations.upgrade(db_url)
    assert migrations.current(db_url) == migrations.head()


def test_downgrade_to_base_removes_the_tables(db_url: str) -> None:
    migrations.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            config = migrations.alembic_config()
            config.attributes["connection"] = conn
            from alembic import command

            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert migrations.current(db_url) is None


def test_plain_alembic_cli_upgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ini = migrations.HERE / "alembic.ini"
    alembic = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(alembic), "-c", str(ini), "-x", f"url={url}", "upgrade", "head"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert migrations.current(url) == migrations.head()
