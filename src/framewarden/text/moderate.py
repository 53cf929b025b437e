"""``moderate_text``: one text in, its violations (taxonomy labels) out.

Shared by every place text shows up: OCR of frames, transcripts, chat.  Two
judges: the operator's blocklist (exact policy, whole words, through
obfuscation) and a statistical profanity/insult model for what nobody
listed.  Labels are the "Offensive Text" names of :mod:`framewarden.taxonomy`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from framewarden.text.blocklist import BLOCKLISTED, Blocklist, Term, check_text_label, parse_terms_file
from framewarden.text.normalize import deobfuscate, merge_spelled, tokenize
from framewarden.text.profanity import profanity_probabilities

PROFANITY = "Profanity or Insults in Text"


class BlocklistEntry(BaseModel):
    """A blocklisted term with its own label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: str = Field(min_length=1, description="Word or phrase to flag (matched on whole words).")
    label: str = Field(default=BLOCKLISTED, description='"Blocklisted Text" or "Hate Speech in Text".')

    @field_validator("label")
    @classmethod
    def _text_label(cls, v: str) -> str:
        return check_text_label(v)


class TextModerationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profanity: bool = Field(default=True, description="Run the profanity/insult model.")
    profanity_threshold: float = Field(
        default=0.8, ge=0, le=1, description="Flag text whose profanity probability is at least this."
    )
    blocklist: tuple[str | BlocklistEntry, ...] = Field(
        default=(), description='Terms to flag: "word" or {term = "...", label = "Hate Speech in Text"}.'
    )
    blocklist_file: Path | None = Field(
        default=None, description="A UTF-8 file of terms, one a line, '#' comments, optional 'term | Label'."
    )
    default_label: str = Field(default=BLOCKLISTED, description="Label of terms given without one.")

    @field_validator("default_label")
    @classmethod
    def _text_label(cls, v: str) -> str:
        return check_text_label(v)

    def terms(self) -> list[Term]:
        out = [Term(e, self.default_label) if isinstance(e, str) else Term(e.term, e.label)
               for e in self.blocklist]  # fmt: skip
        if self.blocklist_file is not None:
            out.extend(parse_terms_file(self.blocklist_file, self.default_label))
        return out


@dataclass(frozen=True, slots=True)
class TextViolation:
    label: str  # an "Offensive Text" taxonomy name
    confidence: float  # 0-100
    kind: Literal["profanity", "blocklist"]
    term: str  # the blocklisted term, or the word that drove the profanity score
    start: int  # span of the moderated text that matched
    end: int
    matched: str  # that span as written

    @property
    def raw_class(self) -> str:
        return "profanity" if self.kind == "profanity" else f"blocklist:{self.term}"


class TextModerator:
    """A compiled :class:`TextModerationConfig`; safe to share between threads."""

    def __init__(self, config: TextModerationConfig | None = None, *, cache_size: int = 1024) -> None:
        self.config = config or TextModerationConfig()
        self.blocklist = Blocklist(self.config.terms())
        self._cache: OrderedDict[str, list[TextViolation]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def moderate(self, text: str) -> list[TextViolation]:
        """Violations in ``text``, blocklist first, each with its span."""
        with self._lock:
            if text in self._cache:  # OCR reads the same caption frame after frame
                self._cache.move_to_end(text)
                return list(self._cache[text])
        found = self._blocklisted(text) + self._profane(text)
        with self._lock:
            self._cache[text] = found
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return list(found)

    def _blocklisted(self, text: str) -> list[TextViolation]:
        return [TextViolation(m.term.label, m.confidence, "blocklist", m.term.text, m.start, m.end,
                              text[m.start : m.end]) for m in self.blocklist.find(text)]  # fmt: skip

    def _profane(self, text: str) -> list[TextViolation]:
        if not self.config.profanity or not text.strip():
            return []
        plain = deobfuscate(text)
        variants = list(dict.fromkeys([text, plain, _collapse(plain)]))
        score = max(profanity_probabilities(variants))
        if score < self.config.profanity_threshold:
            return []
        # Point at the word that drives the score; the whole text when no word does alone.
        words = merge_spelled(tokenize(text), across_spaces=True)
        start, end, term = 0, len(text), text.strip()
        if words:
            n = len(words)
            both = profanity_probabilities([w.plain for w in words] + [_collapse(w.plain) for w in words])
            probs = [max(both[i], both[i + n]) for i in range(n)]
            best = max(range(n), key=probs.__getitem__)
            if probs[best] >= self.config.profanity_threshold:
                start, end, term = words[best].start, words[best].end, words[best].plain
        confidence = round(score * 100, 3)
        return [TextViolation(PROFANITY, confidence, "profanity", term, start, end, text[start:end])]

    @cached_property
    def labels(self) -> frozenset[str]:
        """Labels this moderator can raise."""
        out = {t.label for t in self.config.terms()} | {self.config.default_label}
        if self.config.profanity:
            out.add(PROFANITY)
        return frozenset(out)


def _collapse(text: str) -> str:
    """Stretched letters cut to one ("fuuuck" -> "fuck") for the word-based model."""
    out: list[str] = []
    for ch in text:
        if not (out and out[-1] == ch and ch.isalpha()):
            out.append(ch)
    return "".join(out)


_moderators: OrderedDict[str, TextModerator] = OrderedDict()
_moderators_lock = threading.Lock()


def get_moderator(config: TextModerationConfig | None = None) -> TextModerator:
    """The shared compiled moderator of ``config`` (compiled once per config)."""
    config = config or TextModerationConfig()
    key = config.model_dump_json()
    with _moderators_lock:
        if key not in _moderators:
            _moderators[key] = TextModerator(config)
            while len(_moderators) > 32:
                _moderators.popitem(last=False)
        _moderators.move_to_end(key)
        return _moderators[key]


def moderate_text(text: str, config: TextModerationConfig | None = None) -> list[TextViolation]:
    """Violations of ``text`` under ``config`` (defaults: profanity model, empty blocklist)."""
    return get_moderator(config).moderate(text)
