"""The ``framewarden`` command.

Each module of this package adds its commands with ``register(app)``;
the list is built from the package, so a new command is one new file.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from framewarden import __version__
from framewarden.cli._errors import FramewardenGroup

_app = typer.Typer(
    name="framewarden",
    help="Self-hosted, real-time moderation of live streams, videos and images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=FramewardenGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"framewarden {__version__}")
        raise typer.Exit()


@_app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages to stderr."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("PIL").setLevel(logging.INFO)  # its chunk-by-chunk debug lines drown ours


def _command_modules() -> list[str]:
    return sorted(i.name for i in pkgutil.iter_modules(__path__) if not i.name.startswith("_"))


_registered: set[str] = set()


def _register_commands(only: str | None = None) -> None:
    """Import command modules (one per command, named after it) and let them register."""
    for name in [only] if only else _command_modules():
        if name in _registered:
            continue
        _registered.add(name)
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(_app)


def _invoked_command(argv: list[str]) -> str | None:
    """The command named on the command line, if it is one of ours (else None: load all)."""
    for arg in argv[1:]:
        if not arg.startswith("-"):
            return arg if arg in _command_modules() else None
    return None


def run() -> None:
    """Console-script entry point.

    Only the invoked command's module is imported: a command pays for its own
    dependencies (SQLAlchemy, OpenCV, PyAV...), not for every other command's,
    which keeps start-up short for scripted, repeated calls.
    """
    _register_commands(_invoked_command(sys.argv))
    _app()


def __getattr__(name: str) -> object:
    # `from framewarden.cli import app` (tests, embedding) gets every command registered.
    if name == "app":
        _register_commands()
        return _app
    raise AttributeError(name)
