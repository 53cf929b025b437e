"""What OCR costs per frame: plain RapidOCR vs. the ``ocr_text`` analyzer.

Real 720p frames (Big Buck Bunny from the shared test data, 2 frames a
second) with captions burned in by FFmpeg's drawtext, in three scenes:

- steady: the same captions on every frame (a lower third, a channel name);
- changing: a caption whose text changes on every frame (a ticker);
- no text: the bare frames.

Both sides run in this process, on the same frames, one after the other:
the baseline is RapidOCR's full pipeline on each frame (detection +
recognition at its default resolution) plus text moderation of what it read;
ours is the analyzer with ``interval_s=0`` (so every frame is analyzed and
only the presence pass and region cache save work).  Run:

    python bench/ocr_cost.py [--frames 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from framewarden.analyzers.ocr_text import OcrTextAnalyzer, OcrTextConfig
from framewarden.media.frame import Frame
from framewarden.text import moderate_text

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")
VIDEO = DATA / "videos" / "big_buck_bunny_0_30.webm"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
W, H = 1280, 720

CAPTIONS = {
    "steady": [
        f"drawtext=fontfile={FONT}:text='LIVE  Big Buck Bunny channel':fontsize=44:fontcolor=white"
        ":box=1:boxcolor=black@0.7:boxborderw=10:x=40:y=620",
        f"drawtext=fontfile={FONT}:text='you stupid idiot':fontsize=36:fontcolor=yellow"
        ":box=1:boxcolor=black@0.5:x=820:y=40",
    ],
    "changing": [
        f"drawtext=fontfile={FONT}:text='ticker item %{{n}} at %{{pts\\:hms}}':fontsize=44:fontcolor=white"
        ":box=1:boxcolor=black@0.7:boxborderw=10:x=40:y=620",
    ],
    "no text": [],
}


def frames(scene: str, count: int) -> list[np.ndarray]:
    filters = ",".join(["fps=2", f"scale={W}:{H}", *CAPTIONS[scene]])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "4", "-i", str(VIDEO), "-vf", filters, "-frames:v", str(count),
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return list(np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3))


def timed(fn: Callable[[np.ndarray, int], object], images: list[np.ndarray]) -> float:
    """Mean milliseconds per frame."""
    started = time.perf_counter()
    for i, image in enumerate(images):
        fn(image, i)
    return (time.perf_counter() - started) * 1000 / len(images)


def run_analyzer(analyzer: OcrTextAnalyzer, channel: str, image: np.ndarray, i: int) -> None:
    analyzer.analyze([Frame(channel, i, i * 500.0, image)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10, help="frames per scene (2 a second)")
    args = parser.parse_args()

    config = OcrTextConfig(interval_s=0)
    warm = OcrTextAnalyzer(config)
    engine = warm.engine  # the same ONNX sessions for both sides
    moderate_text("warm up the profanity model")

    def baseline(image: np.ndarray, _i: int) -> None:
        result, _ = engine(np.ascontiguousarray(image[:, :, ::-1]))
        for _box, text, _score in result or []:
            moderate_text(text)

    print(f"{'scene':<10} {'RapidOCR ms':>12} {'ocr_text ms':>12} {'ratio':>7}   analyzer stats")
    for scene in CAPTIONS:
        images = frames(scene, args.frames)
        analyzer = OcrTextAnalyzer(config)
        analyzer.engine = engine
        base_ms = timed(baseline, images)
        ours_ms = timed(partial(run_analyzer, analyzer, scene), images)
        s = analyzer.stats
        print(
            f"{scene:<10} {base_ms:>12.1f} {ours_ms:>12.1f} {base_ms / ours_ms:>6.1f}x   "
            f"no_text={s.no_text} steady={s.steady} detect={s.detections} "
            f"recognized={s.regions_recognized} reused={s.regions_reused}"
        )
    print(f"({len(images)} frames of {W}x{H} per scene; {os.cpu_count()} CPUs; ratio = RapidOCR / ocr_text)")


if __name__ == "__main__":
    main()
