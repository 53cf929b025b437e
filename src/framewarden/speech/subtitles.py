"""Transcript segments as WebVTT and SRT subtitles."""

from __future__ import annotations

from collections.abc import Sequence

from framewarden.speech.models import TranscriptSegment


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear inside.
    return " ".join(text.split()).replace("-->", "->")


def to_vtt(segments: Sequence[TranscriptSegment]) -> str:
    lines = ["WEBVTT", ""]
    for seg in segments:
        lines += [f"{_clock(seg.start_s, '.')} --> {_clock(seg.end_s, '.')}", _cue_text(seg.text), ""]
    return "\n".join(lines)


def to_srt(segments: Sequence[TranscriptSegment]) -> str:
    lines: list[str] = []
    for i, seg in enumerate(segments, 1):
        lines += [str(i), f"{_clock(seg.start_s, ',')} --> {_clock(seg.end_s, ',')}", _cue_text(seg.text), ""]
    return "\n".join(lines)
