"""User strings print as written: no Rich emoji codes, no markup, in tables and messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from framewarden.cli import _common, app
from tests.conftest import IMAGES

runner = CliRunner()


def test_bank_class_and_markup_in_file_names_print_verbatim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common.out, "width", 200)  # a wide terminal: cells are not folded
    image = Path(shutil.copy(IMAGES / "coins.png", tmp_path / "[bold]x.png"))
    add = ["banks", "add", "known-bad", "--label", "Explicit", "-d", "[red]d", str(image)]
    added = runner.invoke(app, add)
    assert added.exit_code == 0, added.output
    moderate = ["moderate", "--analyzers", "hashlist", "--min-confidence", "0", str(image)]
    moderated = runner.invoke(app, moderate)
    assert moderated.exit_code == 0, moderated.output
    text = moderated.stdout
    assert "hashlist:bank:known-bad" in text and "\N{BANK}" not in text
    assert "[bold]x.png" in text
    listed = runner.invoke(app, ["banks", "list"])
    assert "known-bad" in listed.stdout and "[red]d" in listed.stdout
