"""GetContentModeration shape: timestamps, segments, summary."""

from __future__ import annotations

import pytest

from framewarden.jobs.results import (
    Aggregate,
    AnalyzedFrame,
    JobStatus,
    VideoResult,
    segments,
    timestamp_entries,
)
from framewarden.result import ModerationLabel

GORE = ModerationLabel("Blood & Gore", "Graphic Violence", 3, 90.0)
WEAPONS = ModerationLabel("Weapons", "Violence", 2, 70.0)


def _f(pts: float, *labels: ModerationLabel, until: float | None = None) -> AnalyzedFrame:
    return AnalyzedFrame(pts, tuple(labels), pts if until is None else until)


def _spans(frames: list[AnalyzedFrame], gap: float = 1001.0) -> list[tuple[str, int, int, int]]:
    out = []
    for seg in segments(frames, gap):
        d = seg.to_rekognition()
        out.append((d["ModerationLabel"]["Name"], d["StartTimestampMillis"], d["EndTimestampMillis"],
                    d["DurationMillis"]))  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([], []),
        ([_f(0), _f(500)], []),
        ([_f(0, GORE)], [("Blood & Gore", 0, 0, 0)]),
        ([_f(0, GORE), _f(500, GORE), _f(1000, GORE)], [("Blood & Gore", 0, 1000, 1000)]),
        # A frame without the label ends the run.
        (
            [_f(0, GORE), _f(500), _f(1000, GORE)],
            [("Blood & Gore", 0, 0, 0), ("Blood & Gore", 1000, 1000, 0)],
        ),
        # Duplicates of a flagged frame extend its segment.
        ([_f(0), _f(500, GORE, until=3000), _f(3500)], [("Blood & Gore", 500, 3000, 2500)]),
        # A hole longer than the merge gap (a lost part of the stream) ends the run.
        ([_f(0, GORE), _f(5000, GORE)], [("Blood & Gore", 0, 0, 0), ("Blood & Gore", 5000, 5000, 0)]),
        # Two labels, independent runs; input order does not matter.
        (
            [_f(1000, GORE), _f(0, GORE, WEAPONS), _f(500, GORE, WEAPONS)],
            [("Weapons", 0, 500, 500), ("Blood & Gore", 0, 1000, 1000)],  # same start: level 2 first
        ),
    ],
)
def test_segments(frames: list[AnalyzedFrame], expected: list[tuple[str, int, int, int]]) -> None:
    assert _spans(frames) == expected


def test_segment_keeps_peak_confidence() -> None:
    weak = ModerationLabel("Blood & Gore", "Graphic Violence", 3, 60.0)
    (seg,) = segments([_f(0, weak), _f(500, GORE), _f(1000, weak)], 1001)
    assert seg.label.confidence == 90.0


def test_timestamp_entries_sorted_by_time() -> None:
    entries = timestamp_entries([_f(1000.4, GORE), _f(0, WEAPONS, GORE)])
    assert [(e["Timestamp"], e["ModerationLabel"]["Name"]) for e in entries] == [
        (0, "Weapons"),
        (0, "Blood & Gore"),
        (1000, "Blood & Gore"),
    ]
    assert entries[0]["ModerationLabel"] == WEAPONS.to_rekognition()


@pytest.mark.parametrize(
    ("aggregate", "key"), [(Aggregate.TIMESTAMPS, "Timestamp"), (Aggregate.SEGMENTS, "StartTimestampMillis")]
)
def test_to_dict_shape(aggregate: Aggregate, key: str) -> None:
    result = VideoResult(source="a.mp4", aggregate=aggregate, merge_gap_ms=1001, model_versions={"x": "1"})
    result.frames = [_f(0, GORE), _f(500, GORE)]
    result.counters.decoded, result.counters.sampled, result.counters.analyzed = 50, 2, 2
    result.wall_s = 0.5
    body = result.to_dict()
    assert body["Source"] == "a.mp4"
    assert body["JobStatus"] == "SUCCEEDED"
    assert "StatusMessage" not in body
    assert body["GetRequestMetadata"]["AggregateBy"] == aggregate.value.upper()
    assert all(key in e for e in body["ModerationLabels"])
    assert body["Summary"]["Labels"] == [{**GORE.to_rekognition(), "Frames": 2}]
    assert body["Summary"]["DecodedFramesPerSecond"] == 100.0
    assert body["ModerationModelVersion"] == "x=1"


def test_failed_result_has_message() -> None:
    body = VideoResult(source="x", status=JobStatus.FAILED, status_message="x: no such file").to_dict()
    assert (body["JobStatus"], body["StatusMessage"], body["ModerationLabels"]) == (
        "FAILED",
        "x: no such file",
        [],
    )
