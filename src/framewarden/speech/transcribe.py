"""Audio track -> transcript segments: voice chunks, each through the ASR backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from framewarden.media.audio import SAMPLE_RATE, AudioTrack, VadOptions, VoiceChunk, voice_chunks
from framewarden.speech.backends import AsrBackend, build_backend
from framewarden.speech.models import SpeechConfig, TranscriptSegment


@dataclass(slots=True)
class TranscriptionStats:
    audio_s: float = 0.0
    voiced_s: float = 0.0
    wall_s: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio transcribed per second of work (higher is faster)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


class SpeechTranscriber:
    """One ASR model behind ``transcribe(track)``; safe to share between threads."""

    def __init__(self, config: SpeechConfig | None = None, backend: AsrBackend | None = None) -> None:
        self.config = config or SpeechConfig()
        self.backend = backend or build_backend(self.config)
        self.vad = VadOptions(max_chunk_s=self.config.max_chunk_s, min_silence_ms=self.config.min_silence_ms)
        self.last_stats = TranscriptionStats()

    @property
    def version(self) -> str:
        return f"{self.backend.name}/{self.backend.version}"

    def transcribe(
        self,
        track: AudioTrack,
        *,
        offset_s: float = 0.0,
        on_segment: Callable[[TranscriptSegment], None] | None = None,
    ) -> list[TranscriptSegment]:
        """Segments of ``track`` in time order; times are ``offset_s`` + time in the track."""
        started = time.perf_counter()
        stats = TranscriptionStats(audio_s=track.duration_s)
        out: list[TranscriptSegment] = []
        for chunk in voice_chunks(track, self.vad):
            stats.voiced_s += chunk.end_s - chunk.start_s
            self._chunk(track, chunk, offset_s, out, on_segment)
        stats.wall_s = time.perf_counter() - started
        self.last_stats = stats
        return out

    def transcribe_chunk(self, track: AudioTrack, *, offset_s: float = 0.0) -> list[TranscriptSegment]:
        """Segments of ``track`` taken whole as one voice chunk (the caller already cut it).

        Running the voice detection again on a cut chunk would judge its noise floor from
        the few milliseconds of padding it has: where those fall decides whether a quiet
        first word ("now", a nasal) counts as voice, so the same words could lose their start.
        """
        out: list[TranscriptSegment] = []
        self._chunk(track, VoiceChunk(0.0, track.duration_s), offset_s, out, None)
        return out

    def transcribe_blocks(
        self,
        blocks: Iterable[np.ndarray],
        *,
        window_s: float = 60.0,
        on_segment: Callable[[TranscriptSegment], None] | None = None,
    ) -> list[TranscriptSegment]:
        """Segments of a track that arrives in 16 kHz blocks, holding about ``window_s`` of PCM at a time.

        Whenever the buffer holds ``window_s``, the voice chunks that have closed
        (followed by a pause) are transcribed and their audio dropped; a chunk
        still open at the end of the buffer waits for more audio.
        """
        started = time.perf_counter()
        stats = TranscriptionStats()
        out: list[TranscriptSegment] = []
        pending: list[np.ndarray] = []
        held = 0
        offset_s = 0.0
        for block in blocks:
            pending.append(block)
            held += len(block)
            stats.audio_s += len(block) / SAMPLE_RATE
            if held >= window_s * SAMPLE_RATE:
                offset_s, rest = self._closed(np.concatenate(pending), offset_s, out, on_segment, stats)
                pending, held = [rest], len(rest)
        if held:
            self._closed(np.concatenate(pending), offset_s, out, on_segment, stats, final=True)
        stats.wall_s = time.perf_counter() - started
        self.last_stats = stats
        return out

    def _closed(
        self,
        pcm: np.ndarray,
        offset_s: float,
        out: list[TranscriptSegment],
        on_segment: Callable[[TranscriptSegment], None] | None,
        stats: TranscriptionStats,
        *,
        final: bool = False,
    ) -> tuple[float, np.ndarray]:
        """Transcribe the closed chunks of ``pcm``; the new offset and the audio kept for later."""
        track = AudioTrack(pcm)
        closed_until = track.duration_s if final else max(0.0, track.duration_s - 0.5)
        for chunk in voice_chunks(track, self.vad):
            if not final and chunk.end_s >= track.duration_s - self.vad.min_silence_ms / 1000:
                closed_until = chunk.start_s  # still talking at the edge: wait for more audio
                break
            stats.voiced_s += chunk.end_s - chunk.start_s
            self._chunk(track, chunk, offset_s, out, on_segment)
            closed_until = chunk.end_s
        keep_from = int(closed_until * SAMPLE_RATE)
        return offset_s + keep_from / SAMPLE_RATE, pcm[keep_from:]

    def _chunk(
        self,
        track: AudioTrack,
        chunk: VoiceChunk,
        offset_s: float,
        out: list[TranscriptSegment],
        on_segment: Callable[[TranscriptSegment], None] | None,
    ) -> None:
        for a, b, text in self.backend.transcribe(track.slice(chunk.start_s, chunk.end_s)):
            start = offset_s + chunk.start_s + max(0.0, a)
            end = offset_s + min(chunk.end_s, chunk.start_s + max(a, b))
            segment = TranscriptSegment(round(start, 3), round(max(end, start), 3), text)
            out.append(segment)
            if on_segment is not None:
                on_segment(segment)

    def close(self) -> None:
        self.backend.close()


_shared: dict[str, SpeechTranscriber] = {}
_shared_lock = threading.Lock()


def get_transcriber(config: SpeechConfig | None = None) -> SpeechTranscriber:
    """The process-wide transcriber of ``config`` (the model loads once)."""
    config = config or SpeechConfig()
    key = config.model_dump_json()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = SpeechTranscriber(config)
        return _shared[key]
