"""WebVTT and SRT from transcript segments; labels of spoken text."""

from __future__ import annotations

import pytest

from framewarden.speech.labels import keywords, spoken_labels
from framewarden.speech.models import TranscriptSegment
from framewarden.speech.subtitles import to_srt, to_vtt
from framewarden.speech.wer import word_error_rate
from framewarden.text.moderate import TextModerationConfig, TextModerator

SEGMENTS = [TranscriptSegment(0.5, 2.25, "Hello there."), TranscriptSegment(3661.0, 3662.5, "a --> b\n\nc")]


def test_vtt() -> None:
    assert to_vtt([]) == "WEBVTT\n"
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nHello there.\n\n01:01:01.000 --> 01:01:02.500\na -> b c\n"
    )


def test_srt() -> None:
    assert to_srt([]) == ""
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,500 --> 00:00:02,250\nHello there.\n\n2\n01:01:01,000 --> 01:01:02,500\na -> b c\n"
    )


@pytest.mark.parametrize(
    ("ref", "hyp", "wer"),
    [
        ("", "", 0.0),
        ("a b c d", "a b c d", 0.0),
        ("a b c d", "a x c", 0.5),
        ("Hello, World!", "hello world", 0.0),
    ],
)
def test_word_error_rate(ref: str, hyp: str, wer: float) -> None:
    assert word_error_rate(ref, hyp) == wer


def test_spoken_labels_keep_the_segment_time() -> None:
    moderator = TextModerator(TextModerationConfig(blocklist=("purple monkey",), profanity=False))
    segs = [TranscriptSegment(1.0, 2.0, "nice day"), TranscriptSegment(4.0, 6.5, "a Purple  Monkey here")]
    [label] = spoken_labels(segs, moderator)
    assert (label.label, label.start_ms, label.end_ms, label.source) == (
        "Blocklisted Text",
        4000.0,
        6500.0,
        "speech",
    )
    assert keywords("The purple monkey, the PURPLE one!") == ["purple", "monkey", "one"]
