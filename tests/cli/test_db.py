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
