"""The audio track of a video: 16 kHz mono float PCM through PyAV, cut into voice chunks.

Speech models want 16 kHz mono float32 in [-1, 1]; FFmpeg's resampler
(swresample, through :class:`av.AudioResampler`) does the conversion at the
edge, so nothing downstream sees another rate or layout.

Voice activity is found by energy: the RMS of 30 ms frames is compared with
the track's own noise floor (a low percentile of the frame energies), so a
quiet room and a noisy one need no tuning; the threshold is capped, so a
track without pauses (speech over music) is voiced throughout rather than
not at all.  Runs of voiced frames closer than ``min_silence_ms`` are
joined; a run longer than ``max_chunk_s`` is cut at its quietest frame,
because the models decode at most ~30 s at once.  Music under speech
counts as voiced (energy cannot tell them apart); the ASR model then
transcribes only the words.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np

from framewarden.errors import CorruptInputError, InputError
from framewarden.media.source import _open_options, _resolve_url, map_av_error

if TYPE_CHECKING:
    from framewarden.config import Settings

SAMPLE_RATE = 16_000
FRAME_MS = 30
LIVE_ANALYZE_US = 2_500_000
MAX_AUDIO_S = 4 * 3600.0  # refuse to hold more than this much PCM (230 MB of float32)


@dataclass(frozen=True, slots=True)
class AudioTrack:
    """Mono float32 PCM at :data:`SAMPLE_RATE` (``samples`` may be empty)."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def slice(self, start_s: float, end_s: float) -> np.ndarray:
        return self.samples[int(start_s * self.sample_rate) : int(end_s * self.sample_rate)]


@dataclass(frozen=True, slots=True)
class VadOptions:
    """Energy voice-activity detection; defaults suit speech at normal levels."""

    frame_ms: int = FRAME_MS
    min_rms: float = 0.004  # absolute floor: below this a frame is silence whatever the noise
    floor_ratio: float = 3.0  # a voiced frame is this many times the noise floor
    max_threshold: float = 0.02  # ~-34 dBFS: a loud floor (music, a track with no pause) is all voiced
    min_silence_ms: int = 400  # a pause shorter than this does not end a chunk
    min_voice_ms: int = 150  # a shorter burst is a click, not a word
    pad_ms: int = 150  # kept around each chunk, so first and last phonemes survive
    max_chunk_s: float = 20.0


@dataclass(frozen=True, slots=True)
class VoiceChunk:
    start_s: float
    end_s: float


def has_audio(source: str, *, timeout_s: float = 10.0, settings: Settings | None = None) -> bool:
    """Whether ``source`` has an audio stream (an InputError when it cannot be opened)."""
    container = open_audio_container(source, timeout_s, settings=settings)
    try:
        return bool(container.streams.audio)
    finally:
        container.close()


def read_audio(
    source: str, *, timeout_s: float = 10.0, settings: Settings | None = None
) -> AudioTrack | None:
    """The whole audio track of ``source`` as 16 kHz mono, or None when it has none."""
    blocks = list(iter_audio(source, timeout_s=timeout_s, settings=settings))
    if blocks == [None]:
        return None
    pcm = [b for b in blocks if b is not None]
    return AudioTrack(np.concatenate(pcm) if pcm else np.zeros(0, np.float32))


@dataclass(slots=True)
class AudioStream:
    """The decoded blocks of a track, counted as they pass (``duration_s`` once consumed)."""

    blocks: Iterator[np.ndarray]
    samples: int = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.blocks:
            self.samples += len(block)
            yield block

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def stream_audio(
    source: str, *, timeout_s: float = 10.0, settings: Settings | None = None
) -> AudioStream | None:
    """The audio of ``source`` as it decodes (never held whole), or None when it has no audio track."""
    blocks = iter_audio(source, timeout_s=timeout_s, settings=settings)
    first = next(blocks, None)
    if first is None:
        blocks.close()
        return None
    return AudioStream(itertools.chain([first], (b for b in blocks if b is not None)))


def iter_audio(
    source: str, *, timeout_s: float = 10.0, settings: Settings | None = None, live: bool = False
) -> Generator[np.ndarray | None, None, None]:
    """16 kHz mono blocks of ``source`` as they decode; yields one None when there is no audio.

    A live source (``live=True``) is read with low-latency options, as a video
    channel is; a broken packet is skipped, a broken stream raises a typed error.
    """
    container = open_audio_container(source, timeout_s, settings=settings, live=live)
    try:
        if not container.streams.audio:
            yield None
            return
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        total = 0
        errors = 0
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    errors += 1
                    if errors > 50:
                        raise CorruptInputError(source, "audio track: too many undecodable packets") from None
                    continue
                for frame in decoded:
                    for out in resampler.resample(frame):
                        block = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        total += len(block)
                        if total > MAX_AUDIO_S * SAMPLE_RATE:
                            raise InputError(source, f"audio track longer than {MAX_AUDIO_S:g} s")
                        yield block
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        except av.error.FFmpegError as exc:
            raise map_av_error(source, exc, timeout_s) from None
    finally:
        container.close()


def open_audio_container(
    source: str, timeout_s: float, *, settings: Settings | None = None, live: bool = False
) -> av.container.InputContainer:
    """``source`` opened for its audio (and, live, its keyframes); a typed error when it cannot be."""
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    url = _resolve_url(source, scheme, settings, timeout_s)
    options = _open_options(scheme, live, timeout_s)
    if live:
        # A live FLV often sends audio before the first keyframe: probe long enough to find video too.
        options["analyzeduration"] = str(LIVE_ANALYZE_US)
        options["probesize"] = str(2 * 1024 * 1024)
    try:
        return av.open(url, options=options, timeout=(timeout_s, timeout_s))
    except av.error.FFmpegError as exc:
        raise map_av_error(source, exc, timeout_s) from None


def frame_rms(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """RMS of consecutive ``frame_len`` frames (the last partial frame dropped)."""
    n = len(samples) // frame_len
    if n == 0:
        return np.zeros(0, np.float32)
    frames = samples[: n * frame_len].reshape(n, frame_len)
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).astype(np.float32)


def voice_chunks(track: AudioTrack, options: VadOptions | None = None) -> list[VoiceChunk]:
    """Stretches of ``track`` with voice (see the module doc), in time order."""
    opts = options or VadOptions()
    frame_len = track.sample_rate * opts.frame_ms // 1000
    rms = frame_rms(track.samples, frame_len)
    if len(rms) == 0:
        return []
    floor = float(np.percentile(rms, 10))
    threshold = max(opts.min_rms, min(floor * opts.floor_ratio, opts.max_threshold))
    voiced = rms >= threshold
    runs = _runs(voiced)
    gap = math.ceil(opts.min_silence_ms / opts.frame_ms)
    joined: list[list[int]] = []
    for start, end in runs:
        if joined and start - joined[-1][1] < gap:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    min_frames = math.ceil(opts.min_voice_ms / opts.frame_ms)
    max_frames = max(1, int(opts.max_chunk_s * 1000 / opts.frame_ms))
    pad = opts.pad_ms / 1000
    out: list[VoiceChunk] = []
    for start, end in joined:
        if end - start < min_frames:
            continue
        for a, b in _split(rms, start, end, max_frames):
            t0 = max(0.0, a * opts.frame_ms / 1000 - pad)
            t1 = min(track.duration_s, b * opts.frame_ms / 1000 + pad)
            out.append(VoiceChunk(round(t0, 3), round(t1, 3)))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is true."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(edges[i]), int(edges[i + 1])) for i in range(0, len(edges), 2)]


def _split(rms: np.ndarray, start: int, end: int, max_frames: int) -> list[tuple[int, int]]:
    """Cut [start, end) at its quietest frames until no piece exceeds ``max_frames``."""
    if end - start <= max_frames:
        return [(start, end)]
    lo = start + max_frames // 2
    hi = start + max_frames
    cut = lo + int(np.argmin(rms[lo:hi]))
    return [(start, cut), *_split(rms, cut, end, max_frames)]
