"""One uploaded video judged whole: its frames, its speech, its tags, its verdict.

Frames go through the shared inference batcher (as a scan's do), sampled
every ``upload_sample_interval_s`` and de-duplicated; the audio track is
transcribed and every segment judged by the shared text moderator.  Both
kinds of finding are judged by the same rule (the one that governs the
``upload_channel``), and the strongest action decides the status through
``upload_status_by_action``.  Tags keep the time ranges where each holds:
taxonomy labels, content tags (NudeNet), OCR keywords and spoken keywords.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from framewarden import taxonomy
from framewarden.analyzers.base import Detection
from framewarden.config import Settings
from framewarden.media.audio import has_audio, stream_audio
from framewarden.media.source import open_video
from framewarden.pipeline.batcher import InferenceBatcher
from framewarden.pipeline.dedup import Deduplicator
from framewarden.result import ModerationResult, rollup
from framewarden.rules.evaluate import ChannelRuleState, evaluate
from framewarden.rules.models import Rule
from framewarden.rules.verdict import Violation
from framewarden.speech.labels import TimedTextLabel, keywords, spoken_labels
from framewarden.speech.models import SpeechConfig, TranscriptSegment
from framewarden.speech.transcribe import get_transcriber
from framewarden.text.moderate import get_moderator
from framewarden.text.shared import text_config

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 16
_STATUS_RANK = {"approved": 0, "needs_review": 1, "rejected": 2}


@dataclass(slots=True)
class TagRanges:
    """Where one tag holds: merged [start, end] ranges in ms, and its peak confidence."""

    name: str
    kind: str  # label, tag, ocr_keyword, spoken_keyword
    confidence: float = 0.0
    ranges: list[list[float]] = field(default_factory=list)

    def add(self, start_ms: float, end_ms: float, confidence: float, gap_ms: float) -> None:
        self.confidence = max(self.confidence, confidence)
        if self.ranges and start_ms - self.ranges[-1][1] <= gap_ms:
            self.ranges[-1][1] = max(self.ranges[-1][1], end_ms)
        else:
            self.ranges.append([start_ms, end_ms])

    def to_dict(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Kind": self.kind,
            "Confidence": round(self.confidence, 3),
            "Ranges": [
                {"StartTimestampMillis": round(a), "EndTimestampMillis": round(b)} for a, b in self.ranges
            ],
        }


@dataclass(slots=True)
class Finding:
    """A violation of the upload rule, at a time, with what shows it."""

    violation: Violation
    start_ms: float
    end_ms: float
    source: str  # frames or speech
    evidence: str = ""  # the transcript text, for speech

    def to_dict(self, status: str) -> dict[str, Any]:
        return {
            **self.violation.to_dict(),
            "status": status,
            "source": self.source,
            "StartTimestampMillis": round(self.start_ms),
            "EndTimestampMillis": round(self.end_ms),
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class UploadAnalysis:
    """What the analysis found; ``to_dict`` is stored as the video's analysis."""

    duration_ms: float = 0.0
    frames_analyzed: int = 0
    has_audio: bool = False
    transcribed: bool = False
    transcript: list[TranscriptSegment] = field(default_factory=list)
    text_labels: list[TimedTextLabel] = field(default_factory=list)
    tags: dict[tuple[str, str], TagRanges] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    model_versions: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    rule_id: str = ""

    def tag(
        self, name: str, kind: str, start_ms: float, end_ms: float, confidence: float, gap_ms: float
    ) -> None:
        key = (name, kind)
        if key not in self.tags:
            self.tags[key] = TagRanges(name, kind)
        self.tags[key].add(start_ms, end_ms, confidence, gap_ms)

    def status(self, by_action: dict[str, str]) -> str:
        return max(
            (self.status_of(f, by_action) for f in self.findings),
            key=_STATUS_RANK.__getitem__,
            default="approved",
        )

    @staticmethod
    def status_of(finding: Finding, by_action: dict[str, str]) -> str:
        status = by_action.get(finding.violation.action.value, "rejected")
        return status if status in _STATUS_RANK else "rejected"

    def reasons(self, by_action: dict[str, str]) -> list[dict[str, Any]]:
        """One reason per (label, source), at its strongest and earliest."""
        best: dict[tuple[str, str], Finding] = {}
        for f in self.findings:
            key = (f.violation.label, f.source)
            old = best.get(key)
            if old is None or (f.violation.action.rank, f.violation.confidence) > (
                old.violation.action.rank, old.violation.confidence
            ):  # fmt: skip
                best[key] = f
        ordered = sorted(best.values(), key=lambda f: (-f.violation.action.rank, f.start_ms))
        return [f.to_dict(self.status_of(f, by_action)) for f in ordered]

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_ms": round(self.duration_ms),
            "frames_analyzed": self.frames_analyzed,
            "has_audio": self.has_audio,
            "transcribed": self.transcribed,
            "language": "en" if self.transcribed else None,
            "transcript": [s.to_dict() for s in self.transcript],
            "text_labels": [t.to_dict() for t in self.text_labels],
            "tags": [t.to_dict() for t in sorted(self.tags.values(), key=lambda t: (t.kind, t.name))],
            "labels": [t.to_dict() for t in self.tags.values() if t.kind == "label"],
            "model_versions": self.model_versions,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "rule_id": self.rule_id,
        }


def analyze_upload(
    source: str, *, settings: Settings, batcher: InferenceBatcher, rule: Rule, model_versions: dict[str, str]
) -> UploadAnalysis:
    """Judge ``source`` whole; raises an :class:`~framewarden.errors.InputError` when it cannot be read."""
    out = UploadAnalysis(model_versions=dict(model_versions), rule_id=rule.id)
    step_ms = settings.upload_sample_interval_s * 1000
    gap_ms = 2 * step_ms + 1
    t0 = time.perf_counter()
    speech = UploadAnalysis()  # filled by a thread of its own: speech and frames overlap
    with ThreadPoolExecutor(1, thread_name_prefix="fw-upload-speech") as pool:
        speech_done = pool.submit(_timed_speech, source, settings, speech)
        frame_results = _frames(source, settings, batcher, out)
        out.timings_s["frames"] = time.perf_counter() - t0
        speech_done.result()  # an unreadable audio track fails the upload like unreadable frames
    out.has_audio, out.transcribed, out.transcript = speech.has_audio, speech.transcribed, speech.transcript
    out.text_labels, out.timings_s["speech"] = speech.text_labels, speech.timings_s["speech"]
    out.model_versions.update(speech.model_versions)
    out.duration_ms = max(out.duration_ms, speech.duration_ms)
    for (name, kind), ranges in speech.tags.items():
        for a, b in ranges.ranges:
            out.tag(name, kind, a, b, ranges.confidence, 0.0)
    for result in frame_results:
        pts = result.pts_ms or 0.0
        for label in result.labels:
            out.tag(label.name, "label", pts, pts + step_ms, label.confidence, gap_ms)
        for tag in result.tags:
            out.tag(tag.name, "tag", pts, pts + step_ms, tag.confidence, gap_ms)
        for det in result.detections:
            if det.label == "Text" and det.detail:
                for word in keywords(det.detail):
                    out.tag(word, "ocr_keyword", pts, pts + step_ms, det.confidence, gap_ms)
    _judge(rule, frame_results, out, step_ms)
    out.timings_s["total"] = time.perf_counter() - t0
    return out


def _frames(
    source: str, settings: Settings, batcher: InferenceBatcher, out: UploadAnalysis
) -> list[ModerationResult]:
    results: list[ModerationResult] = []
    pending: collections.deque[Future[ModerationResult]] = collections.deque()
    dedup = Deduplicator(True, 8, 10.0)
    with open_video(source, timeout_s=30.0, settings=settings) as video:
        out.duration_ms = float(video.metadata.duration_ms or 0)
        for frame in video.frames(
            channel=f"upload:{source}", sample_interval_s=settings.upload_sample_interval_s
        ):
            if not dedup.should_analyze(frame):
                continue
            pending.append(batcher.submit(frame))
            while len(pending) > MAX_IN_FLIGHT:  # completeness over latency: wait, never drop
                results.append(pending.popleft().result())
        while pending:
            results.append(pending.popleft().result())
    out.frames_analyzed = len(results)
    return results


def _timed_speech(source: str, settings: Settings, out: UploadAnalysis) -> None:
    started = time.perf_counter()
    _speech(source, settings, out)
    out.timings_s["speech"] = time.perf_counter() - started


def _speech(source: str, settings: Settings, out: UploadAnalysis) -> None:
    if not settings.upload_transcribe:
        out.has_audio = has_audio(source, timeout_s=30.0, settings=settings)
        return
    audio = stream_audio(source, timeout_s=30.0, settings=settings)
    out.has_audio = audio is not None
    if audio is None:
        return
    transcriber = get_transcriber(SpeechConfig.model_validate(settings.speech_options))
    out.transcript = transcriber.transcribe_blocks(audio)  # bounded memory, whatever the length
    out.duration_ms = max(out.duration_ms, audio.duration_s * 1000)
    out.transcribed = True
    out.model_versions["speech"] = transcriber.version
    out.text_labels = spoken_labels(out.transcript, get_moderator(text_config(settings)))
    for seg in out.transcript:
        for word in keywords(seg.text):
            out.tag(word, "spoken_keyword", seg.start_s * 1000, seg.end_s * 1000, 100.0, 0.0)
    for lab in out.text_labels:
        for name in (lab.label, *taxonomy.ancestors(lab.label)):
            out.tag(name, "label", lab.start_ms, lab.end_ms, lab.confidence, 0.0)


def _judge(rule: Rule, frames: Sequence[ModerationResult], out: UploadAnalysis, step_ms: float) -> None:
    """Every analyzed frame, then every spoken label, through the rule (one K-of-N window each)."""
    state = ChannelRuleState()
    for seq, result in enumerate(frames):
        pts = result.pts_ms or 0.0
        labels = {lab.name: lab.confidence for lab in result.labels}
        verdict, state = evaluate(rule, labels, state, channel="upload", frame_seq=seq, pts_ms=pts)
        out.findings += [Finding(v, pts, pts + step_ms, "frames") for v in verdict.violations]
    state = ChannelRuleState()
    for seq, lab in enumerate(out.text_labels):
        rolled = rollup([Detection(lab.label, lab.confidence, "speech", "", lab.term)], 0.0)
        labels = {r.name: r.confidence for r in rolled}
        verdict, state = evaluate(rule, labels, state, channel="upload", frame_seq=seq, pts_ms=lab.start_ms)
        out.findings += [Finding(v, lab.start_ms, lab.end_ms, "speech", lab.text) for v in verdict.violations]
