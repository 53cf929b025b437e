"""Helpers shared by CLI commands: input walking, consoles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

# emoji=False: user strings (file, bank and label names) such as "hashlist:bank:x" must
# print as written, not as Rich emoji codes; markup in them is escaped where they are printed.
out = Console(emoji=False)  # results
err = Console(stderr=True, emoji=False)  # progress, warnings, errors


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


def nothing_to_do(paths: list[str], what: str) -> str:
    """The one-line error for inputs that hold nothing to work on (``what``: "images")."""
    from framewarden.jobs.manifest import VIDEO_SUFFIXES

    named = ", ".join(paths) or "(no path given)"
    message = f"{named}: no {what} found"
    videos = [p for p in walk_inputs(paths, VIDEO_SUFFIXES) if Path(p).suffix.lower() in VIDEO_SUFFIXES]
    if videos:
        message += f" (it holds videos: use `framewarden scan {named}`)"
    return message
