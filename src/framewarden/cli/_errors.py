"""The command group: a bad setting is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from framewarden.errors import ConfigError

USAGE_EXIT = 2  # click's code for usage errors; every command uses it for bad arguments too


class FramewardenGroup(TyperGroup):
    """Runs a command; settings it cannot load (file, variable) end it with exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            from framewarden.cli._common import err

            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(USAGE_EXIT) from None
