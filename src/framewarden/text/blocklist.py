"""Operator blocklists: terms matched on whole words, through obfuscation.

A term is folded by :mod:`framewarden.text.normalize` exactly as the text is,
then compiled to one pattern per word where each letter may be stretched
("fuck" matches "fuuuuck"; "ass" needs two s, so "as" never matches).  A
term matches only whole tokens (or a run of tokens for a phrase), so a term
inside a longer word ("ass" in "class", "Scunthorpe") never matches.  The
same term written without spaces ("badword"), with its spaces moved or lost
the way OCR reads captions ("BANNEDWORDS HERE") or spelled out ("b.a.d w.o.r.d",
"b a d") matches too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from framewarden import taxonomy
from framewarden.errors import ConfigError
from framewarden.text.normalize import Token, merge_spelled, tokenize

log = logging.getLogger(__name__)

BLOCKLISTED = "Blocklisted Text"
# Confidence of a match as written vs. one found only after de-obfuscation.
EXACT_CONFIDENCE = 100.0
OBFUSCATED_CONFIDENCE = 90.0


def check_text_label(label: str, source: str = "blocklist") -> str:
    """``label`` if it is an "Offensive Text" label, else a :class:`ConfigError`."""
    if not taxonomy.is_label(label) or not taxonomy.is_within(label, taxonomy.OFFENSIVE_TEXT):
        allowed = ", ".join(sorted(taxonomy.subtree(taxonomy.OFFENSIVE_TEXT)))
        raise ConfigError(f"{source}: label {label!r} is not a text label (one of: {allowed})")
    return label


@dataclass(frozen=True, slots=True)
class Term:
    """One blocklisted term and the label it raises."""

    text: str
    label: str = BLOCKLISTED


@dataclass(frozen=True, slots=True)
class Match:
    term: Term
    start: int  # span in the moderated text
    end: int
    confidence: float


def _word_pattern(key: str) -> str:
    # A run of n equal letters in the term accepts n or more in the text.
    return "".join(re.escape(ch) + ("+" if len(list(run)) == 1 else re.escape(ch) + "+")
                   for ch, run in groupby(key))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Compiled:
    term: Term
    words: tuple[re.Pattern[str], ...]  # one pattern per word of the term
    joined: re.Pattern[str]  # the term's words written as one
    casefolded: tuple[str, ...]  # the term's words as written, to tell exact from obfuscated


def _compile(term: Term) -> _Compiled | None:
    keys = [t.key for t in tokenize(term.text)]
    if not keys:
        return None
    words = tuple(re.compile(_word_pattern(k)) for k in keys)
    joined = re.compile("".join(_word_pattern(k) for k in keys))
    return _Compiled(term, words, joined, tuple(term.text.casefold().split()))


class Blocklist:
    """Compiled terms; :meth:`find` returns every match in a text."""

    def __init__(self, terms: Iterable[Term]) -> None:
        compiled = []
        for term in terms:
            check_text_label(term.label, f"blocklist term {term.text!r}")
            item = _compile(term)
            if item is None:
                log.warning("blocklist term %r has no letters or digits; ignored", term.text)
            else:
                compiled.append(item)
        self._terms: tuple[_Compiled, ...] = tuple(compiled)

    def __len__(self) -> int:
        return len(self._terms)

    def find(self, text: str) -> list[Match]:
        if not self._terms or not text:
            return []
        tokens = tokenize(text)
        streams = (tokens,
                   merge_spelled(tokens, across_spaces=False),
                   merge_spelled(tokens, across_spaces=True))  # fmt: skip
        found: dict[tuple[str, int, int], Match] = {}
        for stream in streams:
            for term in self._terms:
                for start, end in _spans(term, stream):
                    exact = tuple(text[start:end].casefold().split()) == term.casefolded
                    match = Match(term.term, start, end, EXACT_CONFIDENCE if exact else OBFUSCATED_CONFIDENCE)
                    key = (term.term.text, start, end)
                    if key not in found or found[key].confidence < match.confidence:
                        found[key] = match
        return sorted(found.values(), key=lambda m: (m.start, m.end, m.term.text))


def _spans(term: _Compiled, stream: Sequence[Token]) -> Iterable[tuple[int, int]]:
    k = len(term.words)
    for i, tok in enumerate(stream):
        # Whole tokens whose letters, joined, spell the term: "badword", and what OCR makes of
        # spacing ("BANNEDWORDS HERE", "BAN NED WORDS"). Never part of a token ("class" != "ass").
        for n in range(1, min(len(stream) - i, k + 2) + 1):
            if term.joined.fullmatch("".join(t.key for t in stream[i : i + n])):
                yield tok.start, stream[i + n - 1].end
        if (
            k > 1
            and i + k <= len(stream)
            and all(p.fullmatch(t.key) for p, t in zip(term.words, stream[i : i + k], strict=True))
        ):
            yield tok.start, stream[i + k - 1].end


def parse_terms_file(path: Path, default_label: str = BLOCKLISTED) -> list[Term]:
    """Terms of a file: one a line, ``#`` comments, optional ``term | Label``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: blocklist file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read blocklist file: {exc}") from None
    terms = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        text, label = line, default_label
        if "|" in line:
            left, right = (part.strip() for part in line.rsplit("|", 1))
            if taxonomy.is_label(right):  # else the "|" belongs to the term
                text, label = left, check_text_label(right, f"{path}:{number}")
        terms.append(Term(text, label))
    return terms
