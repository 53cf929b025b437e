"""``framewarden calibrate``: thresholds that keep flags on safe media under a rate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from framewarden.cli import app
from framewarden.cli.calibrate import calibrate_report, threshold_for
from tests.conftest import IMAGES


@pytest.mark.parametrize(
    ("scores", "rate", "expected"),
    [
        ([], 1.0, 0.0),  # nothing to calibrate on
        ([0.0, 0.0, 0.0], 0.0, 0.1),  # flag nothing: just above the highest score
        ([10.0, 20.0, 30.0, 40.0], 0.0, 40.1),
        ([10.0, 20.0, 30.0, 40.0], 25.0, 30.1),  # one frame in four may be flagged
        ([10.0, 20.0, 30.0, 40.0], 100.0, 0.0),  # everything may be flagged
        ([55.55, 55.55, 12.0], 0.0, 55.6),  # ties stay unflagged together
    ],
)
def test_threshold_for(scores: list[float], rate: float, expected: float) -> None:
    threshold = threshold_for(scores, rate)
    assert threshold == pytest.approx(expected)
    assert sum(s >= threshold for s in scores) <= len(scores) * rate / 100


def test_report_gives_recall_on_positives() -> None:
    safe = (4, {"Explicit": [0.0, 10.0, 20.0, 30.0]})
    positives = (2, {"Explicit": [90.0, 25.0]})
    (row,) = calibrate_report(safe, positives, 0.0)["labels"]
    assert row["threshold"] == pytest.approx(30.1)
    assert row["safe"]["flagged_at_threshold"] == 0 and row["safe"]["max"] == 30.0
    assert row["positives"] == {"frames": 2, "caught": 1, "recall_pct": 50.0}


def test_cli_on_images_and_a_video(tmp_path: Path) -> None:
    safe = tmp_path / "safe"
    safe.mkdir()
    for name in ("astronaut.png", "coffee.png"):
        shutil.copy(IMAGES / name, safe / name)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10:duration=2",
            "-pix_fmt",
            "yuv420p",
            str(safe / "clip.mp4"),
        ],
        check=True,
        timeout=60,
    )
    runner = CliRunner()
    done = runner.invoke(
        app, ["calibrate", str(safe), "--analyzers", "nudenet", "--json", "--max-flag-rate", "0"]
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["safe_frames"] == 4
    assert {"Explicit", "Exposed Female Nipple"} <= {row["label"] for row in report["labels"]}
    frames = {row["safe"]["frames"] for row in report["labels"]}
    assert frames == {4}  # 2 images + 2 video frames at the default 1 s interval
    for row in report["labels"]:
        assert row["safe"]["flagged_at_threshold"] == 0
        assert row["threshold"] > row["safe"]["max"]
    missing = runner.invoke(app, ["calibrate", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output
