"""The command group: a bad setting is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from framewarden.errors import ConfigError

USAGE_EXIT = 2  # click's code for usage errors; every command uses it for bad arguments too


class FramewardenGroup(TyperGroup):
    """Runs a command (settings it cannot load end it with exit code 2); plain help metavars."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from framewarden.cli._help import plain_metavars

        plain_metavars(self, ctx)
        super().format_help(ctx, formatter)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        from framewarden.cli._help import plain_metavars

        return plain_metavars(super().get_command(ctx, cmd_name), ctx)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            from framewarden.cli._common import err

            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(USAGE_EXIT) from None
