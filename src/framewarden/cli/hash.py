"""``framewarden hash``: PDQ hashes of image files, as other systems compute them.

Used to build hash lists by hand and to check what a bank entry would be.
Hashes are of the pixels as stored (no EXIF rotation), like upstream's
hashers, so they can be exchanged with ThreatExchange / HMA users.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated

import typer

from framewarden.cli._common import err, nothing_to_do, walk_inputs
from framewarden.config import get_settings
from framewarden.errors import InputError
from framewarden.hashing.pdq import PdqHash, hash_image
from framewarden.media.image import IMAGE_SUFFIXES


def hash_paths(
    paths: list[str], hasher: Callable[..., PdqHash] = hash_image
) -> Iterator[tuple[str, PdqHash | None]]:
    """Each image's PDQ hash (folders walked); a bad file gets its one-line error on stderr and None.

    ``hasher`` is :func:`hash_image` (the reference hash) or, for ``banks add``,
    :func:`~framewarden.hashing.pdq.matching_hash_image` (the hash moderation matches)."""
    settings = get_settings()
    for source in walk_inputs(paths, accept=IMAGE_SUFFIXES):
        try:
            yield source, hasher(source, max_pixels=settings.max_image_pixels)
        except InputError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            yield source, None


def hash_command(
    paths: Annotated[list[str], typer.Argument(help="Image files or folders (walked recursively).")],
    as_json: Annotated[
        bool, typer.Option("--json", help='One JSON object per line: {"Source","PDQ","Quality"}.')
    ] = False,
) -> None:
    """Print the PDQ hash (64 hex) and quality (0-100) of each image."""
    failed = seen = 0
    for source, result in hash_paths(paths):
        seen += 1
        if result is None:
            failed += 1
            continue
        if as_json:
            typer.echo(json.dumps({"Source": source, "PDQ": result.hex, "Quality": result.quality}))
        else:
            typer.echo(f"{result.hex}\t{result.quality}\t{source}")
    if not seen:
        err.print(f"error: {nothing_to_do(paths, 'images')}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_command)
