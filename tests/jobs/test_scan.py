"""The scan engine on real clips (redbox analyzer) and on synthetic sources."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framewarden.jobs.results import Aggregate
from framewarden.jobs.scan import Scanner, ScanOptions
from framewarden.jobs.state import ScanState
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from framewarden.result import ModerationResult
from tests.conftest import BROKEN, VIDEOS, real_videos

RED_MS = (2000, 4000)  # where clips.make_clip burns the red box (inclusive)


def _scanner(tmp_path: Path, moderator: Any = None, **opts: Any) -> Scanner:
    mod = moderator or Moderator(["redbox"], min_confidence=50)
    return Scanner(mod, ScanOptions(**opts), ScanState(tmp_path / "out"), model_versions={"redbox": "1"})


def _label_times(body: dict[str, Any], name: str = "Blood & Gore") -> list[int]:
    return [e["Timestamp"] for e in body["ModerationLabels"] if e["ModerationLabel"]["Name"] == name]


def test_every_frame_timestamps_match_ffmpeg(tmp_path: Path, red_clip: Path) -> None:
    (outcome,) = _scanner(tmp_path, sample_interval_s=0, dedup=False).run([str(red_clip)])
    body = outcome.body
    assert body["JobStatus"] == "SUCCEEDED", body.get("StatusMessage")
    # 25 fps: frame n at n*40 ms; drawbox enable='between(t,2,4)' -> frames 50..100.
    assert _label_times(body) == list(range(2000, 4001, 40))
    assert _label_times(body, "Violence") == list(range(2000, 4001, 40))  # ancestors included
    summary = body["Summary"]
    assert (summary["FramesDecoded"], summary["FramesSampled"], summary["FramesAnalyzed"]) == (150, 150, 150)
    assert body["VideoMetadata"]["DurationMillis"] == 6000
    assert body["VideoMetadata"]["FrameWidth"] == 320
    assert outcome.result_file.exists()


def test_sampled_segments(tmp_path: Path, red_clip: Path) -> None:
    (outcome,) = _scanner(tmp_path, sample_interval_s=0.5, aggregate=Aggregate.SEGMENTS).run([str(red_clip)])
    segs = {s["ModerationLabel"]["Name"]: s for s in outcome.body["ModerationLabels"]}
    assert set(segs) == {"Blood & Gore", "Graphic Violence", "Violence"}
    assert (
        segs["Blood & Gore"]["StartTimestampMillis"],
        segs["Blood & Gore"]["EndTimestampMillis"],
    ) == RED_MS
    assert outcome.body["Summary"]["FramesSampled"] == 12


def test_duplicates_extend_segment(tmp_path: Path, static_clip: Path) -> None:
    """A still scene: few frames analyzed, the segment still spans the whole box."""
    (outcome,) = _scanner(tmp_path, sample_interval_s=0.25, aggregate=Aggregate.SEGMENTS).run(
        [str(static_clip)]
    )
    summary = outcome.body["Summary"]
    assert summary["FramesAnalyzed"] == 3  # white, white+box, white again
    assert summary["FramesSkippedAsDuplicates"] == summary["FramesSampled"] - 3
    (seg,) = [s for s in outcome.body["ModerationLabels"] if s["ModerationLabel"]["Name"] == "Blood & Gore"]
    assert (seg["StartTimestampMillis"], seg["EndTimestampMillis"]) == RED_MS


def test_bad_inputs_fail_alone(tmp_path: Path, red_clip: Path) -> None:
    broken = sorted(p for p in BROKEN.iterdir() if p.suffix != ".tsv")
    sources = [str(p) for p in broken] + [str(red_clip), str(tmp_path / "missing.mp4")]
    outcomes = _scanner(tmp_path, sample_interval_s=1.0, workers=2).run(sources)
    by_source = {o.source: o.body for o in outcomes}
    assert [o.source for o in outcomes] == sources
    assert by_source[str(red_clip)]["JobStatus"] == "SUCCEEDED"
    expected_failures = {
        "zero_bytes_result.webm": "empty",
        "small_Mpeg4.mp4": "no video stream",
        "small_png-truncated.png": "",
        "missing.mp4": "no such file",
    }
    for name, fragment in expected_failures.items():
        (body,) = [b for s, b in by_source.items() if s.endswith(name)]
        assert body["JobStatus"] == "FAILED", name
        assert body["StatusMessage"].startswith(body["Source"] + ": ")
        assert fragment in body["StatusMessage"]
        assert "\n" not in body["StatusMessage"]
    # The 1x1, 5-frame clip whose name starts with a dash is valid.
    (dash,) = [b for s, b in by_source.items() if s.endswith("-video-with-dash-.mp4")]
    assert dash["JobStatus"] == "SUCCEEDED"


def test_real_videos_all_succeed(tmp_path: Path) -> None:
    outcomes = _scanner(tmp_path, sample_interval_s=2.0, workers=2).run([str(p) for p in real_videos()])
    assert {Path(o.source).name: o.body["JobStatus"] for o in outcomes} == {
        p.name: "SUCCEEDED" for p in real_videos()
    }
    flagged = set()
    for o in outcomes:
        assert o.body["Summary"]["FramesAnalyzed"] >= 1
        if o.body["ModerationLabels"]:
            flagged.add(Path(o.source).name)
    assert flagged == {"transparent.webm"}  # the only shared clip with red in it (a red dot)


def test_workers_do_not_change_results(tmp_path: Path, red_clip: Path, static_clip: Path) -> None:
    sources = [str(red_clip), str(static_clip), str(VIDEOS / "bikes.mp4")]
    one = _scanner(tmp_path / "1", sample_interval_s=0.2, workers=1).run(sources)
    three = _scanner(tmp_path / "3", sample_interval_s=0.2, workers=3).run(sources)
    for a, b in zip(one, three, strict=True):
        assert a.body["ModerationLabels"] == b.body["ModerationLabels"]
        assert a.body["Summary"]["FramesAnalyzed"] == b.body["Summary"]["FramesAnalyzed"]


# --- synthetic sources: back-pressure and failures -----------------------------


class FakeStats:
    decoded = 0
    keyframes_only = False


class FakeMeta:
    duration_ms = 1000
    frame_rate = 10.0

    def to_rekognition(self) -> dict[str, Any]:
        return {"DurationMillis": self.duration_ms}


class FakeSource:
    """``n`` random (never duplicate) frames; records how far decoding got."""

    def __init__(self, source: str, n: int, pulled: list[int]) -> None:
        self.source, self.n, self.pulled = source, n, pulled
        self.metadata, self.stats = FakeMeta(), FakeStats()

    def __enter__(self) -> FakeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def frames(self, *, channel: str, sample_interval_s: float = 0.0, max_side: int = 0) -> Iterator[Frame]:
        rng = np.random.default_rng(0)
        for i in range(self.n):
            self.pulled.append(i)
            self.stats.decoded += 1
            yield Frame(channel, i, i * 100.0, rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))


class GatedModerator:
    def __init__(self, fail_on: str = "") -> None:
        self.gate = threading.Event()
        self.fail_on = fail_on

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        self.gate.wait(10)
        if any(f.channel == self.fail_on for f in frames):
            raise RuntimeError("inference exploded\nwith a traceback line")
        return [ModerationResult(f.channel, 16, 16, [], {}, pts_ms=f.pts_ms) for f in frames]


@pytest.mark.parametrize("max_in_flight", [1, 4, 16])
def test_decoding_blocks_when_inference_lags(tmp_path: Path, max_in_flight: int) -> None:
    pulled: list[int] = []
    mod = GatedModerator()
    scanner = _scanner(tmp_path, mod, max_in_flight=max_in_flight, max_batch=2)
    scanner.opener = lambda source, **kw: FakeSource(source, 100, pulled)
    thread = threading.Thread(target=lambda: scanner.run(["fake"]))
    thread.start()
    thread.join(0.5)  # inference is stuck: decoding must stop, not buffer 100 frames
    assert max_in_flight + 1 <= len(pulled) <= max_in_flight + 2
    mod.gate.set()
    thread.join(10)
    assert len(pulled) == 100
    assert ScanState(tmp_path / "out").completed("fake")["Summary"]["FramesAnalyzed"] == 100


def test_inference_failure_fails_that_video(tmp_path: Path) -> None:
    mod = GatedModerator(fail_on="bad")
    mod.gate.set()
    scanner = _scanner(tmp_path, mod, max_batch=1, workers=2)
    scanner.opener = lambda source, **kw: FakeSource(source, 5, [])
    good, bad = scanner.run(["good", "bad"])
    assert good.body["JobStatus"] == "SUCCEEDED"
    assert bad.body["JobStatus"] == "FAILED"
    assert bad.body["StatusMessage"] == "bad: inference exploded"


def test_resume_skips_completed(tmp_path: Path) -> None:
    mod = GatedModerator()
    mod.gate.set()
    pulled: list[int] = []
    first = _scanner(tmp_path, mod)
    first.opener = lambda source, **kw: FakeSource(source, 3, pulled)
    first.run(["a"])
    again = _scanner(tmp_path, mod, resume=True)
    again.opener = lambda source, **kw: FakeSource(source, 3, pulled)
    (a, b) = again.run(["a", "b"])
    assert (a.resumed, b.resumed) == (True, False)
    assert len(pulled) == 6  # "a" decoded once, "b" once


def test_evidence_flagged_and_clean(tmp_path: Path, red_clip: Path) -> None:
    scanner = _scanner(tmp_path, sample_interval_s=1.0, evidence_flagged=True, evidence_clean=True)
    scanner.run([str(red_clip)])
    root = tmp_path / "out" / "evidence"
    flagged = sorted(p.name.rsplit("_", 1)[1] for p in (root / "flagged").glob("*.jpg"))
    clean = sorted(p.name.rsplit("_", 1)[1] for p in (root / "clean").glob("*.jpg"))
    assert flagged == ["0000002000ms.jpg", "0000003000ms.jpg", "0000004000ms.jpg"]
    assert clean == ["0000000000ms.jpg", "0000001000ms.jpg", "0000005000ms.jpg"]
    meta = (root / "flagged").glob("*0000003000ms.json")
    import json

    body = json.loads(next(meta).read_text())
    assert body["Timestamp"] == 3000
    assert {lab["Name"] for lab in body["ModerationLabels"]} == {
        "Blood & Gore",
        "Graphic Violence",
        "Violence",
    }
