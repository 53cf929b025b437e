"""``scan --transcribe``: a video's transcript and spoken-text labels added to its scan result.

The Rekognition-shaped result gains ``Transcript`` (segments with times),
``TextModerationLabels`` (each spoken violation with its time range) and,
in ``ModerationLabels``, an entry per spoken violation (with its ancestors)
at the segment's start, so a reader of Rekognition's keys sees it too.
Subtitles (WebVTT and SRT) are written beside the result file.  English
only: the packaged models are English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from framewarden import taxonomy
from framewarden.config import Settings
from framewarden.fsutil import write_atomic
from framewarden.media.audio import stream_audio
from framewarden.speech.labels import spoken_labels
from framewarden.speech.models import SpeechConfig, TranscriptSegment
from framewarden.speech.subtitles import to_srt, to_vtt
from framewarden.speech.transcribe import get_transcriber
from framewarden.text.moderate import get_moderator
from framewarden.text.shared import text_config


def add_transcript(body: dict[str, Any], source: str, settings: Settings) -> list[TranscriptSegment]:
    """Transcribe ``source`` and put what was said (and judged) into ``body``; returns the segments."""
    audio = stream_audio(source, timeout_s=30.0, settings=settings)
    if audio is None:
        body["Transcript"] = {"HasAudio": False, "LanguageCode": None, "Segments": []}
        body["TextModerationLabels"] = []
        return []
    transcriber = get_transcriber(SpeechConfig.model_validate(settings.speech_options))
    segments = transcriber.transcribe_blocks(audio)
    labels = spoken_labels(segments, get_moderator(text_config(settings)))
    body["Transcript"] = {
        "HasAudio": True,
        "LanguageCode": "en",
        "Model": transcriber.version,
        "Segments": [s.to_dict() for s in segments],
    }
    body["TextModerationLabels"] = [lab.to_dict() for lab in labels]
    segmented = body.get("GetRequestMetadata", {}).get("AggregateBy") == "SEGMENTS"
    entries = list(body.get("ModerationLabels", []))
    for lab in labels:
        for name in (lab.label, *taxonomy.ancestors(lab.label)):
            node = taxonomy.node(name)
            label = {"Confidence": round(lab.confidence, 3), "Name": name, "ParentName": node.parent,
                     "TaxonomyLevel": node.level}  # fmt: skip
            start, end = round(lab.start_ms), round(lab.end_ms)
            if segmented:
                entries.append({"StartTimestampMillis": start, "EndTimestampMillis": end,
                                "DurationMillis": end - start, "ModerationLabel": label})  # fmt: skip
            else:
                entries.append({"Timestamp": start, "ModerationLabel": label})
    key = "StartTimestampMillis" if segmented else "Timestamp"
    entries.sort(key=lambda e: (e[key], e["ModerationLabel"]["TaxonomyLevel"]))
    body["ModerationLabels"] = entries
    return segments


def write_subtitles(result_file: Path, segments: list[TranscriptSegment]) -> tuple[Path, Path]:
    """``<result>.vtt`` and ``<result>.srt`` beside the result JSON."""
    vtt, srt = result_file.with_suffix(".vtt"), result_file.with_suffix(".srt")
    write_atomic(vtt, to_vtt(segments).encode("utf-8"))
    write_atomic(srt, to_srt(segments).encode("utf-8"))
    return vtt, srt
