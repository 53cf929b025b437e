"""Test media made at test time: a patterned "mark" image and clips that show it for a while.

The mark is put into a hash bank, so the ``hashlist`` analyzer labels exactly
the frames that show it: known answers, cheap and deterministic.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MARK_LABEL = "Hate Symbols"


def make_mark(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 256, size=(size[1] // 20, size[0] // 20, 3), dtype=np.uint8)
    img = Image.fromarray(np.kron(blocks, np.ones((20, 20, 1), dtype=np.uint8)))
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 40, 260, 200), outline=(255, 255, 255), width=12)
    img.save(path)
    return path


def make_clip(
    path: Path, mark: Path, *, duration_s: float, fps: int = 10, marked: tuple[float, float] = (2, 4)
) -> Path:
    """testsrc2 with the mark over the whole frame from ``marked[0]`` to ``marked[1]`` seconds."""
    a, b = marked
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={fps}:duration={duration_s}",
            "-loop", "1", "-i", str(mark),
            "-filter_complex", f"[0][1]overlay=enable='between(t,{a},{b})':shortest=1",
            "-t", str(duration_s), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
            "-crf", "18", "-g", str(fps), str(path),
        ],
        check=True,
    )  # fmt: skip
    return path
