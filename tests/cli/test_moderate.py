"""``framewarden moderate``: the real console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import BROKEN, IMAGES, real_images

SCRIPT = shutil.which("framewarden", path=str(Path(sys.executable).parent)) or "framewarden"
NUDENET = ["--analyzers", "nudenet"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    return subprocess.run(
        [SCRIPT, "moderate", *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_json_on_the_images_folder() -> None:
    proc = run("--json", *NUDENET, str(IMAGES))
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout)
    assert [line["Source"] for line in lines] == [str(p) for p in real_images()]  # MANIFEST.tsv skipped
    for line in lines:
        assert line["ModerationLabels"] == []  # safe images
        assert line["ModerationModelVersion"].startswith("nudenet=nudenet-")
        for det in line["Detections"]:
            assert set(det) >= {"Analyzer", "Class", "Label", "Confidence", "BoundingBox"}
            assert 50 <= det["Confidence"] <= 100
            box = det["BoundingBox"]
            assert all(0 <= box[k] <= 1 for k in ("Left", "Top", "Width", "Height"))
    astronaut = next(line for line in lines if line["Source"].endswith("astronaut.png"))
    assert [t["Name"] for t in astronaut["Tags"]] == ["Face Female"]
    assert astronaut["Detections"][0]["Class"] == "FACE_FEMALE"


@pytest.mark.parametrize(
    ("min_confidence", "classes"),
    [("50", []), ("30", ["BELLY_EXPOSED"]), ("20", ["BELLY_EXPOSED", "BELLY_EXPOSED"])],
)
def test_min_confidence_filters_detections(min_confidence: str, classes: list[str]) -> None:
    proc = run("--json", "--min-confidence", min_confidence, *NUDENET, str(IMAGES / "moon.png"))
    assert proc.returncode == 0, proc.stderr
    (line,) = json_lines(proc.stdout)
    assert [d["Class"] for d in line["Detections"]] == classes
    assert line["ModerationLabels"] == []  # "Belly" is a tag, never a label


def test_bad_inputs_are_reported_and_the_rest_continue() -> None:
    missing = "/nonexistent/photo.jpg"
    inputs = [
        str(IMAGES / "coins.png"),
        str(BROKEN / "small_png-truncated.png"),
        str(BROKEN / "zero_bytes_result.webm"),
        str(IMAGES / "MANIFEST.tsv"),
        missing,
        str(IMAGES / "fruits.jpg"),
    ]
    proc = run("--json", *NUDENET, *inputs)
    assert proc.returncode == 1
    lines = json_lines(proc.stdout)
    assert [line["Source"] for line in lines] == inputs
    errors = {line["Source"]: line["Error"] for line in lines if "Error" in line}
    assert set(errors) == set(inputs[1:5])
    assert "truncated" in errors[inputs[1]] and "empty" in errors[inputs[2]]
    assert "ModerationLabels" in lines[0] and "ModerationLabels" in lines[-1]
    stderr = proc.stderr.splitlines()
    assert stderr == [f"error: {source}: {errors[source]}" for source in inputs[1:5]]


def test_file_name_starting_with_a_dash(tmp_path: Path) -> None:
    shutil.copy(IMAGES / "coins.png", tmp_path / "-coins.png")
    proc = run(*NUDENET, "--json", "--", "-coins.png", str(BROKEN / "-video-with-dash-.mp4"), cwd=tmp_path)
    assert proc.returncode == 1
    ok, bad = json_lines(proc.stdout)
    assert ok["Source"] == "-coins.png" and ok["ImageWidth"] == 384
    assert bad["Error"] == "not an image (unknown format)"


def test_table_output() -> None:
    proc = run(*NUDENET, str(IMAGES / "astronaut.png"), str(IMAGES / "brick.png"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "astronaut.png" in out and "512x512" in out
    assert "Face Female" in out and "FACE_FEMALE" in out and "tag" in out and "detection" in out
    assert "brick.png" in out and "clean" in out
    assert not out.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--analyzers", "no_such_analyzer", "x.png"], "unknown analyzer 'no_such_analyzer'"),
        (["--analyzers", " , ", "x.png"], "--analyzers needs at least one"),
        (["--min-confidence", "101", "x.png"], "--min-confidence"),
        (["--min-confidence", "abc", "x.png"], "--min-confidence"),
        ([], "Missing argument"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_json_timings_are_each_images_own_decode_time(tmp_path: Path) -> None:
    # A batch shares its analyzer time; each image still gets its own decode time.
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    Image.new("RGB", (2000, 2000), (10, 200, 30)).save(big)
    Image.new("RGB", (16, 16), (10, 200, 30)).save(small)
    proc = run("--json", "--analyzers", "hashlist", str(big), str(small))
    assert proc.returncode == 0, proc.stderr
    timings = [json.loads(line)["TimingsMillis"] for line in proc.stdout.splitlines()]
    assert [set(t) for t in timings] == [{"decode", "hashlist", "total"}] * 2
    assert timings[0]["decode"] > timings[1]["decode"]
