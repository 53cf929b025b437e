"""Alembic environment: runs with a connection handed in by :func:`upgrade`, or from the CLI.

From the CLI the URL is ``-x url=...``, else ``sqlalchemy.url`` of the ini
file, else the framewarden settings (``FRAMEWARDEN_DATABASE_URL`` / data dir).
"""

from __future__ import annotations

from alembic import context

from framewarden.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: copy-and-move tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from framewarden.config import get_settings

    settings = get_settings()
    if not settings.database_url:
        settings.ensure_data_dir()
    return settings.db_url


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from framewarden.store.db import make_engine

    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


run()
