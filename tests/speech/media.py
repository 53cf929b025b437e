"""Real speech for tests: espeak-ng says known sentences, FFmpeg muxes them into video.

Nothing is stored in the repository: each clip is made at test time from a
timeline of (start second, voice, sentence), optional music under it
(a chord of sine tones), and a plain video track (or none).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framewarden.media.audio import SAMPLE_RATE, read_audio

ESPEAK = shutil.which("espeak-ng")
FFMPEG = shutil.which("ffmpeg")

SENTENCES = (
    "the weather is sunny and warm today",
    "please send the report before friday afternoon",
    "my favorite color is green and blue",
    "we will meet at the station at seven",
    "the children are playing in the garden",
    "open the window and let the fresh air in",
)
PHRASE = "purple monkey dishwasher"  # the blocklisted phrase of the tests


@dataclass(frozen=True)
class Line:
    start_s: float
    text: str
    voice: str = "en-us"


def speak(text: str, voice: str, path: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 16 kHz mono float32."""
    assert ESPEAK, "espeak-ng is required (scripts/install-system-deps.sh)"
    subprocess.run([ESPEAK, "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    track = read_audio(str(path))
    assert track is not None
    return track.samples


def write_wav(samples: np.ndarray, path: Path) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def timeline(lines: Sequence[Line], duration_s: float, work: Path, music: float = 0.0) -> np.ndarray:
    """The lines placed at their times over silence (or a chord at amplitude ``music``)."""
    out = np.zeros(int(duration_s * SAMPLE_RATE), np.float32)
    if music:
        t = np.arange(len(out)) / SAMPLE_RATE
        chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
        out += (music * chord * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    for i, line in enumerate(lines):
        voice = speak(line.text, line.voice, work / f"line{i}.wav")
        a = int(line.start_s * SAMPLE_RATE)
        b = min(len(out), a + len(voice))
        out[a:b] += voice[: b - a]
    return out


def make_clip(
    path: Path,
    lines: Sequence[Line],
    duration_s: float,
    *,
    music: float = 0.0,
    video: bool = True,
    audio: bool = True,
    color: str = "gray",
    pattern: str = "",
) -> Path:
    """An MP4 (H.264 + AAC) of ``duration_s`` with the lines spoken at their times."""
    assert FFMPEG, "ffmpeg is required"
    work = path.parent / f".{path.stem}-work"
    work.mkdir(parents=True, exist_ok=True)
    args = [FFMPEG, "-v", "error", "-y"]
    if video:
        # A moving pattern (e.g. "testsrc2") defeats near-duplicate skipping; a colour is one still frame.
        source = (
            f"{pattern}=s=160x120:r=5:d={duration_s}"
            if pattern
            else f"color=c={color}:s=160x120:r=5:d={duration_s}"
        )
        args += ["-f", "lavfi", "-i", source]
    if audio:
        wav = work / "track.wav"
        write_wav(timeline(lines, duration_s, work, music), wav)
        args += ["-i", str(wav)]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    args += ["-t", str(duration_s), "-movflags", "+faststart", str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path
