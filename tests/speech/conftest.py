"""Clips with real speech, made once per session (espeak-ng + FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.speech.media import PHRASE, SENTENCES, Line, make_clip

PHRASE_AT_S = 6.0


@pytest.fixture(scope="session")
def speech_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("speech")
    return {
        # a sentence, silence, then the blocklisted phrase at PHRASE_AT_S
        "phrase": make_clip(
            root / "phrase.mp4",
            [Line(1.0, SENTENCES[0]), Line(PHRASE_AT_S, f"they said {PHRASE} loudly")],
            11.0,
        ),
        "clean": make_clip(root / "clean.mp4", [Line(0.5, SENTENCES[1])], 5.0),
        "red_silent": make_clip(root / "red.mp4", [], 3.0, audio=False, color="red"),
    }
