"""Same frame, same score: a frame's NudeNet labels do not depend on the path it took.

Issue 9: a cartoon frame scored 36.9 in ``scan --analyzers nudenet`` and 51.9
with ``nudenet,ocr_text``, because the decoder scaled frames to a size that
depended on the analyzer set (swscale's filter, not the reference's).  Here
the same 1-second clip goes through every path a frame can take:

* the reference: full-size decode (PyAV ``rgb24``), NudeNet on the full frame;
* ``moderate``: each full frame saved as PNG (lossless), moderated as a file;
* ``scan`` (the real CLI, in a subprocess) with every analyzer set that includes nudenet;
* a live channel worker (the real worker, batcher and Moderator, decoder sized as the server sizes it);

and every path must give the reference's labels, to the rounding of the result files.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from framewarden import taxonomy
from framewarden.analyzers.nudenet import NudeNetConfig
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.context import MemoryResultSink, WorkerContext, preferred_max_side
from framewarden.pipeline.worker import ChannelSpec, ChannelWorker
from framewarden.rules.models import Rule
from tests.conftest import REPO, VIDEOS

# The frame (18.042 s) and its neighbours: NudeNet finds body parts on the rabbit here.
CLIP_START_S, CLIP_LENGTH_S = 17.5, 1.0
OTHERS = ("ocr_text", "hashlist")
COMBOS = [("nudenet", *extra) for n in range(len(OTHERS) + 1) for extra in itertools.combinations(OTHERS, n)]
TOLERANCE = 0.002  # result files round confidences to 3 decimals
# The second opinion acts the same on every path; off here, so NudeNet's own labels are compared.
RAW = NudeNetConfig(second_opinion=False)
RAW_OPTIONS = json.dumps({"nudenet": {"second_opinion": False}})

Labels = dict[int, dict[str, float]]  # media time (ms) -> nudenet's labels on that frame


def _nudenet_labels(labels: dict[str, float]) -> dict[str, float]:
    """Only labels under NudeNet's categories: OCR or hash labels are another analyzer's business."""
    roots = {"Explicit", "Non-Explicit Nudity of Intimate parts and Kissing"}
    return {name: c for name, c in labels.items() if taxonomy.top_level(name) in roots}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("same-frame") / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            str(CLIP_START_S),
            "-i",
            str(VIDEOS / "big_buck_bunny_0_30.webm"),
            "-t",
            str(CLIP_LENGTH_S),
            "-an",
            "-c:v",
            "libx264",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out


@pytest.fixture(scope="module")
def full_frames(clip: Path) -> list[tuple[int, Any]]:
    """(pts ms, full-size RGB) of every frame, decoded as the reference would."""
    with av.open(str(clip)) as container:
        return [(round(f.time * 1000), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def reference(full_frames: list[tuple[int, Any]]) -> Labels:
    from framewarden.media.frame import Frame

    moderator = Moderator([RAW], min_confidence=0.0)
    frames = [Frame("ref", i, float(t), rgb) for i, (t, rgb) in enumerate(full_frames)]
    results = moderator.moderate_frames(frames)
    found = {
        t: _nudenet_labels({lab.name: lab.confidence for lab in r.labels})
        for (t, _), r in zip(full_frames, results, strict=True)
    }
    assert sum(1 for labels in found.values() if labels) >= 1, "the clip must give NudeNet something to score"
    return found


def _assert_same(got: Labels, expected: Labels, path: str) -> None:
    assert set(got) <= set(expected), f"{path}: unknown timestamps {sorted(set(got) - set(expected))}"
    for t, labels in got.items():
        assert set(labels) == set(expected[t]), (path, t, labels, expected[t])
        for name, confidence in labels.items():
            assert confidence == pytest.approx(expected[t][name], abs=TOLERANCE), (path, t, name)


def test_moderate_gives_the_reference_scores(
    full_frames: list[tuple[int, Any]], reference: Labels, tmp_path: Path
) -> None:
    moderator = Moderator([RAW, *OTHERS], min_confidence=0.0)
    got: Labels = {}
    for t, rgb in full_frames:
        path = tmp_path / f"{t}.png"
        Image.fromarray(rgb).save(path)
        result = moderator.moderate_image(path)
        got[t] = _nudenet_labels({lab.name: lab.confidence for lab in result.labels})
    assert len(got) == len(reference)
    _assert_same(got, reference, "moderate")


@pytest.mark.slow
@pytest.mark.parametrize("combo", COMBOS, ids=",".join)
def test_scan_gives_the_reference_scores(
    combo: tuple[str, ...], clip: Path, reference: Labels, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "FRAMEWARDEN_DATA_DIR": str(tmp_path / "data"),
        "FRAMEWARDEN_ANALYZER_OPTIONS": RAW_OPTIONS,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "framewarden",
            "scan",
            str(clip),
            "--sample-interval",
            "0",
            "--no-dedup",
            "--min-confidence",
            "0",
            "--analyzers",
            ",".join(combo),
            "--out",
            str(out),
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (result_file,) = out.glob("clip.mp4-*.json")
    body = json.loads(result_file.read_text())
    got: Labels = {t: {} for t in reference}
    for row in body["ModerationLabels"]:
        label = row["ModerationLabel"]
        got.setdefault(row["Timestamp"], {})[label["Name"]] = label["Confidence"]
    got = {t: _nudenet_labels(labels) for t, labels in got.items()}
    assert body["Summary"]["FramesAnalyzed"] == len(reference)
    _assert_same(got, reference, f"scan --analyzers {','.join(combo)}")


class _OneAtATime:
    """The real file source, handing out the next frame only once the last one has a result.

    A live worker keeps the newest frames and abandons its queue when the stream ends
    (latency over completeness); pacing by results makes every frame reach the analyzers.
    """

    def __init__(self, source: Any, done: threading.Semaphore) -> None:
        self._source, self._done = source, done
        self.stats = source.stats

    def frames(self, **kwargs: Any) -> Any:
        for i, frame in enumerate(self._source.frames(**kwargs)):
            if i:
                assert self._done.acquire(timeout=60), "no result for the previous frame"
            yield frame

    def close(self) -> None:
        self._source.close()


def test_live_worker_gives_the_reference_scores(clip: Path, reference: Labels) -> None:
    from framewarden.events import EventBus
    from framewarden.media.source import open_video

    done = threading.Semaphore(0)
    events = EventBus()
    events.subscribe(lambda event: done.release() if event.kind == "result" else None)
    # nudenet alone: the set whose decoder size used to be 320 (the case issue 9 measured).
    moderator = Moderator([RAW], min_confidence=0.0)
    batcher = InferenceBatcher(moderator, max_batch=4, max_wait_ms=1.0).start()
    sink = MemoryResultSink()
    try:
        context = WorkerContext(
            batcher=batcher,
            results=sink,
            events=events,
            # What the server does (api/runtime.py): decoder size from the analyzers.
            max_side=preferred_max_side(moderator.analyzers),
            # The file opened as a file: an RTMP publisher would re-encode it, and the frames with it.
            open_source=lambda source, timeout_s=10.0: _OneAtATime(
                open_video(source, timeout_s=timeout_s), done
            ),
        )
        rule = Rule(
            id="watch",
            channel_pattern=".*",
            sample_interval_s=0.0,
            labels={"Explicit": {"alert": 100}},
            similarity={"enabled": False},
        )
        # A queue longer than the clip: a live worker drops frames only when inference falls behind.
        worker = ChannelWorker(ChannelSpec("cam", str(clip), rule, queue_size=64), context)
        outcome = worker.run_session(threading.Event())
    finally:
        batcher.close(5.0)
    records = sink.for_channel("cam")
    assert len(records) == len(reference), (outcome, worker.stats.to_dict())
    got = {round(r.pts_ms): _nudenet_labels(dict(r.labels)) for r in records}
    _assert_same(got, reference, "live worker")
