"""``framewarden vpdq VIDEO``: print a video's vPDQ hash, one line per frame.

The lines are upstream's ``vpdq-hash-video`` format, so the output can be
shared with, or matched against, ThreatExchange vPDQ lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from framewarden.cli._common import err
from framewarden.errors import InputError
from framewarden.hashing.vpdq import format_lines, hash_video


def vpdq_command(
    video: Annotated[str, typer.Argument(help="Video file, URL or s3://bucket/key.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the lines to FILE instead of stdout.")
    ] = None,
    downsample: Annotated[
        int, typer.Option("--downsample", min=0, help="Resize frames to NxN before hashing (0 = coded size).")
    ] = 0,
    seconds_per_hash: Annotated[
        float, typer.Option("--seconds-per-hash", min=0.0, help="One frame per this many seconds (0 = all).")
    ] = 0.0,
) -> None:
    """Print the vPDQ hash of VIDEO: frame_number,quality,pdq_hex,timestamp_seconds."""
    try:
        features = hash_video(video, downsample=downsample, seconds_per_hash=seconds_per_hash)
    except InputError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    text = format_lines(features)
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"{len(features)} frames -> {out_file}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("vpdq")(vpdq_command)
