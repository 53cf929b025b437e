"""Moderator: one call from an image to Rekognition-shaped labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import pytest

from framewarden.analyzers import base
from framewarden.analyzers.base import AnalyzerConfig, Detection, SharedAnalyzers, register
from framewarden.errors import ConfigError, EmptyInputError
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator
from tests.conftest import IMAGES

FAKE = "test_fake_fixed"


class FixedConfig(AnalyzerConfig):
    type: Literal["test_fake_fixed"] = FAKE
    # (label, confidence) pairs reported for every frame.
    findings: tuple[tuple[str, float], ...] = ()


class FixedAnalyzer:
    """Reports the same configured detections on every frame."""

    name = FAKE
    version = "1"

    def __init__(self, config: FixedConfig) -> None:
        self.findings = config.findings

    def labels(self) -> frozenset[str]:
        return frozenset(label for label, _ in self.findings)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        return [
            [Detection(label, conf, self.name, self.version, label.upper()) for label, conf in self.findings]
            for _ in frames
        ]

    def close(self) -> None:
        pass


@pytest.fixture
def fake_backend() -> Iterator[None]:
    base.load_backends()
    register(FAKE, FixedConfig)(FixedAnalyzer)
    yield
    base._BACKENDS.pop(FAKE, None)


def _moderate(findings: list[tuple[str, float]], min_confidence: float = 50) -> dict:  # type: ignore[type-arg]
    moderator = Moderator([FixedConfig(findings=tuple(findings))], min_confidence=min_confidence)
    return moderator.moderate_array(np.zeros((4, 4, 3), np.uint8)).to_rekognition()


# --- inputs ------------------------------------------------------------------


def test_path_bytes_and_array_give_the_same_result() -> None:
    path = IMAGES / "astronaut.png"
    moderator = Moderator(["nudenet"], min_confidence=20)
    by_path = moderator.moderate_image(path)
    by_bytes = moderator.moderate_image(path.read_bytes())
    by_array = moderator.moderate_array(load_image(path).rgb)
    assert by_path.source == str(path) and by_bytes.source == "<bytes>" and by_array.source == "<array>"
    expected = by_path.to_dict()
    assert expected["Detections"], "astronaut.png should have a face detection to compare"
    for other in (by_bytes, by_array):
        got = other.to_dict()
        for key in ("ModerationLabels", "Tags", "Detections", "ImageWidth", "ImageHeight"):
            assert got[key] == expected[key]


def test_bad_input_raises_a_typed_error() -> None:
    with pytest.raises(EmptyInputError, match=r"^upload\.png: "):
        Moderator(["nudenet"]).moderate_image(b"", source="upload.png")


def test_unknown_analyzer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no_such_analyzer"):
        Moderator(["no_such_analyzer"])


def test_analyzers_are_shared_between_moderators() -> None:
    assert Moderator(["nudenet"]).analyzers[0] is Moderator(["nudenet"]).analyzers[0]
    assert SharedAnalyzers.get(Moderator(["nudenet"]).configs[0]) is Moderator(["nudenet"]).analyzers[0]


def test_timings_and_versions() -> None:
    result = Moderator(["nudenet"]).moderate_image(IMAGES / "coins.png")
    assert set(result.timings_ms) == {"decode", "nudenet", "total"}
    assert result.timings_ms["total"] >= result.timings_ms["nudenet"] > 0
    assert result.model_versions["nudenet"].startswith("nudenet-")


def test_moderate_frames_keeps_order_and_source_size() -> None:
    frames = [
        Frame("cam-a", 1, 40.0, np.zeros((10, 20, 3), np.uint8), source_size=(200, 100)),
        Frame("cam-b", 7, 80.0, np.full((10, 10, 3), 255, np.uint8)),
    ]
    results = Moderator(["nudenet"]).moderate_frames(frames)
    assert [(r.source, r.width, r.height, r.pts_ms) for r in results] == [
        ("cam-a", 200, 100, 40.0),
        ("cam-b", 10, 10, 80.0),
    ]
    assert Moderator(["nudenet"]).moderate_frames([]) == []


# --- roll-up (synthetic detections) ------------------------------------------


def test_to_rekognition_shape(fake_backend: None) -> None:
    body = _moderate([("Exposed Male Nipple", 80.0)])
    assert set(body) == {"ModerationLabels", "ModerationModelVersion", "ContentTypes"}
    assert body["ModerationModelVersion"] == f"{FAKE}=1"
    assert body["ModerationLabels"] == [
        {
            "Confidence": 80.0,
            "Name": "Non-Explicit Nudity of Intimate parts and Kissing",
            "ParentName": "",
            "TaxonomyLevel": 1,
        },
        {
            "Confidence": 80.0,
            "Name": "Non-Explicit Nudity",
            "ParentName": "Non-Explicit Nudity of Intimate parts and Kissing",
            "TaxonomyLevel": 2,
        },
        {
            "Confidence": 80.0,
            "Name": "Exposed Male Nipple",
            "ParentName": "Non-Explicit Nudity",
            "TaxonomyLevel": 3,
        },
    ]


ROLLUP_CASES = [
    pytest.param([], {}, id="nothing"),
    pytest.param([("Face Female", 99.0)], {}, id="tags-are-not-labels"),
    pytest.param([("Exposed Female Nipple", 49.9)], {}, id="below-threshold"),
    pytest.param(
        [
            ("Exposed Female Nipple", 60.0),
            ("Exposed Male Genitalia", 90.0),
            ("Exposed Buttocks or Anus", 70.0),
        ],
        {
            "Explicit": 90.0,
            "Explicit Nudity": 90.0,
            "Exposed Male Genitalia": 90.0,
            "Exposed Buttocks or Anus": 70.0,
            "Exposed Female Nipple": 60.0,
        },
        id="parent-takes-max-child",
    ),
    pytest.param(
        [("Exposed Female Nipple", 60.0), ("Exposed Female Nipple", 75.0)],
        {"Explicit": 75.0, "Explicit Nudity": 75.0, "Exposed Female Nipple": 75.0},
        id="same-label-twice-keeps-max",
    ),
    pytest.param(
        [("Exposed Female Nipple", 55.0), ("Weapons", 65.0)],
        {
            "Explicit": 55.0,
            "Explicit Nudity": 55.0,
            "Exposed Female Nipple": 55.0,
            "Violence": 65.0,
            "Weapons": 65.0,
        },
        id="two-trees",
    ),
]


@pytest.mark.parametrize(("findings", "expected"), ROLLUP_CASES)
def test_ancestors_roll_up_with_max_child_confidence(
    fake_backend: None, findings: list[tuple[str, float]], expected: dict[str, float]
) -> None:
    labels = _moderate(findings)["ModerationLabels"]
    assert {lab["Name"]: lab["Confidence"] for lab in labels} == expected
    levels = [lab["TaxonomyLevel"] for lab in labels]
    assert levels == sorted(levels)


def test_min_confidence_applies_to_labels_tags_and_detections(fake_backend: None) -> None:
    findings = (("Exposed Female Nipple", 30.0), ("Face Male", 40.0))
    moderator = Moderator([FixedConfig(findings=findings)], min_confidence=50)
    result = moderator.moderate_array(np.zeros((4, 4, 3), np.uint8))
    assert result.labels == [] and result.tags == [] and result.detection_dicts() == []
    lowered = result.with_min_confidence(25)
    assert [lab.name for lab in lowered.labels] == ["Explicit", "Explicit Nudity", "Exposed Female Nipple"]
    assert [t.name for t in lowered.tags] == ["Face Male"]
    assert len(lowered.detection_dicts()) == 2


def test_moderate_many_matches_one_by_one_and_keeps_order() -> None:
    from framewarden.errors import InputError
    from framewarden.moderator import Moderator
    from tests.conftest import BROKEN, IMAGES

    inputs = [
        str(IMAGES / "astronaut.png"),
        str(BROKEN / "zero_bytes_result.webm"),
        str(IMAGES / "chelsea.png"),
        "https://example.invalid/x.jpg",
        str(IMAGES / "newtonscradle.gif"),
        str(IMAGES / "coins.png"),
    ]
    moderator = Moderator(["nudenet"], min_confidence=0)
    got = list(moderator.moderate_many(inputs, batch_size=2, decode_workers=2))
    assert [name for name, _ in got] == inputs
    assert isinstance(got[1][1], InputError) and "empty" in str(got[1][1])
    assert isinstance(got[3][1], InputError) and "URL" in str(got[3][1])
    for name, result in got:
        if isinstance(result, InputError):
            continue
        single = moderator.moderate_image(name)
        assert result.to_dict()["Detections"] == single.to_dict()["Detections"], name
