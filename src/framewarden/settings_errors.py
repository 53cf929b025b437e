"""One-line errors for bad settings: which file or variable, which field, which value.

pydantic and tomllib describe a bad setting in many lines (or a traceback);
an operator needs the place to fix: ``framewarden.toml: min_confidence = 500:
Input should be less than or equal to 100`` or ``FRAMEWARDEN_PORT=abc: ...``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from framewarden.errors import ConfigError

ENV_PREFIX = "FRAMEWARDEN_"
T = TypeVar("T")


def _value(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _place(field: str, value: object, toml_path: Path | None) -> str:
    env = ENV_PREFIX + field.upper()
    if env in os.environ:
        return f"environment variable {env}={os.environ[env]}"
    where = str(toml_path) if toml_path is not None else "settings"
    return f"{where}: {field} = {_value(value)}"


def describe_validation(exc: ValidationError, toml_path: Path | None) -> str:
    """The first problem of ``exc`` on one line (the others follow once it is fixed)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ())]
    field = loc[0] if loc else "?"
    detail = ".".join(loc[1:])
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        return f"{toml_path or 'settings'}: unknown setting {'.'.join(loc)!r}"
    text = f"{_place(field, first.get('input'), toml_path)}: {msg}"
    if detail:
        text += f" (at {detail})"
    more = len(exc.errors()) - 1
    return text + (f" (and {more} more)" if more else "")


def load_checked(build: Callable[[], T], toml_path: Path | None) -> T:
    """Run ``build`` (a Settings constructor); turn every settings failure into ConfigError."""
    if toml_path is not None and os.environ.get("FRAMEWARDEN_CONFIG") and not toml_path.is_file():
        raise ConfigError(f"FRAMEWARDEN_CONFIG={toml_path}: no such file")
    try:
        return build()
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, toml_path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{toml_path}: not valid TOML: {exc}") from None
    except SettingsError as exc:
        # pydantic-settings could not parse a variable (a list or dict that is not JSON).
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        env = ENV_PREFIX + field.upper()
        shown = f"{env}={os.environ[env]}" if env in os.environ else field
        raise ConfigError(f"environment variable {shown}: not valid JSON for a list or table") from None
