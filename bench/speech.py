"""Speech to text on 2 cores: real-time factor and word error rate of each ASR model.

    python bench/speech.py [--repeat 1]

Whisper runs twice: with its beam search (``beam_size`` 5, the default) and greedy (1).

The synthetic set is made here: espeak-ng says known sentences (two voices,
silence between them, and the same timeline again with music under it).
Real-time factor = seconds of audio transcribed per second of wall time
(higher is faster), measured side by side in this process, so the ratio
between the models is what to read on a noisy machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from framewarden.media.audio import read_audio
from framewarden.speech import SpeechConfig, SpeechTranscriber
from framewarden.speech.wer import word_errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.speech.media

from tests.speech.media import PHRASE, SENTENCES, Line, make_clip

VOICES = ("en-us", "en-gb", "en-us+f3")


def synthetic_set(work: Path) -> list[tuple[str, Path, str]]:
    lines = [
        Line(1.0 + 5.0 * i, text, VOICES[i % len(VOICES)])
        for i, text in enumerate([*SENTENCES, f"you said {PHRASE}"])
    ]
    duration = lines[-1].start_s + 5.0
    reference = " ".join(line.text for line in lines)
    return [
        ("silence between", make_clip(work / "plain.mp4", lines, duration), reference),
        ("music under", make_clip(work / "music.mp4", lines, duration, music=0.06), reference),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthetic_set(Path(tmp))
        tracks = [(name, read_audio(str(path)), ref) for name, path, ref in clips]
        rows = []
        runs = (("whisper", "whisper", 5), ("whisper-1", "whisper", 1), ("moonshine", "moonshine", 5))
        for label, model, beam in runs:
            t0 = time.perf_counter()
            transcriber = SpeechTranscriber(SpeechConfig(model=model, threads=2, beam_size=beam))
            load_s = time.perf_counter() - t0
            audio_s = wall_s = 0.0
            errors = total = 0
            per_clip = []
            for _ in range(args.repeat):
                for name, track, ref in tracks:
                    assert track is not None
                    start = time.perf_counter()
                    segments = transcriber.transcribe(track)
                    wall_s += time.perf_counter() - start
                    audio_s += track.duration_s
                    e, n = word_errors(ref, " ".join(s.text for s in segments))
                    errors, total = errors + e, total + n
                    per_clip.append(f"{name}: {e / n:.1%}")
            rows.append((label, audio_s / wall_s, errors / total, load_s, per_clip))
        base = rows[0][1]
        print(f"{'model':10} {'RTF (audio s / s)':>18} {'vs whisper':>10} {'WER':>7} {'load s':>7}  per clip")
        for model, rtf, wer, load_s, per_clip in rows:
            print(
                f"{model:10} {rtf:18.1f} {rtf / base:10.2f} {wer:7.1%} {load_s:7.2f}  {', '.join(per_clip)}"
            )


if __name__ == "__main__":
    main()
