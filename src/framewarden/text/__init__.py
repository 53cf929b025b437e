"""Text moderation shared by OCR, transcripts and chat."""

from framewarden.text.moderate import (
    PROFANITY,
    BlocklistEntry,
    TextModerationConfig,
    TextModerator,
    TextViolation,
    get_moderator,
    moderate_text,
)
from framewarden.text.normalize import deobfuscate, normalize, tokenize

__all__ = [
    "PROFANITY",
    "BlocklistEntry",
    "TextModerationConfig",
    "TextModerator",
    "TextViolation",
    "deobfuscate",
    "get_moderator",
    "moderate_text",
    "normalize",
    "tokenize",
]
