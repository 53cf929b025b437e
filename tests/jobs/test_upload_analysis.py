"""One upload judged whole: tags with time ranges from every kind of finding, and the status rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pytest

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.config import Settings
from framewarden.jobs.upload_analysis import UploadAnalysis, analyze_upload
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.rules.models import Rule
from tests.speech.media import PHRASE, Line, make_clip


class CaptionConfig(AnalyzerConfig):
    type: Literal["test_caption"] = "test_caption"


@register("test_caption", CaptionConfig, "Test: a face tag everywhere, a caption from 2 s on.")
class Caption:
    """Known answers in place of NudeNet and OCR: a content tag, and text read from 2 s on."""

    name = "test_caption"
    version = "1"

    def __init__(self, config: CaptionConfig) -> None:
        self.config = config

    def labels(self) -> frozenset[str]:
        return frozenset({"Face Female", "Text"})

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        out = []
        for frame in frames:
            found = [Detection("Face Female", 80.0, self.name, self.version, "FACE_FEMALE")]
            if frame.pts_ms >= 2000:
                found.append(Detection("Text", 95.0, self.name, self.version, "text", None, "Big SALE today"))
            out.append(found)
        return out

    def close(self) -> None:
        pass


REVIEW = Rule.model_validate(
    {"id": "uploads", "channel": "uploads", "labels": {"Offensive Text": {"review": 50}}}
)


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> UploadAnalysis:
    work = tmp_path_factory.mktemp("ua")
    clip = make_clip(work / "c.mp4", [Line(0.5, "the garden is green"), Line(3.0, f"say {PHRASE}")], 6.0,
                     pattern="testsrc")  # fmt: skip
    settings = Settings(data_dir=work, analyzers=["test_caption"], text_blocklist=[PHRASE])
    batcher = InferenceBatcher(Moderator(settings=settings)).start()
    try:
        return analyze_upload(str(clip), settings=settings, batcher=batcher, rule=REVIEW, model_versions={})
    finally:
        batcher.close(10)


def test_tags_of_every_kind_with_their_time_ranges(analysis: UploadAnalysis) -> None:
    body = analysis.to_dict()
    tags = {(t["Name"], t["Kind"]): [(r["StartTimestampMillis"], r["EndTimestampMillis"])
                                     for r in t["Ranges"]] for t in body["tags"]}  # fmt: skip
    assert tags[("Face Female", "tag")] == [(0, 6000)]  # frames at 0..5 s, each standing for 1 s: one range
    assert tags[("sale", "ocr_keyword")] == [(2000, 6000)]  # from the first frame that showed it
    assert ("today", "ocr_keyword") in tags and ("big", "ocr_keyword") in tags
    [(start, end)] = tags[("green", "spoken_keyword")]
    assert 300 <= start <= 700 < end <= 3000
    [(start, _)] = tags[("Blocklisted Text", "label")]
    assert 2500 <= start <= 3500 and ("Offensive Text", "label") in tags
    assert body["has_audio"] and body["frames_analyzed"] == 6 and body["rule_id"] == "uploads"


def test_status_follows_the_configured_mapping(analysis: UploadAnalysis) -> None:
    default = Settings().upload_status_by_action
    assert analysis.status(default) == "needs_review"  # the rule's tier for spoken text is review
    [reason] = analysis.reasons(default)
    assert (reason["source"], reason["action"], reason["status"]) == ("speech", "review", "needs_review")
    assert analysis.status({**default, "review": "rejected"}) == "rejected"
    assert analysis.status({"alert": "approved"}) == "rejected"  # an unmapped action is never let through
    assert UploadAnalysis().status(default) == "approved"
