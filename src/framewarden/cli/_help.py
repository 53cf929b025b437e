"""Help text that reads like a command line: ``PATHS...``, ``FLOAT``, no ``<bool>`` on flags.

Typer shows Python types as metavars (``<bool>`` beside every flag,
``<list[str]>``, ``{paths}...`` in the usage line).  The command group runs
every command through :func:`plain_metavars` before it is shown or run.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperOption

_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "datetime": "DATETIME"}


def _word(display: str | None) -> str:
    """``<float range>`` -> ``FLOAT``; ``<list[str]>`` -> ``TEXT``; choices stay ``a|b``."""
    if not display:
        return ""
    inner = display.strip("<>")
    inner = re.sub(r"^list\[(.*)\]$", r"\1", inner)
    inner = inner.removesuffix(" range")
    return _TYPE_WORDS.get(inner, inner if "|" in inner else inner.upper())


def _argument(param: TyperArgument) -> None:
    name = param.display_name_raw.upper()
    usage = (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")
    # Instance attributes shadow the methods Typer's help and usage line call.
    param.get_usage_pieces = lambda ctx: [usage]  # type: ignore[method-assign]
    param.display_type_rich = lambda ctx: ""  # type: ignore[method-assign]


def _option(param: TyperOption, ctx: Any) -> None:
    if param.metavar is not None:
        return
    param.metavar = "" if param.is_flag or param.count else _word(param.display_type(ctx))


def plain_metavars(command: Any, ctx: Any) -> Any:
    """Rewrite the metavars of ``command`` (and of its subcommands) once; returns it."""
    if command is None or getattr(command, "_fw_plain_metavars", False):
        return command
    command._fw_plain_metavars = True
    help_option = command.get_help_option

    def plain_help_option(ctx: Any) -> Any:
        option = help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = plain_help_option
    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):
            _argument(param)
        elif isinstance(param, TyperOption):
            _option(param, ctx)
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub, ctx)
    return command
