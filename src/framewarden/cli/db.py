"""``framewarden db``: bring the database schema up to date, or say where it stands.

The server upgrades on start, so these are for operators who want to migrate
before a deploy (``db upgrade``) or check a database (``db current``).  The
database is the one the settings name (``FRAMEWARDEN_DATABASE_URL`` or the
SQLite file in the data directory) unless ``--url`` says otherwise.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from framewarden.cli._common import err, out
from framewarden.config import get_settings
from framewarden.errors import FramewardenError

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="SQLAlchemy URL; default: the configured database.")
]


def _url(url: str | None) -> str:
    if url:
        return url
    settings = get_settings()
    if not settings.database_url:
        settings.ensure_data_dir()
    return settings.db_url


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


def _fail(message: object) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


@db_app.command("upgrade")
def upgrade_cmd(
    url: UrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    from framewarden.store import migrations

    target = _url(url)
    try:
        before = migrations.current(target)
        migrations.upgrade(target, revision)
        after = migrations.current(target)
    except (FramewardenError, SQLAlchemyError) as exc:
        raise _fail(f"{_shown(target)}: {exc}") from exc
    out.print(
        f"{_shown(target)}: {before or 'empty'} -> {after}", markup=False, highlight=False, soft_wrap=True
    )


@db_app.command("current")
def current_cmd(url: UrlOption = None) -> None:
    """Show the database's revision and the newest one this version ships."""
    from framewarden.store import migrations

    target = _url(url)
    try:
        revision = migrations.current(target)
    except (FramewardenError, SQLAlchemyError) as exc:
        raise _fail(f"{_shown(target)}: {exc}") from exc
    head = migrations.head()
    state = "up to date" if revision == head else "needs `framewarden db upgrade`"
    out.print(
        f"{_shown(target)}: {revision or 'empty'} (head {head}, {state})", markup=False, highlight=False
    )


@db_app.command("prune")
def prune_cmd(
    url: UrlOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    results_days: Annotated[
        float | None, typer.Option(help="Keep live results this many days (default: settings; 0 = all).")
    ] = None,
    notifications_days: Annotated[
        float | None, typer.Option(help="Keep the notification log this many days (default: settings).")
    ] = None,
    resolved_alerts_days: Annotated[
        float | None,
        typer.Option(help="Keep confirmed / dismissed alerts this many days (default: settings)."),
    ] = None,
) -> None:
    """Apply retention now: delete old results, notifications and resolved alerts (serve does it hourly)."""
    from framewarden.store.db import connect
    from framewarden.store.retention import RetentionPolicy, count_prunable, prune

    settings = get_settings()
    base = RetentionPolicy.from_settings(settings)
    policy = RetentionPolicy(
        results_days=base.results_days if results_days is None else results_days,
        notifications_days=base.notifications_days if notifications_days is None else notifications_days,
        resolved_alerts_days=base.resolved_alerts_days
        if resolved_alerts_days is None
        else resolved_alerts_days,
    )
    if min(policy.results_days, policy.notifications_days, policy.resolved_alerts_days) < 0:
        raise _fail("retention days must be >= 0")
    target = _url(url)
    try:
        database = connect(target)
        try:
            if dry_run:
                with database.read() as session:
                    report = count_prunable(session, policy)
            else:
                report = prune(database, policy)
        finally:
            database.close()
    except (FramewardenError, SQLAlchemyError) as exc:
        raise _fail(f"{_shown(target)}: {exc}") from exc
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{_shown(target)}: {verb} {report.results} results, {report.notifications} notifications, "
        f"{report.alerts} resolved alerts",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
