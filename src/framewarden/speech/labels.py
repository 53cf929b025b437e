"""Spoken text -> text labels with time ranges, through the shared text moderator.

A transcript segment is judged like a line of OCR text: the blocklist and the
profanity model of :mod:`framewarden.text`; each violation becomes a label of
the "Offensive Text" subtree that holds over the segment's time range.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framewarden.speech.models import TranscriptSegment
from framewarden.text.moderate import TextModerator


@dataclass(frozen=True, slots=True)
class TimedTextLabel:
    """A text label over a stretch of media time (or of a chat message)."""

    label: str
    confidence: float
    start_ms: float
    end_ms: float
    source: str  # "speech", "ocr" or "chat"
    term: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "Name": self.label,
            "Confidence": round(self.confidence, 3),
            "StartTimestampMillis": round(self.start_ms),
            "EndTimestampMillis": round(self.end_ms),
            "Source": self.source,
            "Term": self.term,
            "Text": self.text,
        }


def spoken_labels(segments: Sequence[TranscriptSegment], moderator: TextModerator) -> list[TimedTextLabel]:
    out = []
    for seg in segments:
        for v in moderator.moderate(seg.text):
            out.append(
                TimedTextLabel(
                    v.label, v.confidence, seg.start_s * 1000, seg.end_s * 1000, "speech", v.term, seg.text
                )
            )
    return out


_STOP_WORDS = """
a an and are as at be but by for from has have he her his i in is it its me my no not of on or our
she so that the their them then there they this to too was we were what when which who will with you your
"""
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z][a-z0-9']{2,}")


def keywords(text: str) -> list[str]:
    """Content words of ``text`` (lower case, stop words dropped), in order, once each."""
    return list(dict.fromkeys(w.strip("'") for w in _WORD.findall(text.lower()) if w not in _STOP))
