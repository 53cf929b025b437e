"""ms per 720p frame: image_safety alone, nudenet alone, the default set; side by side, as ratios.

Each configuration runs over the same 720p frames (the shared Big Buck Bunny
clip), in interleaved rounds in one process so that machine noise hits all of
them alike; the figure reported is the median round.  Ratios are against
nudenet alone (second opinion off), the previous default's main cost.

    PYTHONPATH=src python bench/analyzer_cost.py $DATA/videos/big_buck_bunny_0_30.webm
"""

from __future__ import annotations

import statistics
import sys
import time

import av

from framewarden.analyzers.nudenet import NudeNetConfig
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator

ROUNDS = 3


def main(path: str, every: int = 24) -> None:
    with av.open(path) as container:
        frames = [
            Frame("bench", i, f.time * 1000, f.to_ndarray(format="rgb24"))
            for i, f in enumerate(container.decode(video=0))
            if i % every == 0
        ]
    h, w = frames[0].image.shape[:2]
    configs = {
        "nudenet alone (2nd opinion off)": [NudeNetConfig(second_opinion=False)],
        "nudenet (2nd opinion on, default)": ["nudenet"],
        "image_safety alone": ["image_safety"],
        "nudenet compact (2nd opinion off)": [NudeNetConfig(second_opinion=False, compact=True)],
        "default set (nudenet, ocr_text, hashlist)": ["nudenet", "ocr_text", "hashlist"],
    }
    moderators = {name: Moderator(analyzers) for name, analyzers in configs.items()}
    for moderator in moderators.values():  # warm-up: first-call allocations
        moderator.moderate_frames(frames[:8])
    timings: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(ROUNDS):
        for name, moderator in moderators.items():
            start = time.perf_counter()
            for k in range(0, len(frames), 8):
                moderator.moderate_frames(frames[k : k + 8])
            timings[name].append((time.perf_counter() - start) * 1000 / len(frames))
    base = statistics.median(timings["nudenet alone (2nd opinion off)"])
    print(f"{len(frames)} frames of {w}x{h}, batches of 8, median of {ROUNDS} interleaved rounds")
    for name, values in timings.items():
        ms = statistics.median(values)
        print(f"{name:45s} {ms:7.1f} ms/frame  x{ms / base:.2f} of nudenet alone")


if __name__ == "__main__":
    main(sys.argv[1])
