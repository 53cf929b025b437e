"""The nudenet analyzer against the reference ``nudenet.NudeDetector``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from nudenet import NudeDetector
from nudenet.nudenet import _read_image

from framewarden import taxonomy
from framewarden.analyzers.base import Detection, SharedAnalyzers, config_for
from framewarden.analyzers.nudenet import (
    CLASS_TO_LABEL,
    CLASSES,
    UNCONFIRMED,
    NudeNetAnalyzer,
    NudeNetConfig,
    bundled_model_path,
    letterbox_batch,
)
from framewarden.errors import ConfigError
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator
from tests.conftest import VIDEOS, real_images, real_videos

IMAGES = real_images()


@pytest.fixture(scope="module")
def analyzer() -> NudeNetAnalyzer:
    found = SharedAnalyzers.get(config_for("nudenet"))
    assert isinstance(found, NudeNetAnalyzer)
    return found


@pytest.fixture(scope="module")
def reference() -> NudeDetector:
    return NudeDetector()


def _rgb(path: Path) -> np.ndarray:
    return load_image(path).rgb


def _frame(rgb: np.ndarray, source_size: tuple[int, int] = (0, 0)) -> Frame:
    return Frame(channel="test", seq=0, pts_ms=0.0, image=rgb, source_size=source_size)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _xywh(det: Detection) -> tuple[float, float, float, float]:
    assert det.box is not None
    return (det.box.left, det.box.top, det.box.width, det.box.height)


# --- mapping ---------------------------------------------------------------

EXPECTED_MAPPING = [
    ("FEMALE_GENITALIA_EXPOSED", "Exposed Female Genitalia", "Explicit Nudity"),
    ("MALE_GENITALIA_EXPOSED", "Exposed Male Genitalia", "Explicit Nudity"),
    ("BUTTOCKS_EXPOSED", "Exposed Buttocks or Anus", "Explicit Nudity"),
    ("ANUS_EXPOSED", "Exposed Buttocks or Anus", "Explicit Nudity"),
    ("FEMALE_BREAST_EXPOSED", "Exposed Female Nipple", "Explicit Nudity"),
    ("MALE_BREAST_EXPOSED", "Exposed Male Nipple", "Non-Explicit Nudity"),
    ("FACE_FEMALE", "Face Female", None),
    ("FACE_MALE", "Face Male", None),
    ("FEET_EXPOSED", "Feet", None),
    ("FEET_COVERED", "Covered Feet", None),
    ("ARMPITS_EXPOSED", "Armpits", None),
    ("ARMPITS_COVERED", "Covered Armpits", None),
    ("BELLY_EXPOSED", "Belly", None),
    ("BELLY_COVERED", "Covered Belly", None),
    ("FEMALE_BREAST_COVERED", "Covered Female Breast", None),
    ("FEMALE_GENITALIA_COVERED", "Covered Female Genitalia", None),
    ("BUTTOCKS_COVERED", "Covered Buttocks", None),
    ("ANUS_COVERED", "Covered Anus", None),
]


def test_mapping_table_covers_all_18_classes() -> None:
    assert len(CLASSES) == len(set(CLASSES)) == 18
    assert set(CLASS_TO_LABEL) == set(CLASSES) == {row[0] for row in EXPECTED_MAPPING}


@pytest.mark.parametrize(("raw", "label", "parent"), EXPECTED_MAPPING)
def test_mapping(raw: str, label: str, parent: str | None) -> None:
    assert CLASS_TO_LABEL[raw] == label
    if parent is None:  # ordinary-clothing classes: tags, never moderation labels
        assert taxonomy.is_tag(label) and not taxonomy.is_label(label)
    else:
        assert taxonomy.node(label).level == 3
        assert taxonomy.node(label).parent == parent


def test_labels_lists_what_it_emits(analyzer: NudeNetAnalyzer) -> None:
    assert analyzer.labels() == frozenset(CLASS_TO_LABEL.values()) | {UNCONFIRMED}
    assert analyzer.preferred_max_side == 0  # full frames: it resizes them as the reference does
    assert analyzer.version.split("+")[0].endswith("/320n")  # "+2nd:<image_safety version>" after it


# --- pre-processing --------------------------------------------------------

_rng = np.random.default_rng(7)
SYNTHETIC = {  # (h, w): landscape/portrait, up- and downscaled, exact size, odd ratios
    "1280x720": _rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8),
    "900x200": _rng.integers(0, 256, (900, 200, 3), dtype=np.uint8),
    "37x100": _rng.integers(0, 256, (37, 100, 3), dtype=np.uint8),
    "320x320": _rng.integers(0, 256, (320, 320, 3), dtype=np.uint8),
    "1x1": _rng.integers(0, 256, (1, 1, 3), dtype=np.uint8),
}


@pytest.mark.parametrize(
    "rgb",
    [pytest.param(_rgb(p), id=p.name) for p in IMAGES]
    + [pytest.param(a, id=k) for k, a in SYNTHETIC.items()],
)
def test_letterbox_gives_the_reference_pixels(rgb: np.ndarray) -> None:
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    expected = _read_image(bgr, 320)[0][0]
    got, ratios = letterbox_batch([rgb], 320)
    assert got.shape == (1, 3, 320, 320) and got.dtype == np.float32
    assert np.abs(got[0] - expected).max() < 1e-4  # same 8-bit pixels, float rounding only
    assert ratios[0] == pytest.approx(320 / max(rgb.shape[:2]))


# --- agreement with the reference ------------------------------------------


def _rgb_video_frames(name: str, every: int) -> list[np.ndarray]:
    import av

    with av.open(str(VIDEOS / name)) as container:
        return [
            f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % every == 0
        ]


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "square"])
@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.name)
def test_agrees_with_reference_detector(path: Path, compact: bool, reference: NudeDetector) -> None:
    analyzer = SharedAnalyzers.get(config_for("nudenet", compact=compact))
    _assert_agrees(analyzer.analyze([_frame(_rgb(path))])[0], _rgb(path), reference)


@pytest.mark.slow
@pytest.mark.parametrize("compact", [False, True], ids=["square", "compact"])
def test_agrees_with_reference_on_video_frames(compact: bool, reference: NudeDetector) -> None:
    """Both letterbox modes (square: the default; compact: 320x192 for 16:9) within the tolerance."""
    analyzer = SharedAnalyzers.get(config_for("nudenet", compact=compact))
    # Every shared video, every 12th frame (bench/letterbox_parity.py prints the worst IoU / score gap).
    frames = [rgb for path in real_videos() for rgb in _rgb_video_frames(path.name, 12)]
    boxes = 0
    for rgb in frames:
        got = analyzer.analyze([_frame(rgb)])[0]
        _assert_agrees(got, rgb, reference)
        boxes += len(got)
    assert len(frames) > 40
    assert boxes >= 1, "no detection at all would make this comparison empty"


def _assert_agrees(got: list[Detection], rgb: np.ndarray, reference: NudeDetector) -> None:
    expected = reference.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
    assert sorted(d.raw_class for d in got) == sorted(e["class"] for e in expected)
    for det in got:
        match = max(
            (e for e in expected if e["class"] == det.raw_class),
            key=lambda e: _iou(_xywh(det), tuple(e["box"])),
        )
        assert _iou(_xywh(det), tuple(match["box"])) >= 0.8
        assert det.confidence == pytest.approx(match["score"] * 100, abs=5)
        # The second opinion may turn an Explicit label into a tag; class, score and box stay raw.
        assert det.label in {CLASS_TO_LABEL[det.raw_class], UNCONFIRMED}
        assert det.analyzer == "nudenet"


def test_some_image_has_detections_to_compare(analyzer: NudeNetAnalyzer) -> None:
    """Guards the agreement test against passing on empty outputs only."""
    found = analyzer.analyze([_frame(_rgb(p)) for p in IMAGES])
    assert sum(len(d) for d in found) >= 3
    astronaut = found[[p.name for p in IMAGES].index("astronaut.png")]
    faces = [d for d in astronaut if d.raw_class == "FACE_FEMALE"]
    assert faces and faces[0].confidence > 60


# --- batching and scaling --------------------------------------------------


def test_empty_batch(analyzer: NudeNetAnalyzer) -> None:
    assert analyzer.analyze([]) == []


def test_batch_equals_one_by_one(analyzer: NudeNetAnalyzer) -> None:
    frames = [_frame(_rgb(p)) for p in IMAGES] + [_frame(a) for a in SYNTHETIC.values()]
    batched = analyzer.analyze(frames)
    assert len(batched) == len(frames)
    for frame, together in zip(frames, batched, strict=True):
        alone = analyzer.analyze([frame])[0]
        assert [d.raw_class for d in together] == [d.raw_class for d in alone]
        for a, b in zip(together, alone, strict=True):
            assert a.confidence == pytest.approx(b.confidence, abs=0.1)
            assert _iou(_xywh(a), _xywh(b)) > 0.99


def test_batches_larger_than_max_batch_are_split() -> None:
    small = NudeNetAnalyzer(NudeNetConfig(max_batch=2))
    frames = [_frame(_rgb(p)) for p in IMAGES[:5]]
    got = small.analyze(frames)
    assert len(got) == 5
    assert [[d.raw_class for d in r] for r in got] == [
        [d.raw_class for d in small.analyze([f])[0]] for f in frames
    ]


@pytest.mark.parametrize("factor", [2, 4])
def test_boxes_are_in_source_pixels_for_downscaled_frames(analyzer: NudeNetAnalyzer, factor: int) -> None:
    full = _rgb(IMAGES[[p.name for p in IMAGES].index("astronaut.png")])
    h, w = full.shape[:2]
    small = cv2.resize(full, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    at_full = [d for d in analyzer.analyze([_frame(full)])[0] if d.raw_class == "FACE_FEMALE"]
    scaled = [d for d in analyzer.analyze([_frame(small, (w, h))])[0] if d.raw_class == "FACE_FEMALE"]
    assert at_full and scaled
    assert _iou(_xywh(at_full[0]), _xywh(scaled[0])) >= 0.8
    box = scaled[0].box
    assert box is not None and box.left + box.width <= w and box.top + box.height <= h


def test_source_size_multiplies_boxes_exactly(analyzer: NudeNetAnalyzer) -> None:
    rgb = cv2.resize(_rgb(IMAGES[[p.name for p in IMAGES].index("astronaut.png")]), (320, 320))
    plain = analyzer.analyze([_frame(rgb)])[0]
    doubled = analyzer.analyze([_frame(rgb, (640, 960))])[0]
    assert plain and [d.raw_class for d in plain] == [d.raw_class for d in doubled]
    for a, b in zip(plain, doubled, strict=True):
        assert a.box is not None and b.box is not None
        assert (b.box.left, b.box.top) == pytest.approx((a.box.left * 2, a.box.top * 3))
        assert (b.box.width, b.box.height) == pytest.approx((a.box.width * 2, a.box.height * 3))


# --- config ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ({}, True),
        ({"model_path": str(bundled_model_path())}, True),
        ({"model_path": "/nonexistent/model.onnx"}, False),
    ],
)
def test_model_path(values: dict[str, str], ok: bool) -> None:
    config = NudeNetConfig(**values)
    if ok:
        assert NudeNetAnalyzer(config).version.startswith("nudenet-")
    else:
        with pytest.raises(ConfigError, match="model_path"):
            NudeNetAnalyzer(config)


def test_config_refuses_unknown_options() -> None:
    with pytest.raises(ValueError, match="extra"):
        NudeNetConfig(threshold=0.3)  # type: ignore[call-arg]


# --- safe content gets no moderation label ---------------------------------


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.name)
def test_safe_images_get_no_moderation_label(path: Path) -> None:
    result = Moderator(["nudenet"]).moderate_image(path)
    assert result.labels == []


# Every 3rd decoded frame keeps the test under a minute on two busy cores; at 24-30 fps
# neighbouring frames are near-identical, and docs/analyzers/nudenet.md records a denser scan.
VIDEO_STEP = 3


def _video_frames(path: Path, step: int = VIDEO_STEP) -> Iterator[Frame]:
    """Every ``step``-th frame at full size, as the pipeline now hands them over."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for seq, frame in enumerate(container.decode(stream)):
            if seq % step:
                continue
            yield Frame("video", seq, 0.0, frame.to_ndarray(format="rgb24"))


@pytest.mark.slow
@pytest.mark.parametrize("path", real_videos(), ids=lambda p: p.name)
def test_no_video_frame_gets_a_moderation_label(path: Path, analyzer: NudeNetAnalyzer) -> None:
    moderator = Moderator(["nudenet"])
    batch: list[Frame] = []
    seen, peak = 0, 0.0
    for frame in _video_frames(path):
        batch.append(frame)
        if len(batch) == 16:
            results = moderator.moderate_frames(batch)
            seen += len(batch)
            batch = []
            for result in results:
                assert result.labels == [], (path.name, result.to_dict())
                peak = max([peak] + [d.confidence for d in result.detections if taxonomy.is_label(d.label)])
    for result in moderator.moderate_frames(batch):
        assert result.labels == [], (path.name, result.to_dict())
    seen += len(batch)
    assert seen > 0
    assert peak < 50
