"""Decode throughput of framewarden's video source against ``ffmpeg -f null -``.

Run: ``python bench/decode_throughput.py [--seconds 20] [--max-side 640]``.

Two 720p H.264 inputs are made in a temporary folder: ffmpeg's testsrc2 with
a keyframe every 30 frames, and a real 720p clip from the shared data (Big
Buck Bunny, VP8) re-encoded to H.264 and looped.  For each, the same process
times, side by side:

* baseline: ``ffmpeg -i FILE -f null -`` (decode only, all threads);
* framewarden, every frame decoded and converted to RGB at analyzer size;
* framewarden, 1 frame per second (keyframes-only decoding when the GOP allows).

and prints frames per second of media and ratios against the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from framewarden.media.source import open_video

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or ROOT / "tests" / "data") / "videos"


def make_inputs(folder: Path, seconds: int) -> dict[str, Path]:
    synthetic = folder / "testsrc2-720p-g30.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            str(synthetic),
        ],
        check=True,
    )
    real = folder / "bbb-720p-looped.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(SHARED / "big_buck_bunny_0_30.webm"),
            "-t",
            str(seconds),
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(real),
        ],
        check=True,
    )
    return {"testsrc2 720p g30": synthetic, "real 720p (BBB, H.264)": real}


def ffmpeg_null(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "null", "-"], check=True)
    elapsed = time.perf_counter() - started
    with open_video(str(path)) as video:
        frames = round(video.metadata.duration_ms / 1000 * video.metadata.frame_rate)
    return elapsed, frames


def framewarden(path: Path, interval_s: float, max_side: int) -> tuple[float, int, int, bool]:
    started = time.perf_counter()
    with open_video(str(path)) as video:
        kept = sum(1 for _ in video.frames(channel="bench", sample_interval_s=interval_s, max_side=max_side))
        stats = video.stats
    return time.perf_counter() - started, kept, stats.decoded, stats.keyframes_only


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each test video")
    parser.add_argument("--max-side", type=int, default=640, help="analyzer size (longer side)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), args.seconds)
        print(f"{'input':26} {'run':34} {'media fps':>10} {'x ffmpeg':>9}  notes")
        for name, path in inputs.items():
            base_s, frames = ffmpeg_null(path)
            base_fps = frames / base_s
            print(f"{name:26} {'ffmpeg -f null - (decode only)':34} {base_fps:10.0f} {1.0:9.2f}")
            for label, interval in ((f"every frame -> rgb24 {args.max_side}", 0.0), ("1 fps sample", 1.0)):
                elapsed, kept, decoded, keyonly = framewarden(path, interval, args.max_side)
                fps = frames / elapsed
                notes = f"decoded {decoded}, kept {kept}, keyframes_only={keyonly}"
                print(f"{'':26} {label:34} {fps:10.0f} {fps / base_fps:9.2f}  {notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
