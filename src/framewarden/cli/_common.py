"""Helpers shared by CLI commands: input walking, consoles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

out = Console()  # results
err = Console(stderr=True)  # progress, warnings, errors


def walk_inputs(paths: list[str], accept: set[str] | frozenset[str] | None = None) -> Iterator[str]:
    """Yield files (folders walked recursively, sorted) and URLs as given.

    ``accept`` filters files found *inside* folders by suffix; files named
    explicitly are always yielded, so a wrong file gets an error, not silence.
    """
    for raw in paths:
        path = Path(raw)
        if "://" in raw:
            yield raw
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if accept is None or child.suffix.lower() in accept:
                    yield str(child)
        else:
            yield raw
