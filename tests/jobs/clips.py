"""Test clips made with ffmpeg: where the red box is, is known to the frame."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_clip(
    path: Path,
    *,
    seconds: float = 6.0,
    fps: int = 25,
    size: str = "320x240",
    red_between: tuple[float, float] | None = (2.0, 4.0),
    static: bool = False,
    gop: int = 25,
) -> Path:
    """A clip with a red box burned in during ``red_between`` (seconds, inclusive).

    The background is grayscale (no red anywhere else): a moving test pattern,
    or a flat white picture when ``static`` (every frame a duplicate).
    """
    background = f"color=c=white:s={size}:r={fps}" if static else f"testsrc2=s={size}:r={fps}"
    # Gray, and bright: the red box (luma ~76) must differ from what it covers,
    # since dedup compares luma hashes.
    chain = "format=gray,lutyuv=y=128+val/2,format=yuv420p"
    if red_between is not None:
        a, b = red_between
        chain += f",drawbox=x=20:y=20:w=80:h=80:color=red@1:t=fill:enable='between(t,{a},{b})'"
    cmd = [
        "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", background, "-t", str(seconds),
        "-vf", chain, "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p",
        str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return path
