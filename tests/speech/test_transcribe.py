"""Both ASR models on real synthetic speech: word error rate under a measured bound, segment times.

Bounds: measured with bench/speech.py on this set (whisper 12%, moonshine
14-20% word error rate; docs/speech.md); the bounds leave room for the
synthetic voice, not for a broken model (a broken one is near 100%).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from framewarden.media.audio import SAMPLE_RATE, AudioTrack, read_audio
from framewarden.speech import SpeechConfig, get_transcriber
from framewarden.speech.transcribe import SpeechTranscriber
from framewarden.speech.wer import word_error_rate
from tests.speech.media import SENTENCES, Line, make_clip

WER_BOUND = {"whisper": 0.25, "moonshine": 0.35}
TWO_SPEAKERS = [
    Line(0.5, SENTENCES[1], "en-us"),
    Line(5.0, SENTENCES[3], "en-gb+f3"),
    Line(9.5, SENTENCES[4]),
]


@pytest.fixture(scope="module")
def two_speakers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("asr") / "two.mp4", TWO_SPEAKERS, 13.0)


@pytest.mark.parametrize("model", ["whisper", "moonshine"])
def test_two_speakers_with_silence_between(model: str, two_speakers: Path) -> None:
    track = read_audio(str(two_speakers))
    assert track is not None
    segments = get_transcriber(SpeechConfig(model=model)).transcribe(track)
    text = " ".join(s.text for s in segments)
    wer = word_error_rate(" ".join(line.text for line in TWO_SPEAKERS), text)
    assert wer < WER_BOUND[model], (wer, text)
    # one segment (at least) per sentence, starting where it was spoken
    starts = [s.start_s for s in segments]
    for line in TWO_SPEAKERS:
        assert any(abs(start - line.start_s) < 0.5 for start in starts), (line, segments)
    assert all(s.end_s > s.start_s for s in segments)
    assert all(a.end_s <= b.start_s + 0.01 for a, b in itertools.pairwise(segments))


def test_a_track_in_blocks_gives_the_same_words_with_bounded_memory(two_speakers: Path) -> None:
    from framewarden.media.audio import stream_audio

    transcriber = get_transcriber(SpeechConfig(model="moonshine"))
    track = read_audio(str(two_speakers))
    audio = stream_audio(str(two_speakers))
    assert track is not None and audio is not None
    whole = transcriber.transcribe(track)
    # a 4 s window: every sentence arrives cut across windows and must wait for its pause
    pieces = transcriber.transcribe_blocks(audio, window_s=4.0)
    assert [s.text for s in pieces] == [s.text for s in whole]
    assert all(abs(a.start_s - b.start_s) < 0.2 for a, b in zip(pieces, whole, strict=True))
    assert abs(audio.duration_s - track.duration_s) < 0.01


def test_speech_under_music(tmp_path: Path) -> None:
    lines = [Line(1.0, SENTENCES[2]), Line(5.0, SENTENCES[5])]
    clip = make_clip(tmp_path / "music.mp4", lines, 9.0, music=0.06)
    track = read_audio(str(clip))
    assert track is not None
    segments = get_transcriber(SpeechConfig(model="whisper")).transcribe(track)
    wer = word_error_rate(" ".join(line.text for line in lines), " ".join(s.text for s in segments))
    assert wer < WER_BOUND["whisper"], segments


def test_silence_gives_no_segment(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "quiet.mp4", [], 3.0)
    track = read_audio(str(clip))
    assert track is not None and 2.9 < track.duration_s < 3.2
    assert get_transcriber(SpeechConfig()).transcribe(track) == []


def test_other_languages_need_a_model_path() -> None:
    from framewarden.errors import ConfigError
    from framewarden.speech.backends import build_backend

    with pytest.raises(ConfigError, match="English-only"):
        build_backend(SpeechConfig(language="fr"))


class _Recorder:
    """An ASR backend that records what it was given and hears nothing."""

    name, version = "recorder", "0"

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def transcribe(self, pcm: np.ndarray) -> list[tuple[float, float, str]]:
        self.lengths.append(len(pcm))
        return [(0.0, len(pcm) / SAMPLE_RATE, "heard")]

    def close(self) -> None:
        pass


def test_a_cut_chunk_is_transcribed_whole_even_when_it_starts_quietly() -> None:
    # A live channel cuts its audio into voice chunks itself, with a little padding. Such a
    # chunk, starting with a quiet word and then loud speech, once lost its start: the voice
    # detection ran again on it and took the quiet word for the noise floor.
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    quiet = 0.02 * np.sin(2 * np.pi * 220 * t)  # a soft first word
    loud = 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE)
    pcm = np.concatenate([quiet, loud]).astype(np.float32)
    recorder = _Recorder()
    transcriber = SpeechTranscriber(SpeechConfig(), backend=recorder)
    segments = transcriber.transcribe_chunk(AudioTrack(pcm), offset_s=10.0)
    assert recorder.lengths == [len(pcm)], "the whole chunk reaches the model"
    assert segments[0].start_s == 10.0 and segments[0].text == "heard"
    recorder.lengths.clear()
    transcriber.transcribe(AudioTrack(pcm))  # the detection on the chunk alone drops the soft start
    assert recorder.lengths and recorder.lengths[0] < len(pcm) - int(0.1 * SAMPLE_RATE)


def test_a_phrase_is_heard_wherever_the_chunk_starts(tmp_path: Path) -> None:
    # Where a live channel's voice detection cuts a chunk moves with the stream's timing; the
    # words heard must not. Greedy decoding heard "now purple" as "The Alperable" for some
    # start offsets (3 of these 11), so a blocklisted phrase was missed in some runs.
    clip = make_clip(
        tmp_path / "phrase.mp4",
        [Line(0.5, SENTENCES[3]), Line(4.0, "now purple monkey dishwasher again")],
        8.0,
    )
    pcm = read_audio(str(clip)).samples
    transcriber = get_transcriber(SpeechConfig(model="whisper"))
    heard = []
    for start_s in (3.5, 3.6, 3.7, 3.75, 3.8, 3.84, 3.88, 3.92, 3.96, 4.0, 4.03):
        chunk = AudioTrack(pcm[int(start_s * SAMPLE_RATE) : int(6.39 * SAMPLE_RATE)])
        heard.append(" ".join(s.text for s in transcriber.transcribe_chunk(chunk)).lower())
    assert all("purple monkey dishwasher" in text for text in heard), heard
