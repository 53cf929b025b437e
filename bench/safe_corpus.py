"""Frames of safe media flagged at default settings, per analyzer, before/after the second opinion.

The corpus is media that packages ship (see bench/README-corpus.md for how to
gather it and the licenses): image folders, ``.npy`` stacks of grayscale
images (scikit-image's ``lfw_subset.npy``: 200 faces), and videos sampled
every ``--video-step`` frames.  A frame is "flagged" by an analyzer when one
of its detections is a moderation label at or above ``Settings.min_confidence``
(50 by default: the default rule's alert threshold).

    PYTHONPATH=src python bench/safe_corpus.py /tmp/corpus $DATA/images \\
        --videos $DATA/videos --video-step 6
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from framewarden import taxonomy
from framewarden.analyzers.nudenet import NudeNetConfig
from framewarden.config import get_settings
from framewarden.media.frame import Frame
from framewarden.media.image import IMAGE_SUFFIXES, load_image
from framewarden.moderator import Moderator


def corpus(folders: list[Path], videos: Path | None, step: int) -> Iterator[tuple[str, Frame]]:
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                try:
                    yield path.name, Frame(path.name, 0, 0.0, load_image(path).rgb)
                except Exception as exc:  # a bench: report and go on
                    sys.stderr.write(f"skip {path}: {exc}\n")
            elif path.suffix == ".npy":
                stack = np.load(path)
                for i, gray in enumerate(stack):
                    img = np.clip(
                        np.asarray(gray, dtype=np.float64) * (255 if gray.max() <= 1 else 1), 0, 255
                    )
                    rgb = np.repeat(img.astype(np.uint8)[:, :, None], 3, axis=2)
                    yield f"{path.name}[{i}]", Frame(path.name, i, 0.0, np.ascontiguousarray(rgb))
    if videos is not None:
        import av

        for path in sorted(videos.iterdir()):
            try:
                with av.open(str(path)) as container:
                    for i, frame in enumerate(container.decode(video=0)):
                        if i % step == 0:
                            yield (
                                f"{path.name}@{i}",
                                Frame(path.name, i, 0.0, frame.to_ndarray(format="rgb24")),
                            )
            except Exception as exc:
                sys.stderr.write(f"skip {path}: {exc}\n")


def flagged_by(moderator: Moderator, frames: list[Frame], floor: float) -> tuple[Counter[str], list[str]]:
    per_analyzer: Counter[str] = Counter()
    examples: list[str] = []
    for start in range(0, len(frames), 8):
        chunk = frames[start : start + 8]
        for frame, result in zip(chunk, moderator.moderate_frames(chunk), strict=True):
            hits = {
                d.analyzer for d in result.detections if taxonomy.is_label(d.label) and d.confidence >= floor
            }
            per_analyzer.update(hits)
            if hits:
                examples.append(
                    f"{frame.channel}#{frame.seq}: "
                    + ", ".join(
                        f"{d.analyzer}:{d.raw_class}={d.confidence:.1f}"
                        for d in result.detections
                        if taxonomy.is_label(d.label) and d.confidence >= floor
                    )
                )
    return per_analyzer, examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--videos", type=Path)
    parser.add_argument("--video-step", type=int, default=6)
    args = parser.parse_args()
    frames = [f for _, f in corpus(args.folders, args.videos, args.video_step)]
    floor = get_settings().min_confidence
    print(f"safe corpus: {len(frames)} frames; flagged = a moderation label >= {floor}")
    runs = {
        "default set, second opinion off": [NudeNetConfig(second_opinion=False), "ocr_text", "hashlist"],
        "default set (second opinion on)": ["nudenet", "ocr_text", "hashlist"],
        "image_safety alone": ["image_safety"],
    }
    for title, analyzers in runs.items():
        counts, examples = flagged_by(Moderator(analyzers), frames, floor)
        print(f"{title}: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none flagged"))
        for line in examples[:10]:
            print("   ", line)


if __name__ == "__main__":
    main()
