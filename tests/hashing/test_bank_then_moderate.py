"""The same image banked with ``banks add`` and then moderated matches at distance 0 (issue 9).

Both paths decode the file the same way and shrink it with the same function
before hashing (:func:`framewarden.hashing.pdq.matching_hash_image`); images
larger than the 512-pixel shrink are the ones that used to differ (12-20 bits).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from framewarden.analyzers.hashlist import HashListConfig
from framewarden.moderator import Moderator
from tests.conftest import IMAGES, REPO

# Larger than 512 on the long side (the shrink), and one smaller (no shrink), one GIF.
NAMES = ["rocket.jpg", "coffee.png", "astronaut.png", "horse.png", "newtonscradle.gif"]


@pytest.mark.parametrize("name", NAMES)
def test_banked_image_matches_itself_at_distance_zero(name: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "framewarden",
            "banks",
            "add",
            "known",
            "--label",
            "Hate Symbols",
            str(IMAGES / name),
        ],
        cwd=REPO,
        env={**os.environ, "FRAMEWARDEN_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = HashListConfig(banks_dir=data / "banks", dihedral=False)
    result = Moderator([config], min_confidence=0.0).moderate_image(IMAGES / name)
    (match,) = [d for d in result.detections if d.analyzer == "hashlist"]
    assert match.label == "Hate Symbols"
    assert match.detail.endswith("distance=0"), match.detail
