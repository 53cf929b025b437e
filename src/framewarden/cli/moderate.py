"""``framewarden moderate PATH...``: moderate images from the command line.

The quickest way to try framewarden (and to script it): files and folders
in, a readable table or one JSON line per input out.  A bad input never
stops the run; it is reported on stderr (and as a JSON line with ``Error``)
and makes the exit status 1, so scripts can tell a clean run from a partial
one.  Usage mistakes (bad option, unknown analyzer) exit with 2.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from framewarden.cli._common import err, nothing_to_do, out, walk_inputs
from framewarden.config import get_settings
from framewarden.errors import FramewardenError, InputError
from framewarden.media.image import IMAGE_SUFFIXES
from framewarden.moderator import Moderator
from framewarden.result import ModerationResult

log = logging.getLogger(__name__)

EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2


def moderate(
    paths: Annotated[list[str], typer.Argument(help="Image files or folders (walked recursively).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per input (Rekognition field names).")
    ] = False,
    min_confidence: Annotated[
        float | None,
        typer.Option("--min-confidence", min=0, max=100, help="Hide labels and detections below it (0-100)."),
    ] = None,
    analyzers: Annotated[
        str | None, typer.Option("--analyzers", help="Comma-separated analyzer keys (default: settings).")
    ] = None,
) -> None:
    """Moderate images: labels, tags and detections per image."""
    settings = get_settings()
    names = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers is not None else None
    if names is not None and not names:
        _usage("--analyzers needs at least one analyzer key")
    try:
        moderator = Moderator(names, settings=settings, min_confidence=min_confidence)
    except FramewardenError as exc:
        _usage(str(exc))

    failed = seen = 0
    for source, result in moderator.moderate_many(walk_inputs(paths, IMAGE_SUFFIXES)):
        seen += 1
        if isinstance(result, Exception):
            failed += 1
            _report_error(source, result, as_json)
            continue
        if as_json:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            out.print(render(result))
    if not seen:
        _usage(nothing_to_do(paths, "images"))
    if failed:
        raise typer.Exit(EXIT_INPUT_ERROR)


def _usage(message: str) -> NoReturn:
    err.print(f"error: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _report_error(source: str, exc: Exception, as_json: bool) -> None:
    reason = exc.reason if isinstance(exc, InputError) else str(exc)
    err.print(f"error: {escape(source)}: {escape(reason)}", highlight=False, soft_wrap=True)
    if as_json:
        payload: dict[str, Any] = {"Source": source, "Error": reason}
        if isinstance(exc, InputError):
            payload["ErrorKind"] = exc.kind
        typer.echo(json.dumps(payload, ensure_ascii=False))


def render(result: ModerationResult) -> Table:
    """A Rich table of one result: labels first, then tags, then detections."""
    versions = ", ".join(f"{k} {v}" for k, v in sorted(result.model_versions.items()))
    table = Table(
        title=f"{escape(result.source)}  [dim]{result.width}x{result.height}[/dim]",
        caption=f"{versions}; min confidence {result.min_confidence:g}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Kind")
    table.add_column("Name")
    table.add_column("Parent / class")
    table.add_column("Level", justify="right")
    table.add_column("Confidence", justify="right")
    table.add_column("Box (px)", justify="left")
    for label in result.labels:
        table.add_row(
            "[bold red]label[/]",
            escape(label.name),
            escape(label.parent_name or "-"),
            str(label.taxonomy_level),
            f"{label.confidence:.1f}",
            "",
        )
    for tag in result.tags:
        table.add_row("[cyan]tag[/]", escape(tag.name), "", "", f"{tag.confidence:.1f}", "")
    for det in sorted(result.visible_detections(), key=lambda d: (-d.confidence, d.label)):
        box = det.box
        where = f"{box.left:.0f},{box.top:.0f} {box.width:.0f}x{box.height:.0f}" if box else ""
        table.add_row(
            "detection",
            escape(det.label),
            escape(f"{det.analyzer}:{det.raw_class}"),
            "",
            f"{det.confidence:.1f}",
            where,
        )
    if not table.rows:
        table.add_row("[green]clean[/]", "no labels, tags or detections", "", "", "", "")
    return table


def register(app: typer.Typer) -> None:
    app.command("moderate")(moderate)
