"""A newcomer's mistakes get one line naming the file, field and value, never a traceback."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from framewarden.cli import app
from tests.conftest import IMAGES, REPO, VIDEOS
from tests.jobs.clips import make_clip

runner = CliRunner()


def _one_error_line(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "ValidationError" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("min_confidence = 500\n", {}, ["framewarden.toml", "min_confidence = 500", "less than or equal"]),
        ("min_confidence = = 1\n", {}, ["framewarden.toml", "not valid TOML", "line 1"]),
        ("no_such_setting = 1\n", {}, ["framewarden.toml", "unknown setting 'no_such_setting'"]),
        (None, {"FRAMEWARDEN_PORT": "abc"}, ["FRAMEWARDEN_PORT=abc", "valid integer"]),
        (None, {"FRAMEWARDEN_ANALYZERS": "nudenet"}, ["FRAMEWARDEN_ANALYZERS=nudenet", "JSON"]),
        (None, {"FRAMEWARDEN_CONFIG": "/nonexistent/fw.toml"}, ["/nonexistent/fw.toml", "no such file"]),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    toml: str | None,
    env: dict[str, str],
    expected: list[str],
) -> None:
    if toml is not None:
        path = tmp_path / "framewarden.toml"
        path.write_text(toml)
        monkeypatch.setenv("FRAMEWARDEN_CONFIG", str(path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(app, ["moderate", str(IMAGES / "coins.png")])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert line.startswith("error: ")
    for part in expected:
        assert part in line


def test_scan_out_naming_a_file_is_refused(tmp_path: Path) -> None:
    existing = tmp_path / "existing-file"
    existing.write_text("keep me\n")
    result = runner.invoke(app, ["scan", str(VIDEOS / "bikes.mp4"), "--out", str(existing), "-q"])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert str(existing) in line and "not a folder" in line
    assert existing.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["moderate"], "no images"),
        (["hash"], "no images"),
        (["scan", "-q"], "no video files"),
        (["banks", "add", "b", "--label", "Explicit"], "no images"),
    ],
)
def test_nothing_to_do_is_an_error_naming_the_path(tmp_path: Path, args: list[str], expected: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, [*args, str(empty)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert str(empty) in line and expected in line


def test_moderate_on_a_folder_of_videos_suggests_scan(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "bikes.mp4").write_bytes((VIDEOS / "bikes.mp4").read_bytes())
    result = runner.invoke(app, ["moderate", str(folder)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert str(folder) in line and "framewarden scan" in line


# --- scan: resume with other settings; Ctrl-C ---------------------------------------------------


@pytest.fixture(scope="module")
def red_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "red.mp4")


def _scan_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.jobs.fwscan", "scan", *args]


def _run_scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _scan_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_resume_with_other_settings_is_refused_naming_the_change(tmp_path: Path, red_clip: Path) -> None:
    out = tmp_path / "out"
    common = [str(red_clip), "--analyzers", "redbox", "--out", str(out), "-q"]
    first = _run_scan(*common, "--sample-interval", "1")
    assert first.returncode == 0, first.stderr
    before = sorted(p.name for p in out.iterdir())
    again = _run_scan(*common, "--sample-interval", "2", "--resume")
    assert again.returncode == 2, again.stderr
    assert "Traceback" not in again.stderr
    assert "sample_interval_s: 1.0 -> 2.0" in again.stderr
    assert sorted(p.name for p in out.iterdir()) == before  # nothing written
    same = _run_scan(*common, "--sample-interval", "1", "--resume")
    assert same.returncode == 0, same.stderr
    assert "1 already done" in same.stderr


def test_ctrl_c_stops_promptly_and_writes_report_and_resume_state(tmp_path: Path, red_clip: Path) -> None:
    clips = []
    for i in range(3):
        clip = tmp_path / f"clip{i}.mp4"
        clip.write_bytes(red_clip.read_bytes())
        clips.append(str(clip))
    out = tmp_path / "out"
    common = ["--analyzers", "redbox", "--sample-interval", "0", "--no-dedup", "--workers", "1", "-q"]
    env = dict(os.environ, FRAMEWARDEN_ANALYZER_OPTIONS='{"redbox": {"delay_ms": 40}}')
    proc = subprocess.Popen(
        _scan_cmd(*clips, *common, "--out", str(out)), cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("clip0*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the scan finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stopped_after < 5, stopped_after  # 150 frames x 40 ms would be 6 s more for one clip
    assert "Traceback" not in stderr
    assert "interrupted: 1 of 3 inputs done" in stderr and "--resume" in stderr
    with (out / "report.csv").open(newline="") as fh:
        rows = {row["input"]: row["status"] for row in csv.DictReader(fh)}
    assert rows == {clips[0]: "SUCCEEDED", clips[1]: "INTERRUPTED", clips[2]: "INTERRUPTED"}
    resumed = subprocess.run(
        _scan_cmd(*clips, *common, "--out", str(out), "--resume"),
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "3 succeeded, 0 failed, 1 already done" in resumed.stderr


def test_results_and_reports_follow_the_umask(tmp_path: Path, red_clip: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *_scan_cmd(str(red_clip), "--analyzers", "redbox",
                                                                   "--out", str(out), "-q")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {0o644}, modes
