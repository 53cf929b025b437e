# ruff: noqa: RUF001, RUF003 - look-alike letters are the test data
"""Normalisation: obfuscations fold to one skeleton, spans point at the original."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from framewarden.text.normalize import deobfuscate, merge_spelled, normalize, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("Hello, World!", "heiio worid"),  # l and i share a skeleton (OCR and leet confuse them)
        ("5h1t", "shit"),
        ("@ss", "ass"),
        ("a$$", "ass"),
        ("fuuuuuck", "fuuck"),  # runs of three or more letters cut to two
        ("ＦＵＣＫ", "fuck"),  # full-width
        ("𝐟𝐮𝐜𝐤", "fuck"),  # mathematical bold
        ("fück", "fuck"),  # accent
        ("f\u200buck", "fuck"),  # zero-width space
        ("fu\u00adck", "fuck"),  # soft hyphen
        ("сlаss", "ciass"),  # Cyrillic с and а
        ("ιdιοt", "idiot"),  # Greek iota and omicron
        ("in 2024", "in 2024"),  # numbers stay numbers
        ("$100", "$100"),
        ("wow!!", "wow"),  # trailing punctuation is not leet
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("Hello", "hello"),
        ("5h1t happens", "shit happens"),
        ("s h i t", "shit"),
        ("b.a.d w.o.r.d", "badword"),
    ],
)
def test_deobfuscate(text: str, expected: str) -> None:
    assert deobfuscate(text) == expected


def test_spans_point_at_the_original_text() -> None:
    text = "ｈｅｙ,  y0u  f\u200buck!"
    assert [(text[t.start : t.end], t.plain) for t in tokenize(text)] == [
        ("ｈｅｙ", "hey"),
        ("y0u", "you"),
        ("f\u200buck", "fuck"),
    ]


@pytest.mark.parametrize(
    ("text", "across_spaces", "expected"),
    [
        ("", False, []),
        ("b a d", True, ["bad"]),
        ("b a d", False, ["b", "a", "d"]),
        ("b.a.d w.o.r.d", False, ["bad", "word"]),
        ("b.a.d w.o.r.d", True, ["badword"]),
        ("a good b-a-d day", False, ["a", "good", "bad", "day"]),
    ],
)
def test_merge_spelled(text: str, across_spaces: bool, expected: list[str]) -> None:
    assert [t.plain for t in merge_spelled(tokenize(text), across_spaces=across_spaces)] == expected


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
def test_token_spans_are_ordered_and_inside_the_text(text: str) -> None:
    # Starts never go back (one character may expand into two tokens: "¼" -> "1", "4").
    last = 0
    for token in tokenize(text):
        assert last <= token.start < token.end <= len(text)
        assert token.key
        last = token.start
