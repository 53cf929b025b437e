"""The canonical moderation result and its Rekognition-shaped views.

Every analyzer emits :class:`~framewarden.analyzers.base.Detection`s; this
module rolls them up into taxonomy labels the way Rekognition reports them:
a level-3 label also reports its level-2 and level-1 ancestors, each with
the highest confidence among its children.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from framewarden import taxonomy
from framewarden.analyzers.base import Detection

DEFAULT_MIN_CONFIDENCE = 50.0


@dataclass(frozen=True, slots=True)
class ModerationLabel:
    name: str
    parent_name: str
    taxonomy_level: int
    confidence: float

    def to_rekognition(self) -> dict[str, Any]:
        return {
            "Confidence": round(float(self.confidence), 3),
            "Name": self.name,
            "ParentName": self.parent_name,
            "TaxonomyLevel": self.taxonomy_level,
        }


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "Confidence": round(float(self.confidence), 3)}


def rollup(
    detections: Iterable[Detection], min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[ModerationLabel]:
    """Taxonomy labels at or above ``min_confidence``, with their ancestors.

    Sorted by level (top first), then confidence (highest first), then name,
    so the output is stable.
    """
    peak: dict[str, float] = {}
    for det in detections:
        if det.confidence < min_confidence or not taxonomy.is_label(det.label):
            continue
        for name in (det.label, *taxonomy.ancestors(det.label)):
            if det.confidence > peak.get(name, -1.0):
                peak[name] = det.confidence
    labels = [
        ModerationLabel(name, taxonomy.node(name).parent, taxonomy.node(name).level, conf)
        for name, conf in peak.items()
    ]
    labels.sort(key=lambda lab: (lab.taxonomy_level, -lab.confidence, lab.name))
    return labels


def collect_tags(
    detections: Iterable[Detection], min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[Tag]:
    peak: dict[str, float] = {}
    for det in detections:
        if det.confidence >= min_confidence and taxonomy.is_tag(det.label):
            peak[det.label] = max(peak.get(det.label, 0.0), det.confidence)
    return sorted((Tag(n, c) for n, c in peak.items()), key=lambda t: (-t.confidence, t.name))


def model_version(versions: dict[str, str]) -> str:
    """One string for Rekognition's ModerationModelVersion field."""
    return ";".join(f"{name}={version}" for name, version in sorted(versions.items()))


@dataclass(slots=True)
class ModerationResult:
    """What framewarden found in one image or frame."""

    source: str
    width: int
    height: int
    detections: list[Detection]
    model_versions: dict[str, str]
    timings_ms: dict[str, float] = field(default_factory=dict)
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    pts_ms: float | None = None  # media time, for video frames

    @property
    def labels(self) -> list[ModerationLabel]:
        return rollup(self.detections, self.min_confidence)

    @property
    def tags(self) -> list[Tag]:
        return collect_tags(self.detections, self.min_confidence)

    def visible_detections(self) -> list[Detection]:
        return [d for d in self.detections if d.confidence >= self.min_confidence]

    def with_min_confidence(self, min_confidence: float) -> ModerationResult:
        return ModerationResult(
            self.source,
            self.width,
            self.height,
            self.detections,
            self.model_versions,
            self.timings_ms,
            min_confidence,
            self.pts_ms,
        )

    def to_rekognition(self) -> dict[str, Any]:
        """A ``DetectModerationLabels`` response body."""
        return {
            "ModerationLabels": [lab.to_rekognition() for lab in self.labels],
            "ModerationModelVersion": model_version(self.model_versions),
            "ContentTypes": [],
        }

    def detection_dicts(self) -> list[dict[str, Any]]:
        out = []
        for det in sorted(self.visible_detections(), key=lambda d: (-d.confidence, d.label)):
            item: dict[str, Any] = {
                "Analyzer": det.analyzer,
                "Class": det.raw_class,
                "Label": det.label,
                "Confidence": round(float(det.confidence), 3),
            }
            if det.box is not None and self.width and self.height:
                item["BoundingBox"] = {
                    k: round(v, 6) for k, v in det.box.to_relative(self.width, self.height).items()
                }
            if det.detail:
                item["Detail"] = det.detail
            out.append(item)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``framewarden moderate --json`` line."""
        return {
            "Source": self.source,
            "ModerationLabels": [lab.to_rekognition() for lab in self.labels],
            "ModerationModelVersion": model_version(self.model_versions),
            "Tags": [t.to_dict() for t in self.tags],
            "Detections": self.detection_dicts(),
            "ImageWidth": self.width,
            "ImageHeight": self.height,
            "TimingsMillis": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


def merge_detections(per_analyzer: Sequence[list[list[Detection]]], n_frames: int) -> list[list[Detection]]:
    """Concatenate per-analyzer outputs into one list per frame."""
    merged: list[list[Detection]] = [[] for _ in range(n_frames)]
    for outputs in per_analyzer:
        if len(outputs) != n_frames:
            raise RuntimeError(f"analyzer returned {len(outputs)} results for {n_frames} frames")
        for i, dets in enumerate(outputs):
            merged[i].extend(dets)
    return merged
