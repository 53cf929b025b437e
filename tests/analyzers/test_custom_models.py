"""Your own models: onnx_detector reproduces nudenet, onnx_classifier reproduces image_safety."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from framewarden.analyzers.image_safety import CLASS_TO_LABELS, ImageSafetyAnalyzer, ImageSafetyConfig
from framewarden.analyzers.image_safety import CLASSES as SAFETY_CLASSES
from framewarden.analyzers.model_files import IMAGE_SAFETY, file_sha256, find_model
from framewarden.analyzers.nudenet import (
    CLASS_TO_LABEL,
    CLASSES,
    NudeNetAnalyzer,
    NudeNetConfig,
    bundled_model_path,
)
from framewarden.analyzers.onnx_classifier import OnnxClassifier, OnnxClassifierConfig
from framewarden.analyzers.onnx_detector import OnnxDetector, OnnxDetectorConfig
from framewarden.errors import ConfigError
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator
from tests.conftest import VIDEOS, real_images

NUDENET_AS_CUSTOM = {
    "name": "my_detector",
    "model_path": str(bundled_model_path()),
    "classes": CLASSES,
    "class_map": CLASS_TO_LABEL,
    "input_size": 320,
    "channel_order": "bgr",  # NudeNet's model takes BGR; Ultralytics exports take RGB (the default)
}
SAFETY_AS_CUSTOM = {
    "name": "my_classifier",
    "classes": SAFETY_CLASSES,
    "class_map": CLASS_TO_LABELS,
    "input_size": 224,
    "resize": "blurpad",
    "scale": 1.0,  # the graph normalises 0-255 input itself
    "activation": "none",  # and ends in a softmax
}


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    out = [Frame(p.name, 0, 0.0, load_image(p).rgb) for p in real_images()]
    with av.open(str(VIDEOS / "big_buck_bunny_0_30.webm")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 40 == 0:
                out.append(Frame("bunny", i, frame.time * 1000, frame.to_ndarray(format="rgb24")))
    return out


def _key(dets: list) -> list[tuple[object, ...]]:
    return [(d.label, d.raw_class, d.confidence, d.box) for d in dets]


def test_onnx_detector_reproduces_nudenet_exactly(frames: list[Frame]) -> None:
    # A low score floor on both: more boxes to compare (faces, feet, covered parts as well).
    expected = NudeNetAnalyzer(NudeNetConfig(second_opinion=False, min_score=0.2)).analyze(frames)
    got = OnnxDetector(OnnxDetectorConfig(**NUDENET_AS_CUSTOM, min_score=0.2)).analyze(frames)
    assert [_key(d) for d in got] == [_key(d) for d in expected]
    assert sum(len(d) for d in expected) >= 5, "the comparison needs detections to compare"
    assert all(d.analyzer == "my_detector" for dets in got for d in dets)


def test_onnx_classifier_reproduces_image_safety_exactly(frames: list[Frame]) -> None:
    expected = ImageSafetyAnalyzer(ImageSafetyConfig()).analyze(frames)
    config = OnnxClassifierConfig(model_path=str(find_model(IMAGE_SAFETY)), **SAFETY_AS_CUSTOM)
    got = OnnxClassifier(config).analyze(frames)
    assert [_key(d) for d in got] == [_key(d) for d in expected]
    assert sum(len(d) for d in expected) >= len(frames)


def test_model_name_and_file_hash_enter_the_model_version(frames: list[Frame]) -> None:
    moderator = Moderator([OnnxDetectorConfig(**NUDENET_AS_CUSTOM)])
    body = moderator.moderate_frames(frames[:1])[0].to_rekognition()
    digest = file_sha256(bundled_model_path())[:12]
    assert f"my_detector=320n.onnx@sha256:{digest}" in body["ModerationModelVersion"]


def _bad(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("detector", {"model_path": "/nonexistent/weapons.onnx"}, r"weapons\.onnx.*no such file"),
        ("detector", {"model_path": "BAD"}, r"broken\.onnx.*cannot be loaded"),
        ("detector", {"classes": ("a", "b"), "class_map": {}}, r"320n\.onnx.*4 \+ 2 classes"),
        ("detector", {"class_map": {"FACE_MALE": "Not A Label"}}, r"320n\.onnx.*'Not A Label'"),
        ("detector", {"class_map": {"NOPE": "Explicit"}}, r"320n\.onnx.*does not have: NOPE"),
        ("classifier", {"model_path": "BAD"}, r"broken\.onnx.*cannot be loaded"),
        ("classifier", {"classes": ("a", "b"), "class_map": {}}, r"image-safety.*\[batch, 2 classes\]"),
        ("classifier", {"input_size": 256}, r"image-safety.*does not fit"),
    ],
)
def test_bad_models_are_clear_errors_at_start_up(
    kind: str, values: dict[str, object], message: str, tmp_path: Path
) -> None:
    if values.get("model_path") == "BAD":
        values = {**values, "model_path": _bad(tmp_path, "broken.onnx", b"\x08\x01garbage")}
    if kind == "detector":
        with pytest.raises(ConfigError, match=message):
            OnnxDetector(OnnxDetectorConfig(**{**NUDENET_AS_CUSTOM, **values}))
    else:
        base = {"model_path": str(find_model(IMAGE_SAFETY)), **SAFETY_AS_CUSTOM}
        with pytest.raises(ConfigError, match=message):
            OnnxClassifier(OnnxClassifierConfig(**{**base, **values}))
