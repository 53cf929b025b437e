"""ocr_text: real text rendered onto real pictures, read, judged and scheduled cheaply."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from framewarden.analyzers import config_for
from framewarden.analyzers.base import Box, Detection
from framewarden.analyzers.ocr_text import OcrTextAnalyzer, OcrTextConfig
from framewarden.media.frame import Frame
from framewarden.moderator import Moderator
from framewarden.text import PROFANITY, BlocklistEntry
from tests.conftest import IMAGES, VIDEOS

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
BLOCKLIST = ("cheap pills", BlocklistEntry(term="vermin", label="Hate Speech in Text"))
XY = tuple[int, int, int, int]  # left, top, right, bottom
Rendered = tuple[np.ndarray, dict[str, XY]]


def render(lines: list[tuple[str, tuple[int, int]]], base: str = "coffee.png") -> Rendered:
    """Text drawn with Pillow on a real photo, white on a dark band; returns each word's box."""
    image = Image.open(IMAGES / base).convert("RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 30)
    words: dict[str, XY] = {}
    for text, (x, y) in lines:
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        draw.rectangle((left - 8, top - 8, right + 8, bottom + 8), fill=(20, 20, 20))
        draw.text((x, y), text, font=font, fill=(255, 255, 255))
        for word in text.split():
            offset = draw.textlength(text[: text.index(word)], font=font)
            wl, wt, wr, wb = draw.textbbox((x + offset, y), word, font=font)
            words[word] = (int(wl), int(wt), int(wr), int(wb))
    return np.asarray(image), words


def drawtext_frame(text: str, x: int, y: int) -> np.ndarray:
    """A 1280x720 frame of a real video with a caption burned in by FFmpeg's drawtext."""
    vf = (
        f"scale=1280:720,drawtext=fontfile={FONT}:text='{text}':fontsize=40:fontcolor=white"
        f":box=1:boxcolor=black@0.7:boxborderw=8:x={x}:y={y}"
    )
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "5", "-i", str(VIDEOS / "big_buck_bunny_0_30.webm"), "-vf", vf,
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(720, 1280, 3).copy()


def center_inside(box: Box, area: XY, slack: float = 6.0) -> bool:
    cx, cy = box.left + box.width / 2, box.top + box.height / 2
    left, top, right, bottom = area
    return left - slack <= cx <= right + slack and top - slack <= cy <= bottom + slack


def by_label(dets: list[Detection], label: str) -> list[Detection]:
    return [d for d in dets if d.label == label]


def counting_recognizer(analyzer: OcrTextAnalyzer) -> list[int]:
    """Wrap the real recognizer; the list collects how many crops each call read."""
    calls: list[int] = []
    real: Callable[..., object] = analyzer.engine.text_rec

    def counted(crops: list[np.ndarray], *args: object) -> object:
        calls.append(len(crops))
        return real(crops, *args)

    analyzer.engine.text_rec = counted
    return calls


@pytest.fixture(scope="module")
def analyzer() -> OcrTextAnalyzer:
    return OcrTextAnalyzer(OcrTextConfig(interval_s=0, blocklist=BLOCKLIST))


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, dict[str, XY]]:
    return render(
        [("good morning", (40, 30)), ("you stupid idiot", (40, 170)), ("buy cheap pills", (40, 310))]
    )


def test_reads_and_judges_text_on_a_photo(analyzer: OcrTextAnalyzer, photo: Rendered) -> None:
    image, words = photo
    dets = analyzer.analyze([Frame("photo", 0, 0.0, image)])[0]
    read = sorted(d.detail.lower() for d in by_label(dets, "Text"))
    assert read == ["buy cheap pills", "good morning", "you stupid idiot"]
    (profane,) = by_label(dets, PROFANITY)
    assert profane.raw_class == "profanity" and profane.confidence >= 80
    assert profane.box is not None and center_inside(profane.box, words["idiot"])
    (listed,) = by_label(dets, "Blocklisted Text")
    assert listed.raw_class == "blocklist:cheap pills" and listed.confidence == 100
    cheap, pills = words["cheap"], words["pills"]
    assert listed.box is not None and center_inside(listed.box, (cheap[0], cheap[1], pills[2], pills[3]))
    # the clean line is tagged (searchable) and raises nothing
    assert all(d.detail.lower() != "good morning" for d in dets if d.label != "Text")
    assert {d.analyzer for d in dets} == {"ocr_text"}


def test_caption_burned_in_by_ffmpeg(analyzer: OcrTextAnalyzer) -> None:
    frame = Frame("video", 0, 0.0, drawtext_frame("they are vermin", 100, 600))
    dets = analyzer.analyze([frame])[0]
    (hate,) = by_label(dets, "Hate Speech in Text")
    assert hate.raw_class == "blocklist:vermin" and hate.detail.lower() == "they are vermin"
    assert hate.box is not None and 100 < hate.box.left < 500 and 580 < hate.box.top < 680
    assert not by_label(dets, PROFANITY)


def test_boxes_are_in_source_pixels(analyzer: OcrTextAnalyzer, photo: Rendered) -> None:
    image, words = photo
    half = np.asarray(Image.fromarray(image).resize((image.shape[1] // 2, image.shape[0] // 2)))
    frame = Frame("half", 0, 0.0, half, source_size=(image.shape[1], image.shape[0]))
    (listed,) = by_label(analyzer.analyze([frame])[0], "Blocklisted Text")
    cheap, pills = words["cheap"], words["pills"]
    assert listed.box is not None
    assert center_inside(listed.box, (cheap[0], cheap[1], pills[2], pills[3]), slack=12)


def test_no_text_no_detections() -> None:
    analyzer = OcrTextAnalyzer(OcrTextConfig(interval_s=0))
    image = np.asarray(Image.open(IMAGES / "coffee.png").convert("RGB"))
    assert analyzer.analyze([Frame("plain", 0, 0.0, image)]) == [[]]
    # The cup's rim looks like text to the presence pass; it reads as a low-score "O" and is dropped.
    assert analyzer.stats.frames == 1 and analyzer.stats.skipped_interval == 0


def test_interval_per_channel() -> None:
    analyzer = OcrTextAnalyzer(OcrTextConfig(interval_s=2.0))
    blank = np.full((120, 160, 3), 90, np.uint8)  # no text: only the presence pass runs
    schedule = [("a", 0), ("a", 500), ("b", 500), ("a", 1999), ("a", 2000), ("b", 1000), ("a", 100)]
    for i, (channel, pts) in enumerate(schedule):
        analyzer.analyze([Frame(channel, i, float(pts), blank)])
    # read: a@0, b@500, a@2000, a@100 (time went back: a new stream); skipped: a@500, a@1999, b@1000
    assert analyzer.stats.frames == 7
    assert analyzer.stats.skipped_interval == 3
    assert analyzer.stats.no_text == 4


def test_unchanged_text_is_not_read_again(photo: Rendered) -> None:
    image, _ = photo
    for steady_iou in (0.85, 1.01):  # with the steady-scene shortcut, and without it (cache only)
        analyzer = OcrTextAnalyzer(OcrTextConfig(interval_s=0, steady_iou=steady_iou, blocklist=BLOCKLIST))
        calls = counting_recognizer(analyzer)
        first = analyzer.analyze([Frame("c", 0, 0.0, image)])[0]
        again = analyzer.analyze([Frame("c", 1, 40.0, image.copy())])[0]
        assert calls == [3]  # three lines read once, never again
        assert [(d.label, d.detail, d.box) for d in again] == [(d.label, d.detail, d.box) for d in first]
        if steady_iou > 1:
            assert analyzer.stats.regions_reused == 3 and analyzer.stats.detections == 2
        else:
            assert analyzer.stats.steady == 1 and analyzer.stats.detections == 1


def test_changed_text_is_read_again() -> None:
    analyzer = OcrTextAnalyzer(OcrTextConfig(interval_s=0))
    calls = counting_recognizer(analyzer)
    before, _ = render([("have a nice day", (40, 60)), ("channel seven", (40, 250))])
    after, _ = render([("you stupid idiot", (40, 60)), ("channel seven", (40, 250))])
    first = analyzer.analyze([Frame("c", 0, 0.0, before)])[0]
    second = analyzer.analyze([Frame("c", 1, 40.0, after)])[0]
    assert not by_label(first, PROFANITY)
    assert [d.detail.lower() for d in by_label(second, PROFANITY)] == ["you stupid idiot"]
    assert calls == [2, 1]  # only the changed line is read again


def test_registry_and_config() -> None:
    config = config_for("ocr_text", interval_s=1.5, blocklist=["spam"])
    assert isinstance(config, OcrTextConfig) and config.interval_s == 1.5
    with pytest.raises(ValidationError):
        config_for("ocr_text", interval=1)
    with pytest.raises(ValidationError):
        OcrTextConfig(interval_s=-1)
    analyzer = OcrTextAnalyzer(config)
    assert analyzer.preferred_max_side == 1280
    assert {"Text", PROFANITY, "Blocklisted Text"} <= analyzer.labels()
    assert analyzer.version.startswith("rapidocr-")


def test_moderator_reports_offensive_text(tmp_path: object, photo: Rendered) -> None:
    image, _ = photo
    config = OcrTextConfig(blocklist=BLOCKLIST)
    result = Moderator([config]).moderate_array(image, source="upload.png")
    names = {label["Name"] for label in result.to_rekognition()["ModerationLabels"]}
    assert {"Offensive Text", PROFANITY, "Blocklisted Text"} <= names
    assert "Text" in {t.name for t in result.tags}
