"""Help reads like a command line: PATHS..., FLOAT, TEXT; never <bool>, <list[str]> or {paths}."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from framewarden.cli import app

runner = CliRunner()


def _commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    out: list[list[str]] = [[]]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        out.append([name])
        for sub in getattr(command, "commands", {}):
            out.append([name, sub])
    return out


@pytest.mark.parametrize("words", _commands(), ids=lambda w: " ".join(w) or "framewarden")
def test_help_has_plain_metavars(words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(bool|str|int|float|list\[|path)", result.output), result.output
    assert not re.search(r"\{[a-z_]+\}", result.output), result.output


def test_moderate_usage_line() -> None:
    result = runner.invoke(app, ["moderate", "--help"], env={"COLUMNS": "200"})
    assert "moderate [OPTIONS] PATHS..." in result.output
    assert re.search(r"--min-confidence\s+FLOAT", result.output)
