"""One video's findings in the shape of Rekognition's ``GetContentModeration``.

A user moving from Rekognition reads the same keys: ``JobStatus``,
``StatusMessage``, ``VideoMetadata``, ``ModerationLabels`` (one entry per
label per analyzed frame, ``Timestamp`` in milliseconds of media time,
ancestors included) or, with ``AggregateBy: SEGMENTS``, one entry per run of
consecutive detections of a label.  framewarden adds ``Source`` (the input as
given) and ``Summary`` (counters, peak confidences, timing).

Segments.  A label's detections are merged into one segment while it is found
in consecutive *analyzed* frames.  Frames skipped as near-duplicates of an
analyzed frame count as showing what that frame showed, so a still scene
flagged once stays one segment.  A hole in the timeline (a frame that could
not be decoded, a gap in the stream) longer than ``merge_gap_ms`` (default:
two sample steps) ends a segment.  ``StartTimestampMillis`` and
``EndTimestampMillis`` are the timestamps of the first and last sampled
frames that show the label; ``DurationMillis`` is their difference.

Analyzers that look only once per interval of media time (``ocr_text``'s
``interval_s``) do not see the frames in between: those frames do not end the
segments of that analyzer's labels.  A segment then spans from the first to
the last analysis that saw the label, joined across gaps up to the analyzer's
interval (``label_span_ms``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from framewarden.result import ModerationLabel, model_version


class Aggregate(StrEnum):
    TIMESTAMPS = "timestamps"
    SEGMENTS = "segments"


class JobStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class AnalyzedFrame:
    """Labels found on one analyzed frame, and the media time it stands for.

    ``covered_until_ms`` is the timestamp of the last sampled frame skipped as
    a duplicate of this one (``pts_ms`` when none was).
    """

    pts_ms: float
    labels: tuple[ModerationLabel, ...]
    covered_until_ms: float

    def covering(self, pts_ms: float) -> AnalyzedFrame:
        return AnalyzedFrame(self.pts_ms, self.labels, max(self.covered_until_ms, pts_ms))


@dataclass(slots=True)
class Counters:
    decoded: int = 0
    sampled: int = 0
    skipped_duplicates: int = 0
    analyzed: int = 0
    keyframes_only: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    start_ms: float
    end_ms: float
    label: ModerationLabel  # peak confidence over the segment

    def to_rekognition(self) -> dict[str, Any]:
        start, end = _ms(self.start_ms), _ms(self.end_ms)
        return {
            "StartTimestampMillis": start,
            "EndTimestampMillis": end,
            "DurationMillis": end - start,
            "ModerationLabel": self.label.to_rekognition(),
        }


def _ms(value: float) -> int:
    return round(value)


def timestamp_entries(frames: Sequence[AnalyzedFrame]) -> list[dict[str, Any]]:
    """Rekognition's TIMESTAMPS view: one entry per (frame, label), by time."""
    entries = []
    for frame in sorted(frames, key=lambda f: f.pts_ms):
        for label in frame.labels:
            entries.append({"Timestamp": _ms(frame.pts_ms), "ModerationLabel": label.to_rekognition()})
    return entries


def segments(
    frames: Sequence[AnalyzedFrame], merge_gap_ms: float, label_span_ms: Mapping[str, float] | None = None
) -> list[Segment]:
    """Runs of consecutive analyzed frames that show a label (see module doc).

    ``label_span_ms``: per label, the interval of the analyzer that finds it; a frame
    without the label within that time of its last sighting does not end its run.
    """
    spans = label_span_ms or {}
    ordered = sorted(frames, key=lambda f: f.pts_ms)
    open_runs: dict[str, tuple[float, float, ModerationLabel]] = {}  # name -> start, end, peak
    closed: list[Segment] = []
    previous_end: float | None = None
    for frame in ordered:
        hole = previous_end is not None and frame.pts_ms - previous_end > merge_gap_ms
        present = {label.name: label for label in frame.labels}
        for name in list(open_runs):
            unseen = name not in present and frame.pts_ms - open_runs[name][1] > spans.get(name, 0.0)
            if hole or unseen:
                start, end, peak = open_runs.pop(name)
                closed.append(Segment(start, end, peak))
        for name, label in present.items():
            if name in open_runs:
                start, _, peak = open_runs[name]
                best = label if label.confidence > peak.confidence else peak
                open_runs[name] = (start, frame.covered_until_ms, best)
            else:
                open_runs[name] = (frame.pts_ms, frame.covered_until_ms, label)
        previous_end = frame.covered_until_ms
    closed.extend(Segment(s, e, p) for s, e, p in open_runs.values())
    closed.sort(key=lambda s: (s.start_ms, s.label.taxonomy_level, s.label.name))
    return closed


def peak_labels(frames: Sequence[AnalyzedFrame]) -> list[dict[str, Any]]:
    """Each label found, with its peak confidence and the number of frames it was on."""
    peak: dict[str, ModerationLabel] = {}
    count: dict[str, int] = {}
    for frame in frames:
        for label in frame.labels:
            count[label.name] = count.get(label.name, 0) + 1
            if label.name not in peak or label.confidence > peak[label.name].confidence:
                peak[label.name] = label
    ordered = sorted(peak.values(), key=lambda lab: (lab.taxonomy_level, -lab.confidence, lab.name))
    return [{**lab.to_rekognition(), "Frames": count[lab.name]} for lab in ordered]


@dataclass(slots=True)
class VideoResult:
    """Everything a scan learned about one input; ``to_dict`` is the JSON written."""

    source: str
    status: JobStatus = JobStatus.SUCCEEDED
    status_message: str = ""
    error_kind: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    frames: list[AnalyzedFrame] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    model_versions: dict[str, str] = field(default_factory=dict)
    sample_interval_s: float = 0.0
    min_confidence: float = 50.0
    wall_s: float = 0.0
    aggregate: Aggregate = Aggregate.TIMESTAMPS
    merge_gap_ms: float = 0.0
    label_span_ms: dict[str, float] = field(default_factory=dict)  # see segments()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Source": self.source, "JobStatus": self.status.value}
        if self.status_message:
            body["StatusMessage"] = self.status_message
        body["VideoMetadata"] = self.metadata
        body["ModerationModelVersion"] = model_version(self.model_versions)
        if self.aggregate is Aggregate.SEGMENTS:
            body["ModerationLabels"] = [
                s.to_rekognition() for s in segments(self.frames, self.merge_gap_ms, self.label_span_ms)
            ]
            body["GetRequestMetadata"] = {"SortBy": "TIMESTAMP", "AggregateBy": "SEGMENTS"}
        else:
            body["ModerationLabels"] = timestamp_entries(self.frames)
            body["GetRequestMetadata"] = {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"}
        c = self.counters
        body["Summary"] = {
            "FramesDecoded": c.decoded,
            "FramesSampled": c.sampled,
            "FramesSkippedAsDuplicates": c.skipped_duplicates,
            "FramesAnalyzed": c.analyzed,
            "KeyframesOnly": c.keyframes_only,
            "SampleIntervalSeconds": self.sample_interval_s,
            "MinConfidence": self.min_confidence,
            "Labels": peak_labels(self.frames),
            "WallSeconds": round(self.wall_s, 3),
            "DecodedFramesPerSecond": round(c.decoded / self.wall_s, 2) if self.wall_s > 0 else 0.0,
            "AnalyzedFramesPerSecond": round(c.analyzed / self.wall_s, 2) if self.wall_s > 0 else 0.0,
        }
        if self.error_kind:
            body["Summary"]["ErrorKind"] = self.error_kind
        return body
