"""The second opinion: NudeNet's raw detections stay as they are; unbacked doubtful ones become a tag."""

from __future__ import annotations

import av
import pytest

from framewarden import taxonomy
from framewarden.analyzers.base import Detection
from framewarden.analyzers.nudenet import CLASS_TO_LABEL, UNCONFIRMED, NudeNetAnalyzer, NudeNetConfig
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from tests.conftest import VIDEOS

# Issue 9's cartoon frame (18.042 s) and its neighbours: NudeNet finds "exposed" parts on the rabbit.
START_S, COUNT = 17.9, 8


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    out: list[Frame] = []
    with av.open(str(VIDEOS / "big_buck_bunny_0_30.webm")) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= START_S:
                out.append(Frame("bunny", len(out), frame.time * 1000, frame.to_ndarray(format="rgb24")))
            if len(out) == COUNT:
                break
    return out


def _raw(dets: list[Detection]) -> list[tuple[str, float, object]]:
    return [(d.raw_class, round(d.confidence, 4), d.box) for d in dets]


def _explicit(dets: list[Detection]) -> list[Detection]:
    return [d for d in dets if taxonomy.is_label(d.label) and taxonomy.top_level(d.label) == "Explicit"]


def test_raw_detections_do_not_change(frames: list[Frame]) -> None:
    off = NudeNetAnalyzer(NudeNetConfig(second_opinion=False)).analyze(frames)
    on = NudeNetAnalyzer(NudeNetConfig()).analyze(frames)
    assert [_raw(d) for d in on] == [_raw(d) for d in off]
    assert any(_explicit(d) for d in off), "the clip must give NudeNet an Explicit guess to judge"


def test_unbacked_guesses_become_a_tag_and_backed_ones_stay(frames: list[Frame]) -> None:
    off = NudeNetAnalyzer(NudeNetConfig(second_opinion=False)).analyze(frames)
    # Floor 1.0: the classifier can never back a guess; floor 0.0: it always does.
    doubted = NudeNetAnalyzer(NudeNetConfig(second_opinion_bar=1.0, second_opinion_floor=1.0)).analyze(frames)
    backed = NudeNetAnalyzer(NudeNetConfig(second_opinion_bar=1.0, second_opinion_floor=0.0)).analyze(frames)
    assert [[d.label for d in r] for r in backed] == [[d.label for d in r] for r in off]
    for before, after in zip(off, doubted, strict=True):
        assert not _explicit(after)
        for a, b in zip(before, after, strict=True):
            if a in _explicit(before):
                assert b.label == UNCONFIRMED and taxonomy.is_tag(UNCONFIRMED)
                assert "image_safety NSFW" in b.detail
            else:
                assert b.label == a.label == CLASS_TO_LABEL[a.raw_class]


def test_high_confidence_detections_are_never_questioned(frames: list[Frame]) -> None:
    off = NudeNetAnalyzer(NudeNetConfig(second_opinion=False)).analyze(frames)
    # Bar 0: every detection counts as high confidence, even with a floor nothing can reach.
    unquestioned = NudeNetAnalyzer(NudeNetConfig(second_opinion_bar=0.0, second_opinion_floor=1.0)).analyze(
        frames
    )
    assert [[d.label for d in r] for r in unquestioned] == [[d.label for d in r] for r in off]


def test_demoted_guess_is_a_visible_tag_not_a_label(frames: list[Frame]) -> None:
    config = NudeNetConfig(second_opinion_bar=1.0, second_opinion_floor=1.0)
    results = Moderator([config], min_confidence=0.0).moderate_frames(frames)
    assert all(not any(lab.name == "Explicit" for lab in r.labels) for r in results)
    assert any(tag.name == UNCONFIRMED for r in results for tag in r.tags)


def test_the_cartoon_raises_no_explicit_label_at_default_settings(frames: list[Frame]) -> None:
    """Frame 433 (18.04 s): NudeNet alone says Exposed Male Genitalia 56.6 on the rabbit."""
    alone = Moderator([NudeNetConfig(second_opinion=False)]).moderate_frames(frames)
    assert any(lab.name == "Explicit" for r in alone for lab in r.labels), "NudeNet alone flags the rabbit"
    default = Moderator(["nudenet"]).moderate_frames(frames)
    assert not any(lab.name == "Explicit" for r in default for lab in r.labels)


def test_a_missing_classifier_is_a_start_up_error_naming_the_file() -> None:
    from framewarden.errors import ConfigError

    with pytest.raises(ConfigError, match=r"nowhere\.onnx"):
        NudeNetAnalyzer(NudeNetConfig(second_opinion_model_path="/nowhere.onnx"))
    assert NudeNetAnalyzer(NudeNetConfig(second_opinion=False, second_opinion_model_path="/nowhere.onnx"))
