"""``framewarden db upgrade`` / ``db current`` on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from framewarden.cli import app
from framewarden.store.migrations import current, head

runner = CliRunner()


def test_upgrade_then_current(db_url: str) -> None:
    before = runner.invoke(app, ["db", "current", "--url", db_url])
    assert before.exit_code == 0 and "empty" in before.output and "needs" in before.output
    up = runner.invoke(app, ["db", "upgrade", "--url", db_url])
    assert up.exit_code == 0, up.output
    assert f"empty -> {head()}" in up.output
    assert current(db_url) == head()
    after = runner.invoke(app, ["db", "current", "--url", db_url])
    assert after.exit_code == 0 and "up to date" in after.output


def test_default_is_the_data_dir_database(isolated_settings: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (isolated_settings / "framewarden.db").is_file()


def test_bad_url_is_one_line_error() -> None:
    result = runner.invoke(app, ["db", "current", "--url", "mysql://u@h/x"])
    assert result.exit_code == 1
    assert "only sqlite and postgresql" in result.output
    assert "Traceback" not in result.output


def test_prune_dry_run_then_delete(db_url: str) -> None:
    from datetime import timedelta

    from framewarden.store import results
    from framewarden.store.db import connect
    from framewarden.store.models import utcnow

    database = connect(db_url)
    with database.begin() as s:
        results.add_result(s, channel="c", analyzed_at=utcnow() - timedelta(days=10))
        results.add_result(s, channel="c")
    database.close()
    dry = runner.invoke(app, ["db", "prune", "--url", db_url, "--results-days", "5", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 results" in dry.output
    done = runner.invoke(app, ["db", "prune", "--url", db_url, "--results-days", "5"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 results" in done.output
    again = runner.invoke(app, ["db", "prune", "--url", db_url, "--results-days", "5"])
    assert "deleted 0 results" in again.output
