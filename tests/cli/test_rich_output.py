"""User strings print as written: no Rich emoji codes, no markup, in tables and messages."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from framewarden.cli import app
from tests.conftest import IMAGES

runner = CliRunner()


def test_bank_class_and_markup_in_file_names_print_verbatim(tmp_path: Path) -> None:
    image = Path(shutil.copy(IMAGES / "coins.png", tmp_path / "[bold]x.png"))
    added = runner.invoke(app, ["banks", "add", "known-bad", "--label", "Explicit", "-d", "[red]d", str(image)])
    assert added.exit_code == 0, added.output
    moderated = runner.invoke(app, ["moderate", "--analyzers", "hashlist", "--min-confidence", "0", str(image)])
    assert moderated.exit_code == 0, moderated.output
    text = moderated.stdout
    assert "hashlist:bank:known-bad" in text and "\N{BANK}" not in text
    assert "[bold]x.png" in text
    listed = runner.invoke(app, ["banks", "list"])
    assert "known-bad" in listed.stdout and "[red]d" in listed.stdout
