"""Live channels' audio, transcribed continuously and judged like burnt-in text.

One :class:`LiveSpeech` per running channel, beside (not inside) its frame
worker: a reader thread opens the channel's source a second time, decodes
the audio track to 16 kHz mono and keeps the video keyframes of the last
seconds (for evidence); a transcriber thread cuts the audio into voice
chunks as they close (a pause, or ``max_chunk_s``), transcribes them and
hands each segment to the :class:`~framewarden.pipeline.text_judge.TextJudge`.
A flagged segment raises an alert with its evidence: the segment's text and
times, and the keyframe shown at that time.

Latency over completeness, as for live frames: audio that waits longer than
``live_audio_max_lag_s`` (the transcriber cannot keep up) is dropped and
counted, never queued without bound.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import av
import av.error
import numpy as np

from framewarden.errors import InputError
from framewarden.events import Event, EventBus
from framewarden.media.audio import SAMPLE_RATE, AudioTrack, VadOptions, open_audio_container, voice_chunks
from framewarden.pipeline.text_judge import TextJudge
from framewarden.speech.models import TranscriptSegment
from framewarden.speech.transcribe import SpeechTranscriber

log = logging.getLogger(__name__)

EVENT_KIND = "speech"
KEYFRAMES_KEPT_S = 60.0
TICK_S = 0.5  # how often closed voice chunks are looked for


@dataclass(slots=True)
class LiveSpeechStats:
    segments: int = 0
    flagged: int = 0
    audio_s: float = 0.0  # transcribed
    dropped_s: float = 0.0  # dropped because the transcriber was behind
    lag_s: float = 0.0  # arrival -> transcript of the latest segment
    reconnects: int = 0
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "flagged": self.flagged,
            "audio_s": round(self.audio_s, 3),
            "dropped_s": round(self.dropped_s, 3),
            "lag_s": round(self.lag_s, 3),
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class _Block:
    start_s: float  # media time of the first sample
    pcm: np.ndarray
    arrived: float  # wall clock


@dataclass(slots=True)
class _Keyframes:
    """Recent keyframes by media time (for the evidence of a spoken violation)."""

    times: list[float] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, t: float, image: np.ndarray) -> None:
        with self.lock:
            self.times.append(t)
            self.images.append(image)
            while self.times and self.times[0] < t - KEYFRAMES_KEPT_S:
                self.times.pop(0)
                self.images.pop(0)

    def at(self, t: float) -> np.ndarray | None:
        """The last keyframe shown at or before ``t`` (the first one if ``t`` is earlier)."""
        with self.lock:
            if not self.times:
                return None
            i = max(0, bisect.bisect_right(self.times, t) - 1)
            return self.images[i]


Evidence = Callable[[np.ndarray, dict[str, Any], str], str]  # (rgb, metadata, channel) -> key


class LiveSpeech:
    def __init__(
        self,
        channel: str,
        source: str,
        *,
        transcriber: SpeechTranscriber,
        judge: TextJudge,
        bus: EventBus,
        max_lag_s: float = 10.0,
        evidence: Evidence | None = None,
        timeout_s: float = 10.0,
        opener: Callable[..., Any] = open_audio_container,
    ) -> None:
        self.channel = channel
        self.source = source
        self.transcriber = transcriber
        self.judge = judge
        self.bus = bus
        self.max_lag_s = max_lag_s
        self.evidence = evidence
        self.timeout_s = timeout_s
        self.opener = opener
        self.stats = LiveSpeechStats()
        self.vad = VadOptions(max_chunk_s=transcriber.config.max_chunk_s, min_silence_ms=300)
        self._blocks: queue.Queue[_Block] = queue.Queue(maxsize=int(max_lag_s * 50) + 10)
        self._keyframes = _Keyframes()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifetime ---------------------------------------------------------------
    def start(self) -> LiveSpeech:
        for target, name in ((self._read_loop, "read"), (self._transcribe_loop, "asr")):
            thread = threading.Thread(target=target, name=f"fw-speech-{name}-{self.channel}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        reader, asr = self._threads or (None, None)
        if asr is not None:
            asr.join(timeout)
        if reader is not None:
            # A reader blocked in a network read cannot be interrupted; it sees the stop flag
            # within timeout_s and ends on its own (a daemon thread): do not hold shutdown for it.
            reader.join(min(timeout, 1.0))

    # --- reading ------------------------------------------------------------------
    def _read_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._read_once()
                backoff = 0.5
            except InputError as exc:
                self.stats.last_error = str(exc)
            except Exception as exc:  # a broken stream must not kill the channel's speech for good
                log.debug("speech reader of %s failed", self.channel, exc_info=True)
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self._stop.wait(backoff):
                return
            self.stats.reconnects += 1
            backoff = min(backoff * 2, 10.0)

    def _read_once(self) -> None:
        container = self.opener(self.source, self.timeout_s, live=True)
        try:
            if not container.streams.audio:
                self.stats.last_error = "no audio track"
                return
            audio = container.streams.audio[0]
            streams = [audio]
            video = container.streams.video[0] if container.streams.video else None
            if video is not None:
                streams.append(video)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            origin: float | None = None
            for packet in container.demux(*streams):
                if self._stop.is_set():
                    return
                if packet.pts is None:
                    continue
                if packet.stream.type == "video" and not packet.is_keyframe:
                    continue  # evidence needs keyframes only: the rest never reaches the decoder
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue
                for frame in frames:
                    if frame.pts is None or frame.time_base is None:
                        continue
                    t = float(frame.pts * frame.time_base)
                    if origin is None:
                        origin = t
                    if packet.stream.type == "video":
                        self._keyframes.add(t - origin, frame.to_ndarray(format="rgb24"))
                        continue
                    for out in resampler.resample(frame):
                        pcm = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        self._offer(_Block(t - origin, pcm, time.time()))
        finally:
            container.close()

    def _offer(self, block: _Block) -> None:
        try:
            self._blocks.put_nowait(block)
        except queue.Full:  # the transcriber is behind: the newest audio wins
            self.stats.dropped_s += len(block.pcm) / SAMPLE_RATE

    # --- transcribing ---------------------------------------------------------------
    def _transcribe_loop(self) -> None:
        pending: deque[_Block] = deque()
        while not self._stop.is_set():
            try:
                pending.append(self._blocks.get(timeout=TICK_S))
                while True:
                    pending.append(self._blocks.get_nowait())
            except queue.Empty:
                pass
            now = time.time()
            while pending and now - pending[0].arrived > self.max_lag_s:
                self.stats.dropped_s += len(pending.popleft().pcm) / SAMPLE_RATE
            if pending:
                try:
                    self._transcribe_closed(pending)
                except Exception as exc:
                    log.exception("speech of %s: transcription failed", self.channel)
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    pending.clear()

    def _transcribe_closed(self, pending: deque[_Block]) -> None:
        """Transcribe the voice chunks that have ended; keep the audio of one still open."""
        start_s = pending[0].start_s
        pcm = np.concatenate([b.pcm for b in pending])
        track = AudioTrack(pcm)
        end_s = track.duration_s
        chunks = voice_chunks(track, self.vad)
        closed_until = 0.0
        for chunk in chunks:
            open_chunk = chunk.end_s >= end_s - self.vad.min_silence_ms / 1000
            if open_chunk and end_s - chunk.start_s < self.vad.max_chunk_s:
                break  # still talking: wait for the pause
            arrived = pending[-1].arrived
            for segment in self.transcriber.transcribe_chunk(
                AudioTrack(track.slice(chunk.start_s, chunk.end_s)), offset_s=start_s + chunk.start_s
            ):
                self._segment(segment, arrived)
            self.stats.audio_s += chunk.end_s - chunk.start_s
            closed_until = chunk.end_s
        if not chunks:  # silence: keep a little, in case a word starts at the edge
            closed_until = max(0.0, end_s - 0.5)
        self._drop_until(pending, start_s + closed_until)

    @staticmethod
    def _drop_until(pending: deque[_Block], media_s: float) -> None:
        while pending and pending[0].start_s + len(pending[0].pcm) / SAMPLE_RATE <= media_s:
            pending.popleft()
        if pending and pending[0].start_s < media_s:
            head = pending.popleft()
            cut = int((media_s - head.start_s) * SAMPLE_RATE)
            pending.appendleft(_Block(media_s, head.pcm[cut:], head.arrived))

    def _segment(self, segment: TranscriptSegment, arrived: float) -> None:
        self.stats.segments += 1
        self.stats.lag_s = time.time() - arrived
        evidence_key: str | None = None
        payload = {"segment": segment.to_dict(), "channel": self.channel}
        mid = (segment.start_s + segment.end_s) / 2

        def keep(verdict: dict[str, Any]) -> str:
            image = self._keyframes.at(mid)
            if image is None or self.evidence is None:
                return ""
            meta = {"kind": "speech", "channel": self.channel, "segment": segment.to_dict()}
            meta["verdict"] = verdict
            return self.evidence(image, meta, self.channel)

        judgement = self.judge.judge(
            self.channel, segment.text, source="speech", pts_ms=segment.start_s * 1000, evidence=keep
        )
        if judgement.verdict.flagged:
            self.stats.flagged += 1
            evidence_key = judgement.evidence_key
        self.bus.publish(
            Event(
                EVENT_KIND,
                {**payload, "flagged": judgement.verdict.flagged, "alert_id": judgement.alert_id,
                 "labels": judgement.labels, "evidence_key": evidence_key, "stats": self.stats.to_dict()},
                channel=self.channel,
            )
        )  # fmt: skip


def evidence_writer(store: Any) -> Evidence:
    """An :data:`Evidence` callable over :class:`framewarden.actions.evidence.EvidenceStore`."""

    def keep(image: np.ndarray, meta: dict[str, Any], channel: str) -> str:
        key = store.keep(image, meta, channel=channel, flagged=True, at=datetime.now(UTC))
        return str(key or "")

    return keep


class LiveSpeechManager:
    """Keeps one :class:`LiveSpeech` per live channel, following the channel manager's state."""

    def __init__(
        self,
        snapshots: Callable[[], list[Any]],
        factory: Callable[[str, str], LiveSpeech],
        period_s: float = 1.0,
    ) -> None:
        self._snapshots = snapshots
        self._factory = factory
        self._period_s = period_s
        self.running: dict[str, LiveSpeech] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fw-speech-manager", daemon=True)

    def start(self) -> LiveSpeechManager:
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        for speech in self.running.values():
            speech.stop(timeout)
        self.running.clear()

    def sync(self) -> None:
        """Start speech for channels that run, stop it for channels that no longer do."""
        wanted = {s.name: s.source for s in self._snapshots() if str(s.state) not in {"stopped", "error"}}
        for name in list(self.running):
            if name not in wanted or self.running[name].source != wanted[name]:
                self.running.pop(name).stop()
        for name, source in wanted.items():
            if name not in self.running:
                self.running[name] = self._factory(name, source).start()

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.sync()
            except Exception:
                log.exception("live speech: sync failed")
