"""Audio track -> transcript segments: voice chunks, each through the ASR backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from framewarden.media.audio import AudioTrack, VadOptions, voice_chunks
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
            for a, b, text in self.backend.transcribe(track.slice(chunk.start_s, chunk.end_s)):
                start = offset_s + chunk.start_s + max(0.0, a)
                end = offset_s + min(chunk.end_s, chunk.start_s + max(a, b))
                segment = TranscriptSegment(round(start, 3), round(max(end, start), 3), text)
                out.append(segment)
                if on_segment is not None:
                    on_segment(segment)
        stats.wall_s = time.perf_counter() - started
        self.last_stats = stats
        return out

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
