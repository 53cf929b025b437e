"""``framewarden watch s3://bucket/prefix``: moderate each new object version once.

Runs in this process (no server needed): images get a
``DetectModerationLabels``-shaped JSON, videos a scan result, both in
``--out``; the cursor of what was handled survives restarts (see
:mod:`framewarden.jobs.watch`).  ``--once`` polls a single time, for cron.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from framewarden.cli._common import err, out
from framewarden.config import get_settings
from framewarden.errors import FramewardenError


def watch(
    url: Annotated[str, typer.Argument(help="s3://bucket/prefix to watch.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results.")] = Path("framewarden-watch"),
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between listings.")] = 10.0,
    sample_interval: Annotated[float, typer.Option(min=0.0, help="Video: seconds between frames.")] = 1.0,
    cursor: Annotated[Path | None, typer.Option(help="Cursor file (default: in the data dir).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
) -> None:
    """Moderate new objects under an S3 prefix, each version once."""
    from framewarden.jobs.scan import Scanner, ScanOptions
    from framewarden.jobs.state import ScanState, output_stem, write_json_atomic
    from framewarden.jobs.watch import BucketWatcher, ObjectVersion
    from framewarden.media.image import IMAGE_SUFFIXES
    from framewarden.media.s3 import S3Location, read_object
    from framewarden.moderator import Moderator
    from framewarden.pipeline.context import preferred_max_side

    settings = get_settings()
    try:
        moderator = Moderator(settings=settings)
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    options = ScanOptions(sample_interval_s=sample_interval, max_side=preferred_max_side(moderator.analyzers))
    state = ScanState(out_dir)
    state.prepare()

    def handle(obj: ObjectVersion) -> None:
        if Path(obj.key).suffix.lower() in IMAGE_SUFFIXES:
            data = read_object(S3Location(obj.bucket, obj.key), settings, max_bytes=settings.max_upload_bytes)
            result = moderator.moderate_image(data, source=obj.url)
            body = {"Source": obj.url, "Version": obj.version, **result.to_rekognition()}
            write_json_atomic(out_dir / f"{output_stem(obj.url)}.json", body)
        else:
            scanner = Scanner(
                moderator,
                options,
                state,
                settings=settings,
                model_versions=moderator.model_versions,
                min_confidence=moderator.min_confidence,
            )
            body = scanner.run([obj.url])[0].body
        line = {"source": obj.url, "version": obj.version, "status": body.get("JobStatus", "SUCCEEDED")}
        out.print(json.dumps(line), markup=False, highlight=False, soft_wrap=True)

    try:
        watcher = BucketWatcher(url, settings, handle, cursor)
        if once:
            watcher.poll_once()
        else:
            err.print(f"watching {url} every {interval:g} s; Ctrl-C stops", markup=False)
            watcher.run(interval)
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
    finally:
        moderator.close()


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
