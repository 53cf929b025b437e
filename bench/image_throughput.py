"""Image throughput: framewarden's Moderator against the reference NudeNet loop.

Runs both on the same images in one process, alternating call by call (and
which goes first), so a noisy, shared machine slows both alike.  Checks that
the detections agree first (same classes, box IoU >= 0.8, scores within 5
points), then prints images/s, p50/p99 latency and the ratio to the
reference for:

- files: ``NudeDetector.detect(path)`` vs ``Moderator(["nudenet"]).moderate_image(path)``
  (both decode the file: OpenCV vs Pillow with framewarden's input checks);
- arrays: the same, from pixels already in memory (the model-side cost only);
- batch of 8: ``Moderator.moderate_frames`` on micro-batches (how the pipeline calls it);
- all analyzers: every registered analyzer that can be built, from files.

    python bench/image_throughput.py [--calls 200] [--data /path/to/test/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nudenet import NudeDetector

from framewarden.analyzers.base import available
from framewarden.errors import FramewardenError
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("FRAMEWARDEN_TEST_DATA") or REPO / "tests" / "data")


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union else 0.0


def check_agreement(paths: list[Path], reference: NudeDetector, moderator: Moderator) -> int:
    """Raise if any image's detections differ beyond tolerance; return how many were compared."""
    compared = 0
    for path in paths:
        rgb = load_image(path).rgb
        expected = reference.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        got = moderator.with_all_detections(rgb)
        if sorted(d.raw_class for d in got) != sorted(e["class"] for e in expected):
            raise SystemExit(f"{path.name}: classes differ: {got} vs {expected}")
        for det in got:
            box = [det.box.left, det.box.top, det.box.width, det.box.height] if det.box else [0, 0, 0, 0]
            best = max((e for e in expected if e["class"] == det.raw_class), key=lambda e: iou(box, e["box"]))
            if iou(box, best["box"]) < 0.8 or abs(det.confidence - best["score"] * 100) > 5:
                raise SystemExit(f"{path.name}: {det} differs from {best}")
            compared += 1
    return compared


class NudenetOnly(Moderator):
    def with_all_detections(self, rgb: np.ndarray) -> list:  # type: ignore[type-arg]
        return self.moderate_frames([Frame("bench", 0, 0.0, rgb)])[0].detections


def alternate(
    runs: dict[str, Callable[[int], object]], calls: int, block: int = 10
) -> dict[str, list[float]]:
    """Call each runner ``calls`` times, alternating in blocks and rotating who goes first.

    Blocks, not single calls: ONNX Runtime threads spin-wait after a call, so a
    call right after another session's call pays for that session's spinning.
    Blocks still interleave the runners in time, so machine noise hits both.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for b, start in enumerate(range(0, calls, block)):
        order = names[b % len(names) :] + names[: b % len(names)]
        for name in order:
            for i in range(start, min(calls, start + block)):
                t0 = time.perf_counter()
                runs[name](i)
                times[name].append(time.perf_counter() - t0)
    return times


def video_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` RGB frames spread over a real 720p clip (PyAV)."""
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    step = max(1, len(frames) // count)
    return [np.ascontiguousarray(f) for f in frames[::step][:count]]


def report(title: str, times: dict[str, list[float]], baseline: str, per_call: dict[str, int]) -> None:
    print(f"\n{title}")
    print(f"  {'runner':<34} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    base_rate = per_call[baseline] * len(times[baseline]) / sum(times[baseline])
    for name, samples in times.items():
        n = per_call[name]
        rate = n * len(samples) / sum(samples)
        per_image = sorted(s * 1000 / n for s in samples)
        p50 = statistics.median(per_image)
        p99 = per_image[min(len(per_image) - 1, round(0.99 * (len(per_image) - 1)))]
        print(f"  {name:<34} {rate:9.1f} {p50:8.1f} {p99:8.1f} {rate / base_rate:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per runner (images repeat)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test data folder")
    args = parser.parse_args()
    suffixes = {".png", ".jpg", ".gif"}
    paths = sorted(p for p in (args.data / "images").iterdir() if p.suffix.lower() in suffixes)
    if not paths:
        sys.exit(f"no images under {args.data / 'images'}")
    reference = NudeDetector()
    moderator = NudenetOnly(["nudenet"])
    compared = check_agreement(paths, reference, moderator)
    print(f"{len(paths)} images; detections agree with the reference ({compared} boxes compared)")
    print(f"cpu cores: {os.cpu_count()}, calls per runner: {args.calls}")

    # Warm-up: first session calls allocate.
    for path in paths[:3]:
        reference.detect(str(path))
        moderator.moderate_image(path)

    files = {
        "reference NudeDetector.detect(path)": lambda i: reference.detect(str(paths[i % len(paths)])),
        "Moderator.moderate_image(path)": lambda i: moderator.moderate_image(paths[i % len(paths)]),
    }
    report(
        "files (decode + detect)", alternate(files, args.calls), next(iter(files)), dict.fromkeys(files, 1)
    )

    rgbs = [load_image(p).rgb for p in paths]
    bgrs = [np.ascontiguousarray(a[:, :, ::-1]) for a in rgbs]
    arrays = {
        "reference NudeDetector.detect(bgr)": lambda i: reference.detect(bgrs[i % len(bgrs)]),
        "Moderator.moderate_array(rgb)": lambda i: moderator.moderate_array(rgbs[i % len(rgbs)]),
    }
    report(
        "arrays (detect only)", alternate(arrays, args.calls), next(iter(arrays)), dict.fromkeys(arrays, 1)
    )

    batch = 8
    frames = [Frame("bench", i, 0.0, rgb) for i, rgb in enumerate(rgbs)]

    def batched(i: int) -> object:
        start = (i * batch) % len(frames)
        chunk = (frames + frames)[start : start + batch]
        return moderator.moderate_frames(chunk)

    def reference_batch(i: int) -> object:
        start = (i * batch) % len(bgrs)
        return [reference.detect(b) for b in (bgrs + bgrs)[start : start + batch]]

    batches = {"reference detect(bgr) x8": reference_batch, "Moderator.moderate_frames(8)": batched}
    report(
        "micro-batches of 8 frames",
        alternate(batches, max(1, args.calls // batch), block=3),
        next(iter(batches)),
        dict.fromkeys(batches, batch),
    )

    folder = {
        "reference detect(path) x8": lambda i: [
            reference.detect(str(paths[(i * batch + k) % len(paths)])) for k in range(batch)
        ],
        "Moderator.moderate_many(8 paths)": lambda i: list(
            moderator.moderate_many([paths[(i * batch + k) % len(paths)] for k in range(batch)])
        ),
    }
    report(
        "a folder of files: decode overlapped with batched inference (framewarden moderate)",
        alternate(folder, max(1, args.calls // batch), block=3),
        next(iter(folder)),
        dict.fromkeys(folder, batch),
    )

    clip = args.data / "videos" / "big_buck_bunny_0_30.webm"
    hd = video_frames(clip, 24)
    hd_bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in hd]
    hd_frames = [Frame("bench", i, 0.0, f) for i, f in enumerate(hd)]
    video = {
        "reference NudeDetector.detect(bgr)": lambda i: reference.detect(hd_bgr[i % len(hd_bgr)]),
        "Moderator.moderate_array(rgb)": lambda i: moderator.moderate_array(hd[i % len(hd)]),
    }
    report(
        f"720p video frames ({clip.name}, {hd[0].shape[1]}x{hd[0].shape[0]})",
        alternate(video, args.calls),
        next(iter(video)),
        dict.fromkeys(video, 1),
    )
    video_batches = {
        "reference detect(bgr) x8": lambda i: [
            reference.detect(hd_bgr[(i * batch + k) % len(hd)]) for k in range(batch)
        ],
        "Moderator.moderate_frames(8)": lambda i: moderator.moderate_frames(
            [hd_frames[(i * batch + k) % len(hd)] for k in range(batch)]
        ),
    }
    report(
        "720p video frames, micro-batches of 8 (how scans and live channels call it)",
        alternate(video_batches, max(1, args.calls // batch), block=3),
        next(iter(video_batches)),
        dict.fromkeys(video_batches, batch),
    )

    try:
        everything = Moderator(available())
    except (FramewardenError, ImportError, OSError) as exc:
        print(f"\nall analyzers: not run ({exc})")
        return
    names = ",".join(a.name for a in everything.analyzers)
    full = {
        "reference NudeDetector.detect(path)": files["reference NudeDetector.detect(path)"],
        f"Moderator({names})": lambda i: everything.moderate_image(paths[i % len(paths)]),
    }
    report(
        "all registered analyzers, files",
        alternate(full, args.calls),
        next(iter(full)),
        dict.fromkeys(full, 1),
    )


if __name__ == "__main__":
    main()
