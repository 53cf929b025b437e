# ruff: noqa: RUF001, RUF002 - look-alike letters are what this module is about
"""Text normalisation that defeats the usual ways of hiding a word.

People dodge word filters with look-alike letters (Cyrillic "а", full-width
"ｆ", math bold "𝐟"), accents ("fück"), leetspeak ("5h1t", "@ss"), stretched
letters ("fuuuuck"), invisible characters, and letters spelled out with
separators ("b.a.d w.o.r.d", "b a d").  OCR adds its own confusions (0/O,
1/l/I).  This module folds all of that into tokens with two forms:

- ``plain``: readable de-obfuscated text (NFKC, casefold, no accents,
  homoglyphs and leetspeak decoded), what a text classifier should see;
- ``key``: a matching skeleton (``plain`` with the l/i confusion folded and
  letter runs of three or more cut to two), compared by the blocklist.

Every token keeps the span of the original text it came from, so a match
can be reported (and boxed) where it was written.  Matching is on whole
tokens, never on substrings, so "class" never contains "ass".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Look-alike letters of other scripts -> Latin (lower case; input is casefolded first).
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s",
    "ԁ": "d", "ɡ": "g", "ԛ": "q", "ԝ": "w", "ү": "y", "һ": "h",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Latin oddities that NFKD leaves alone
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ƅ": "b", "ɑ": "a",
}  # fmt: skip
# Leetspeak, applied only inside tokens that also hold a letter (or stand alone),
# so that "2024" stays a number while "5h1t" becomes "shit".
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "i", "€": "e"}  # fmt: skip
_LEET_SYMBOLS = frozenset(ch for ch in _LEET if not ch.isalnum())
# Symbols that are more often punctuation than a letter when they end a token.
_EDGE_PUNCT = frozenset("!|")
_REPEATS = re.compile(r"(.)\1{2,}")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: where it was written and its two folded forms."""

    start: int  # span in the original text
    end: int
    plain: str  # de-obfuscated, readable
    key: str  # matching skeleton
    spaced: bool = False  # whitespace between this token and the previous one

    def merge(self, other: Token) -> Token:
        """This token followed by ``other`` as one (spelled-out letters)."""
        return Token(self.start, other.end, self.plain + other.plain,
                     skeleton(self.plain + other.plain), self.spaced)  # fmt: skip


@lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    """One character -> its folded form ("" for invisible characters and accents)."""
    out = []
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).casefold()):
        category = unicodedata.category(c)
        if category in {"Mn", "Me", "Cf"}:  # accents, zero-width characters, soft hyphens
            continue
        c = _HOMOGLYPHS.get(c, c)
        # NFKC(NFKD(x)) again keeps the result a fixed point of this function.
        out.append(unicodedata.normalize("NFKC", c).casefold())
    return "".join(out)


def skeleton(plain: str) -> str:
    """The matching key of a plain token: l/i folded, letter runs capped at two."""
    return _REPEATS.sub(r"\1\1", plain.replace("l", "i"))


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c in _LEET_SYMBOLS


def _decode_leet(word: str) -> str:
    if len(word) > 1 and not any(c.isalpha() for c in word):
        return word  # a number, not leetspeak
    return "".join(_LEET.get(c, c) for c in word)


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` with their folded forms and original spans."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in fold_char(ch):
            chars.append(c)
            origin.append(i)
    tokens: list[Token] = []
    i, n = 0, len(chars)
    last_end = 0
    while i < n:
        if not _is_word_char(chars[i]):
            i += 1
            continue
        j = i
        while j < n and _is_word_char(chars[j]):
            j += 1
        a, b = i, j
        # "hello!" ends with punctuation, "!dea" starts with it; a lone "!" is nothing.
        while a < b and chars[a] in _EDGE_PUNCT:
            a += 1
        while b > a and chars[b - 1] in _EDGE_PUNCT:
            b -= 1
        if a < b:
            plain = _decode_leet("".join(chars[a:b]))
            start, end = origin[a], origin[b - 1] + 1
            spaced = any(c.isspace() for c in text[last_end:start]) if tokens else False
            tokens.append(Token(start, end, plain, skeleton(plain), spaced))
            last_end = end
        i = j
    return tokens


def merge_spelled(tokens: Sequence[Token], *, across_spaces: bool) -> list[Token]:
    """Join runs of single-character tokens ("b a d", "b.a.d") into one token.

    With ``across_spaces=False`` a run stops at whitespace, so "b.a.d w.o.r.d"
    gives "bad", "word"; with ``True`` "b a d" gives "bad".
    """
    out: list[Token] = []
    run: Token | None = None  # the run being built (None: no run)
    for tok in tokens:
        single = len(tok.plain) == 1
        if run is not None and single and (across_spaces or not tok.spaced):
            run = run.merge(tok)
            continue
        if run is not None:
            out.append(run)
            run = None
        if single:
            run = tok
        else:
            out.append(tok)
    if run is not None:
        out.append(run)
    return out


def normalize(text: str) -> str:
    """The matching skeleton of ``text``: token keys joined by single spaces.

    Idempotent: ``normalize(normalize(t)) == normalize(t)``.
    """
    return " ".join(t.key for t in tokenize(text))


def deobfuscate(text: str) -> str:
    """Readable de-obfuscated text ("5h1t", "s h i t" -> "shit") for classifiers."""
    return " ".join(t.plain for t in merge_spelled(tokenize(text), across_spaces=True))
