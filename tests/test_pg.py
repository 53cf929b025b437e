"""tests/pg.py finds any installed PostgreSQL, and under CI=true a missing one fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import find_pg_bin

ROOT = Path(__file__).resolve().parents[1]


def test_finds_initdb_of_the_installed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAMEWARDEN_PG_BIN", raising=False)
    found = find_pg_bin()
    if found is None:
        pytest.skip("no PostgreSQL installed here: nothing to find (the CI case is tested below)")
    assert (found / "initdb").is_file() and (found / "pg_ctl").is_file()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_missing_postgres_fails_under_ci(tmp_path: Path, ci: str, outcome: str) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_needs_pg(postgres_server):\n    pass\n")
    (tmp_path / "conftest.py").write_text("from tests.pg import postgres_server  # noqa: F401\n")
    env = {**os.environ, "CI": ci, "FRAMEWARDEN_PG_BIN": str(tmp_path / "no-such-bin")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(probe),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert outcome in done.stdout, done.stdout + done.stderr
    assert (done.returncode != 0) == bool(ci), "under CI the run must fail; outside, a skip passes"
    if ci:
        assert "CI=true and PostgreSQL could not be started" in done.stdout
