"""Speech to text of audio tracks (English only), subtitles, and spoken-text labels."""

from framewarden.speech.models import SpeechConfig, TranscriptSegment
from framewarden.speech.transcribe import SpeechTranscriber, get_transcriber

__all__ = ["SpeechConfig", "SpeechTranscriber", "TranscriptSegment", "get_transcriber"]
