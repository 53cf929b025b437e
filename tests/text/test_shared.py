"""One blocklist for OCR, speech and chat; the old OCR setting still read."""

from __future__ import annotations

from pathlib import Path

from framewarden.config import Settings
from framewarden.moderator import analyzer_configs
from framewarden.text.moderate import TextModerator
from framewarden.text.shared import text_config


def test_legacy_ocr_blocklist_applies_to_speech_and_chat(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, analyzer_options={"ocr_text": {"blocklist": ["old phrase"]}})
    moderator = TextModerator(text_config(settings))
    assert [v.term for v in moderator.moderate("they said the OLD phrase")] == ["old phrase"]


def test_shared_blocklist_reaches_ocr_too(tmp_path: Path) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("# comment\nfile phrase | Hate Speech in Text\n", encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path,
        text_blocklist=["new phrase", {"term": "dict phrase", "label": "Hate Speech in Text"}],
        text_blocklist_file=terms,
        analyzer_options={"ocr_text": {"blocklist": ["old phrase"], "profanity": False}},
    )
    config = text_config(settings)
    moderator = TextModerator(config)
    found = {
        (v.term, v.label) for v in moderator.moderate("old phrase, new phrase, dict phrase, file phrase")
    }
    hate = "Hate Speech in Text"
    assert found == {("old phrase", "Blocklisted Text"), ("new phrase", "Blocklisted Text"),
                     ("dict phrase", hate), ("file phrase", hate)}  # fmt: skip
    assert not config.profanity  # the OCR options' profanity switch is shared too
    [ocr] = analyzer_configs(["ocr_text"], settings)
    ocr_terms = {t.text for t in ocr.text_config().terms()}  # type: ignore[attr-defined]
    assert ocr_terms == {"old phrase", "new phrase", "dict phrase", "file phrase"}


def test_no_shared_terms_leaves_ocr_options_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, analyzer_options={"ocr_text": {"blocklist": ["x y"]}})
    [ocr] = analyzer_configs(["ocr_text"], settings)
    assert [t.text for t in ocr.text_config().terms()] == ["x y"]  # type: ignore[attr-defined]
