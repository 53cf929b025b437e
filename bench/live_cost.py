"""What one live channel costs, per frame, for placement on a cluster (``live_*_ms`` settings).

Measures CPU time (process time, so a busy machine inflates it less than wall time) of:
decoding every frame of a 720p H.264 clip, decoding its keyframes only, and analyzing one
sampled frame with the given analyzers (batches of 8, as the live batcher forms them).
Then prints the CPU share of a channel at each sampling and how many fit on a node.

    python bench/live_cost.py --analyzers nudenet [--headroom 0.9] [--node-cpus 4]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from framewarden.engines.capacity import CostModel, estimate
from framewarden.media.source import open_video
from framewarden.moderator import Moderator


def clip(path: Path, gop_s: float, fps: int = 30, seconds: int = 10) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={fps}",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", str(int(gop_s * fps)),
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def decode_ms(path: Path, *, keyframes_only: bool, max_side: int) -> float:
    """CPU ms per decoded frame (scaled in the decoder to ``max_side``, as live channels do)."""
    with open_video(str(path)) as video:
        interval = 10.0 if keyframes_only else 0.0
        t0 = time.process_time()
        frames = video.frames(channel="b", sample_interval_s=interval, max_side=max_side)
        for _ in frames:
            pass
        return 1000 * (time.process_time() - t0) / max(1, int(video.stats.decoded))


def infer_ms(path: Path, analyzers: list[str]) -> tuple[float, int]:
    moderator = Moderator(analyzers)
    max_side = max(int(getattr(a, "preferred_max_side", 0) or 0) for a in moderator.analyzers)
    with open_video(str(path)) as video:
        stream = video.frames(channel="m", sample_interval_s=0.25, max_side=max_side)
        frames = [f for _, f in zip(range(32), stream, strict=False)]
    moderator.moderate_frames(frames[:8])  # warm-up
    t0 = time.process_time()
    for i in range(0, len(frames), 8):
        moderator.moderate_frames(frames[i : i + 8])
    return 1000 * (time.process_time() - t0) / len(frames), max_side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--analyzers", default="nudenet")
    parser.add_argument("--headroom", type=float, default=0.9)
    parser.add_argument("--node-cpus", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = clip(Path(tmp) / "gop1.mp4", 1.0)
        model_ms, max_side = infer_ms(path, args.analyzers.split(","))
        full = decode_ms(path, keyframes_only=False, max_side=max_side)
        key = decode_ms(path, keyframes_only=True, max_side=max_side)
    print(f"720p, frames scaled to {max_side or 'full size'}: full decode {full:.2f} ms/frame, "
          f"keyframe {key:.2f} ms/keyframe (ratio {key / full:.2f}), "
          f"{args.analyzers} {model_ms:.1f} ms/frame (CPU time)")  # fmt: skip
    print(f"settings: live_decode_ms = {full:.1f}, live_keyframe_decode_ms = {key:.1f}, "
          f"live_infer_ms = {model_ms:.1f}")  # fmt: skip
    budget = args.node_cpus * args.headroom
    print(f"\n| sampling | GOP | decode | CPU per channel | channels per {args.node_cpus:g}-CPU node |")
    print("|---|---|---|---|---|")
    for interval, gop in ((1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (0.5, 2.0), (0.0, 1.0)):
        model = CostModel(decode_ms=full, keyframe_decode_ms=key, infer_ms=model_ms, fps=30, gop_s=gop)
        cost = estimate(interval, model)
        what = "keyframes" if cost.keyframes_only else "every frame"
        every = "every frame" if interval == 0 else f"1 per {interval:g} s"
        print(f"| {every} | {gop:g} s | {what} | {cost.cpus:.3f} | {int(budget // cost.cpus)} |")


if __name__ == "__main__":
    main()
