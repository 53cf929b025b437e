"""One blocklist for every text framewarden reads: OCR of frames, transcripts, chat.

The operator sets it once, as ``text_blocklist`` / ``text_blocklist_file``
(settings).  The older ``analyzer_options.ocr_text.blocklist`` (and its
``blocklist_file``, ``profanity``, ``profanity_threshold``) is still read and
now applies to speech and chat too: the terms of both places are joined.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from framewarden.text.blocklist import parse_terms_file
from framewarden.text.moderate import BlocklistEntry, TextModerationConfig

if TYPE_CHECKING:
    from framewarden.config import Settings


def _entries(raw: Any) -> list[str | BlocklistEntry]:
    out: list[str | BlocklistEntry] = []
    for item in raw or ():
        out.append(item if isinstance(item, str | BlocklistEntry) else BlocklistEntry.model_validate(item))
    return out


def shared_terms(settings: Settings) -> list[str | BlocklistEntry]:
    """The shared terms (``text_blocklist`` and its file); the OCR options' own terms not included."""
    terms = _entries(settings.text_blocklist)
    if settings.text_blocklist_file is not None:
        terms += [
            BlocklistEntry(term=t.text, label=t.label) for t in parse_terms_file(settings.text_blocklist_file)
        ]
    return terms


def text_config(settings: Settings) -> TextModerationConfig:
    """The text moderation every reader shares: shared terms + the legacy OCR options."""
    ocr = settings.analyzer_options.get("ocr_text", {})
    terms = shared_terms(settings) + _entries(ocr.get("blocklist"))
    ocr_file = ocr.get("blocklist_file")
    return TextModerationConfig(
        profanity=bool(ocr.get("profanity", True)),
        profanity_threshold=float(ocr.get("profanity_threshold", 0.8)),
        blocklist=tuple(dict.fromkeys(terms)),
        blocklist_file=Path(ocr_file) if ocr_file else None,
    )


def ocr_options(settings: Settings, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` of the OCR analyzer with the shared terms added to its blocklist."""
    shared = shared_terms(settings)
    if not shared:
        return options
    own = _entries(options.get("blocklist"))
    return {**options, "blocklist": list(dict.fromkeys([*own, *shared]))}
