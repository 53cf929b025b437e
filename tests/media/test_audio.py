"""The audio track: 16 kHz mono through PyAV, energy voice chunks, typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framewarden.errors import CorruptInputError, InputError
from framewarden.media.audio import AudioTrack, VadOptions, has_audio, read_audio, voice_chunks
from tests.speech.media import make_clip, write_wav

SR = 16_000


def _tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], []),
        ([_silence(2)], []),
        ([_silence(1), _tone(1), _silence(1)], [(0.85, 2.15)]),
        ([_tone(1), _silence(0.2), _tone(1)], [(0.0, 2.2)]),  # a short pause does not end a chunk
        ([_tone(1), _silence(1), _tone(0.5)], [(0.0, 1.15), (1.85, 2.5)]),
        ([_silence(1), _tone(0.06), _silence(1)], []),  # a click
    ],
)
def test_voice_chunks(parts: list[np.ndarray], expected: list[tuple[float, float]]) -> None:
    track = AudioTrack(np.concatenate(parts) if parts else np.zeros(0, np.float32))
    got = [(c.start_s, c.end_s) for c in voice_chunks(track)]
    assert len(got) == len(expected)
    for (a, b), (x, y) in zip(got, expected, strict=True):
        assert abs(a - x) < 0.05 and abs(b - y) < 0.05


def test_long_voice_is_cut_below_the_limit() -> None:
    track = AudioTrack(_tone(50))
    chunks = voice_chunks(track, VadOptions(max_chunk_s=20))
    assert len(chunks) >= 3
    assert all(c.end_s - c.start_s <= 20.4 for c in chunks)
    assert chunks[0].start_s == 0 and chunks[-1].end_s == pytest.approx(50, abs=0.05)


def test_read_audio_resamples_to_16k_mono(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", [], 2.0, music=0.2)
    track = read_audio(str(clip))
    assert track is not None and track.sample_rate == SR and track.samples.dtype == np.float32
    assert 1.95 < track.duration_s < 2.2 and 0.05 < float(np.abs(track.samples).max()) <= 1.0
    assert has_audio(str(clip))


def test_no_audio_track_is_none(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "v.mp4", [], 1.0, audio=False)
    assert read_audio(str(clip)) is None and not has_audio(str(clip))


def test_bad_inputs_are_typed(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(CorruptInputError):
        read_audio(str(junk))
    with pytest.raises(InputError, match="no such file"):
        read_audio(str(tmp_path / "missing.wav"))
    wav = tmp_path / "ok.wav"
    write_wav(_tone(0.5), wav)
    track = read_audio(str(wav))
    assert track is not None and abs(track.duration_s - 0.5) < 0.01
