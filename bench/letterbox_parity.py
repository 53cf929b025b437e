"""Parity of both NudeNet letterbox modes with the reference ``NudeDetector``.

Over every shared image and every ``--step``-th frame of every shared video,
each mode's detections are matched to the reference's (same class, best IoU);
printed: worst IoU, worst confidence difference (points), and frames whose
class lists differ.

    PYTHONPATH=src python bench/letterbox_parity.py $DATA --step 12
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np
from nudenet import NudeDetector

from framewarden.analyzers.nudenet import NudeNetAnalyzer, NudeNetConfig
from framewarden.media.frame import Frame
from framewarden.media.image import IMAGE_SUFFIXES, load_image


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def frames(data: Path, step: int) -> list[np.ndarray]:
    out = [
        load_image(p).rgb for p in sorted((data / "images").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    for path in sorted((data / "videos").iterdir()):
        try:
            with av.open(str(path)) as container:
                out += [
                    f.to_ndarray(format="rgb24")
                    for i, f in enumerate(container.decode(video=0))
                    if i % step == 0
                ]
        except av.error.FFmpegError:
            continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--step", type=int, default=12)
    args = parser.parse_args()
    images = frames(args.data, args.step)
    reference = NudeDetector()
    expected = [reference.detect(np.ascontiguousarray(rgb[:, :, ::-1])) for rgb in images]
    print(f"{len(images)} images and video frames, {sum(map(len, expected))} reference detections")
    for compact in (False, True):
        analyzer = NudeNetAnalyzer(NudeNetConfig(compact=compact, second_opinion=False))
        worst_iou, worst_diff, class_mismatch = 1.0, 0.0, 0
        for rgb, exp in zip(images, expected, strict=True):
            got = analyzer.analyze([Frame("p", 0, 0.0, rgb)])[0]
            if sorted(d.raw_class for d in got) != sorted(e["class"] for e in exp):
                class_mismatch += 1
            for det in got:
                same = [e for e in exp if e["class"] == det.raw_class]
                if not same or det.box is None:
                    continue
                box = (det.box.left, det.box.top, det.box.width, det.box.height)
                match = max(same, key=lambda e: _iou(box, tuple(e["box"])))
                worst_iou = min(worst_iou, _iou(box, tuple(match["box"])))
                worst_diff = max(worst_diff, abs(det.confidence - match["score"] * 100))
        mode = "compact" if compact else "square (default)"
        print(
            f"{mode:18s} worst IoU {worst_iou:.3f}  worst confidence diff {worst_diff:.2f} points  "
            f"frames with other classes {class_mismatch}"
        )


if __name__ == "__main__":
    main()
