"""Segments of an analyzer that looks once per interval span the frames it did not look at."""

from __future__ import annotations

from pathlib import Path

from framewarden.jobs.results import Aggregate, AnalyzedFrame, segments
from framewarden.jobs.scan import Scanner, ScanOptions
from framewarden.jobs.state import ScanState
from framewarden.moderator import Moderator
from framewarden.result import ModerationLabel
from tests.jobs.redbox import RedBoxConfig

TEXT = ModerationLabel("Blocklisted Text", "", 1, 90.0)
NUDE = ModerationLabel("Explicit", "", 1, 80.0)


def _frames(seen: dict[int, list[ModerationLabel]], seconds: range) -> list[AnalyzedFrame]:
    return [AnalyzedFrame(s * 1000.0, tuple(seen.get(s, [])), s * 1000.0) for s in seconds]


def test_ocr_every_2s_gives_one_segment_from_6_to_10s() -> None:
    # Text on screen 6..10 s, OCR every 2 s, frames sampled every second.
    frames = _frames({6: [TEXT], 8: [TEXT], 10: [TEXT]}, range(0, 14))
    without = segments(frames, merge_gap_ms=2001)
    assert [(s.start_ms, s.end_ms) for s in without] == [(6000, 6000), (8000, 8000), (10000, 10000)]
    (seg,) = segments(frames, merge_gap_ms=2001, label_span_ms={"Blocklisted Text": 2000})
    assert (seg.start_ms, seg.end_ms) == (6000, 10000)


def test_every_frame_labels_still_end_when_absent() -> None:
    frames = _frames({2: [NUDE, TEXT], 3: [NUDE], 5: [NUDE]}, range(0, 8))
    got = segments(frames, merge_gap_ms=2001, label_span_ms={"Blocklisted Text": 2000})
    assert [(s.label.name, s.start_ms, s.end_ms) for s in got] == [
        ("Blocklisted Text", 2000, 2000),
        ("Explicit", 2000, 3000),
        ("Explicit", 5000, 5000),
    ]


def test_scan_joins_an_interval_analyzers_segment(tmp_path: Path, red_clip: Path) -> None:
    # The red box is on screen 2.0..4.0 s; redbox looks once a second, frames every 0.5 s.
    moderator = Moderator([RedBoxConfig(interval_s=1.0)], min_confidence=50)
    options = ScanOptions(sample_interval_s=0.5, aggregate=Aggregate.SEGMENTS, dedup=False)
    scanner = Scanner(moderator, options, ScanState(tmp_path / "out"), model_versions={"redbox": "1"})
    (outcome,) = scanner.run([str(red_clip)])
    spans = [
        (s["StartTimestampMillis"], s["EndTimestampMillis"])
        for s in outcome.body["ModerationLabels"]
        if s["ModerationLabel"]["Name"] == "Blood & Gore"
    ]
    assert spans == [(2000, 4000)]
