"""The ``hashlist`` analyzer flags frames whose PDQ hash is in a bank."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from framewarden.analyzers import hashlist as hashlist_mod
from framewarden.analyzers.base import build, config_for
from framewarden.analyzers.hashlist import HashListAnalyzer, HashListConfig, match_confidence
from framewarden.config import get_settings
from framewarden.hashing.banks import BankEntry, BankStore
from framewarden.hashing.pdq import hash_image, hash_rgb
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from framewarden.moderator import Moderator
from tests.conftest import IMAGES, THREATEXCHANGE

BANKED = IMAGES / "chelsea.png"
OTHERS = sorted(p for p in IMAGES.iterdir() if p.suffix in {".png", ".jpg", ".gif"} and p != BANKED)
DIH = THREATEXCHANGE / "pdq" / "data" / "reg-test-input" / "dih"


def frame(rgb: np.ndarray, seq: int = 0) -> Frame:
    return Frame(channel="test", seq=seq, pts_ms=0.0, image=np.ascontiguousarray(rgb))


def image_frame(path: Path) -> Frame:
    return frame(load_image(path).rgb)


def reencoded(path: Path, scale: float, quality: int) -> np.ndarray:
    """``path`` resized and saved again as JPEG: a typical re-upload."""
    img = Image.open(path).convert("RGB")
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return load_image(buf.getvalue()).rgb


@pytest.fixture
def store() -> BankStore:
    return BankStore(get_settings().banks_dir)  # the per-test data dir from conftest


@pytest.fixture
def analyzer(store: BankStore) -> HashListAnalyzer:
    store.add("cats", "Hate Symbols", [BankEntry(pdq=hash_image(BANKED).hex, source=BANKED.name)])
    built = build(config_for("hashlist"))
    assert isinstance(built, HashListAnalyzer)
    return built


def test_registered_with_defaults() -> None:
    config = config_for("hashlist")
    assert isinstance(config, HashListConfig)
    assert (config.max_distance, config.min_quality, config.banks, config.banks_dir) == (31, 50, (), None)
    assert HashListAnalyzer.preferred_max_side == 0  # full frames; it shrinks them itself
    with pytest.raises(ValidationError):
        config_for("hashlist", max_distnce=10)
    with pytest.raises(ValidationError):
        config_for("hashlist", min_quality=101)


@pytest.mark.parametrize("max_distance", [0, 10, 31, 64])
def test_confidence_stays_above_50_up_to_the_threshold(max_distance: int) -> None:
    values = [match_confidence(d, max_distance) for d in range(max_distance + 1)]
    assert values[0] == 100.0
    assert min(values) > 50.0
    assert values == sorted(values, reverse=True)


def test_flags_the_banked_image(analyzer: HashListAnalyzer) -> None:
    [detections] = analyzer.analyze([image_frame(BANKED)])
    assert len(detections) == 1
    det = detections[0]
    assert (det.label, det.raw_class, det.analyzer) == ("Hate Symbols", "bank:cats", "hashlist")
    assert det.confidence == 100.0
    assert det.detail == f"{hash_image(BANKED).hex} distance=0"
    assert det.analyzer_version.startswith("pdq-")


@pytest.mark.parametrize(
    ("scale", "quality"), [(1.0, 60), (0.5, 75), (1.7, 90)], ids=["jpeg-q60", "half-size", "upscaled"]
)
def test_flags_reencoded_and_resized_copies(analyzer: HashListAnalyzer, scale: float, quality: int) -> None:
    [detections] = analyzer.analyze([frame(reencoded(BANKED, scale, quality))])
    assert [d.raw_class for d in detections] == ["bank:cats"]
    assert detections[0].confidence >= 50


def test_does_not_flag_other_images(analyzer: HashListAnalyzer) -> None:
    results = analyzer.analyze([image_frame(p) for p in OTHERS])
    assert len(results) == len(OTHERS) >= 10
    assert results == [[] for _ in OTHERS]


def test_batch_keeps_frame_order(analyzer: HashListAnalyzer) -> None:
    frames = [image_frame(OTHERS[0]), image_frame(BANKED), image_frame(OTHERS[1])]
    assert [len(r) for r in analyzer.analyze(frames)] == [0, 1, 0]


@pytest.mark.parametrize(("dihedral", "flagged"), [(True, True), (False, False)])
def test_rotated_copy_needs_dihedral_matching(store: BankStore, dihedral: bool, flagged: bool) -> None:
    store.add("bridge", "Violence", [BankEntry(pdq=hash_image(DIH / "bridge-1-original.jpg").hex)])
    analyzer = HashListAnalyzer(HashListConfig(dihedral=dihedral))
    [detections] = analyzer.analyze([image_frame(DIH / "bridge-2-rotate-90.jpg")])
    assert bool(detections) is flagged


def test_exif_rotated_upload_matches_its_stored_pixel_hash(store: BankStore, tmp_path: Path) -> None:
    # Banks hold upstream hashes (pixels as stored); frames arrive upright.
    rotated = tmp_path / "tagged.jpg"
    img = Image.open(BANKED).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    img.save(rotated, "JPEG", quality=95, exif=exif)
    store.add("tagged", "Explicit", [BankEntry(pdq=hash_image(rotated).hex)])
    analyzer = HashListAnalyzer(HashListConfig(banks=("tagged",)))
    upright = load_image(rotated).rgb
    assert upright.shape[:2] != np.asarray(img).shape[:2]
    [detections] = analyzer.analyze([frame(upright)])
    assert [d.raw_class for d in detections] == ["bank:tagged"]


def test_one_detection_per_matching_bank(store: BankStore, analyzer: HashListAnalyzer) -> None:
    copy = reencoded(BANKED, 0.8, 70)
    store.add("copies", "Explicit", [BankEntry(pdq=hash_rgb(copy).hex)])
    store.add("unrelated", "Violence", [BankEntry(pdq=hash_image(OTHERS[0]).hex)])
    [detections] = analyzer.analyze([frame(copy)])
    assert sorted(d.raw_class for d in detections) == ["bank:cats", "bank:copies"]
    assert {d.label for d in detections} == {"Hate Symbols", "Explicit"}
    assert analyzer.labels() == frozenset({"Hate Symbols", "Explicit", "Violence"})


def test_configured_banks_only(store: BankStore) -> None:
    store.add("a", "Explicit", [BankEntry(pdq=hash_image(BANKED).hex)])
    store.add("b", "Violence", [BankEntry(pdq=hash_image(BANKED).hex)])
    [detections] = HashListAnalyzer(HashListConfig(banks=("b",))).analyze([image_frame(BANKED)])
    assert [d.raw_class for d in detections] == ["bank:b"]


def test_banks_dir_option(tmp_path: Path) -> None:
    BankStore(tmp_path / "elsewhere").add("x", "Gambling", [BankEntry(pdq=hash_image(BANKED).hex)])
    analyzer = HashListAnalyzer(HashListConfig(banks_dir=tmp_path / "elsewhere"))
    assert [d.label for d in analyzer.analyze([image_frame(BANKED)])[0]] == ["Gambling"]
    assert HashListAnalyzer(HashListConfig()).analyze([image_frame(BANKED)]) == [[]]


def test_reloads_when_banks_change(store: BankStore) -> None:
    analyzer = HashListAnalyzer(HashListConfig())
    target = image_frame(BANKED)
    assert analyzer.analyze([target]) == [[]]
    store.add("late", "Explicit", [BankEntry(pdq=hash_image(OTHERS[0]).hex)])
    assert analyzer.analyze([target]) == [[]]
    store.add("late", "Explicit", [BankEntry(pdq=hash_image(BANKED).hex)])  # appended to the same file
    assert [d.raw_class for d in analyzer.analyze([target])[0]] == ["bank:late"]
    store.remove("late")
    assert analyzer.analyze([target]) == [[]]


def test_no_banks_means_no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise AssertionError("hashed a frame with no banks")

    monkeypatch.setattr(hashlist_mod, "hash_dihedral", boom)
    monkeypatch.setattr(hashlist_mod, "matching_hash", boom)
    analyzer = HashListAnalyzer(HashListConfig())
    assert analyzer.analyze([image_frame(BANKED), image_frame(OTHERS[0])]) == [[], []]
    assert analyzer.labels() == frozenset()


@pytest.mark.parametrize(("min_quality", "flagged"), [(50, False), (0, True)])
def test_low_quality_frames_are_skipped(store: BankStore, min_quality: int, flagged: bool) -> None:
    flat = np.full((200, 300, 3), 90, np.uint8)
    assert hash_rgb(flat).quality == 0
    store.add("flat", "Explicit", [BankEntry(pdq=hash_rgb(flat).hex)])
    [detections] = HashListAnalyzer(HashListConfig(min_quality=min_quality)).analyze([frame(flat)])
    assert bool(detections) is flagged


def test_max_distance_zero_needs_an_exact_hash(store: BankStore) -> None:
    store.add("exact", "Explicit", [BankEntry(pdq=hash_image(BANKED).hex)])
    analyzer = HashListAnalyzer(HashListConfig(max_distance=0))
    assert analyzer.analyze([image_frame(BANKED)])[0]
    assert analyzer.analyze([frame(reencoded(BANKED, 0.5, 60))]) == [[]]


def test_a_broken_bank_is_skipped_with_a_warning(
    store: BankStore, analyzer: HashListAnalyzer, caplog: pytest.LogCaptureFixture
) -> None:
    (store.root / "broken.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="framewarden.analyzers.hashlist"):
        [detections] = analyzer.analyze([image_frame(BANKED)])
    assert [d.raw_class for d in detections] == ["bank:cats"]
    assert "broken.json" in caplog.text


def test_moderator_reports_the_bank_label(analyzer: HashListAnalyzer) -> None:
    result = Moderator([HashListConfig(banks_dir=get_settings().banks_dir)]).moderate_image(BANKED)
    assert [label.name for label in result.labels] == ["Hate Symbols"]
