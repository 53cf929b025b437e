"""Roll-up of detections into Rekognition-shaped labels."""

from __future__ import annotations

import pytest

from framewarden.analyzers.base import Box, Detection
from framewarden.result import ModerationResult, collect_tags, model_version, rollup


def det(label: str, conf: float, box: Box | None = None) -> Detection:
    return Detection(label, conf, "test", "1", label.upper(), box)


def test_empty() -> None:
    assert rollup([]) == []
    assert collect_tags([]) == []


def test_ancestors_get_highest_child_confidence() -> None:
    labels = rollup(
        [det("Exposed Female Nipple", 70), det("Exposed Male Genitalia", 90), det("Bare Back", 60)]
    )
    by_name = {lab.name: lab for lab in labels}
    assert by_name["Explicit Nudity"].confidence == 90
    assert by_name["Explicit"].confidence == 90
    assert by_name["Explicit"].parent_name == ""
    assert by_name["Explicit"].taxonomy_level == 1
    assert by_name["Exposed Female Nipple"].parent_name == "Explicit Nudity"
    assert by_name["Non-Explicit Nudity of Intimate parts and Kissing"].confidence == 60
    # Top levels first, then by confidence.
    assert [lab.taxonomy_level for lab in labels] == sorted(lab.taxonomy_level for lab in labels)


@pytest.mark.parametrize(("threshold", "expected"), [(0, 3), (50, 3), (80, 0), (100, 0)])
def test_min_confidence_filters(threshold: float, expected: int) -> None:
    assert len(rollup([det("Smoking", 79.9)], threshold)) == expected


def test_tags_never_become_labels() -> None:
    dets = [det("Face Female", 95), det("Feet", 40)]
    assert rollup(dets) == []
    assert [t.name for t in collect_tags(dets)] == ["Face Female"]


def test_rekognition_shapes() -> None:
    result = ModerationResult(
        source="x.jpg",
        width=200,
        height=100,
        detections=[det("Weapons", 88.123456, Box(20, 10, 100, 50)), det("Face Male", 80)],
        model_versions={"b": "2", "a": "1"},
    )
    body = result.to_rekognition()
    assert body["ModerationModelVersion"] == model_version({"a": "1", "b": "2"}) == "a=1;b=2"
    assert body["ModerationLabels"][0] == {
        "Confidence": 88.123,
        "Name": "Violence",
        "ParentName": "",
        "TaxonomyLevel": 1,
    }
    line = result.to_dict()
    assert line["Source"] == "x.jpg"
    assert line["Tags"] == [{"Name": "Face Male", "Confidence": 80.0}]
    weapons = next(d for d in line["Detections"] if d["Label"] == "Weapons")
    assert weapons["BoundingBox"] == {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}
    assert result.with_min_confidence(90).to_rekognition()["ModerationLabels"] == []
