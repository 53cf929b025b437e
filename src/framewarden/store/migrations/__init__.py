"""Alembic migrations of the store, runnable from code and from the ``alembic`` CLI.

The app upgrades on start (:func:`framewarden.store.db.open_database`), so a
fresh data directory gets its schema without a manual step; ``framewarden db
upgrade`` / ``db current`` do the same by hand.  From a checkout the plain
CLI works too: ``alembic -c src/framewarden/store/migrations/alembic.ini upgrade head``
(the URL comes from ``-x url=...`` or the settings).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head() -> str:
    """The newest revision shipped with this version of framewarden."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - a packaging error
        raise RuntimeError(f"no Alembic revisions found in {HERE / 'versions'}")
    return revision


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    from framewarden.store.db import make_engine

    return make_engine(engine_or_url), True


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest); a no-op when it is there."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        if owned:
            engine.dispose()


def current(engine_or_url: Engine | str) -> str | None:
    """The revision the database is at; None for an empty database."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()
