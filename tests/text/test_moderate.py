"""moderate_text: blocklist and profanity model as taxonomy labels with spans."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from framewarden import taxonomy
from framewarden.errors import ConfigError
from framewarden.text import PROFANITY, BlocklistEntry, TextModerationConfig, moderate_text

CONFIG = TextModerationConfig(
    blocklist=("cheap pills", BlocklistEntry(term="vermin", label="Hate Speech in Text")),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("have a nice day", []),
        ("class assignment due friday", []),
        ("buy cheap pills now", [("Blocklisted Text", "blocklist:cheap pills", "cheap pills")]),
        ("they are v3rm1n", [("Hate Speech in Text", "blocklist:vermin", "v3rm1n")]),
        ("you stupid idiot", [(PROFANITY, "profanity", "idiot")]),
        ("5h1t happens", [(PROFANITY, "profanity", "5h1t")]),
        ("f u c k", [(PROFANITY, "profanity", "f u c k")]),
    ],
)
def test_moderate_text(text: str, expected: list[tuple[str, str, str]]) -> None:
    found = moderate_text(text, CONFIG)
    assert [(v.label, v.raw_class, v.matched) for v in found] == expected
    for v in found:
        assert taxonomy.is_within(v.label, taxonomy.OFFENSIVE_TEXT)
        assert 0 < v.confidence <= 100
        assert text[v.start : v.end] == v.matched


def test_profanity_can_be_turned_off() -> None:
    assert moderate_text("you stupid idiot", TextModerationConfig(profanity=False)) == []


def test_threshold_decides() -> None:
    text = "you stupid idiot"
    assert moderate_text(text, TextModerationConfig(profanity_threshold=1.0)) == []


def test_blocklist_file(tmp_path: Path) -> None:
    path = tmp_path / "terms.txt"
    path.write_text("free money | Blocklisted Text\nvermin | Hate Speech in Text\n", encoding="utf-8")
    config = TextModerationConfig(profanity=False, blocklist_file=path)
    assert [v.label for v in moderate_text("FREE MONEY for vermin", config)] == [
        "Blocklisted Text",
        "Hate Speech in Text",
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"unknown": 1},
        {"profanity_threshold": 1.5},
        {"blocklist": [{"term": "x", "label": "Explicit"}]},
        {"default_label": "Text"},
    ],
)
def test_bad_config_is_refused(values: dict[str, object]) -> None:
    with pytest.raises((ValidationError, ConfigError)):
        TextModerationConfig.model_validate(values)


def test_missing_blocklist_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match=r"nope\.txt"):
        moderate_text("x", TextModerationConfig(blocklist_file=missing))
