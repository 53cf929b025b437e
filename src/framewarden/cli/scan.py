"""``framewarden scan``: moderate stored videos in bulk, Rekognition-style.

Inputs are files, folders (walked for video files), URLs, ``s3://`` objects
and CSV manifests.  Each input gets a ``GetContentModeration``-shaped JSON in
``--out``, written when the input is done; ``--resume`` skips what an
earlier (possibly killed) run finished.  A completion report CSV lists every
input with its status.  Exit code: 0 when every input succeeded, 1 when any
failed, 2 for a usage error (and for ``--resume`` with other settings than
the run that wrote ``--out``), 130 when stopped by Ctrl-C: the inputs done so
far are saved, the report lists the rest as INTERRUPTED, ``--resume`` finishes.
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from framewarden.cli._common import err, out
from framewarden.config import get_settings
from framewarden.errors import FramewardenError
from framewarden.jobs.manifest import expand_inputs
from framewarden.jobs.report import write_report
from framewarden.jobs.results import Aggregate, Counters
from framewarden.jobs.scan import Scanner, ScanOptions, analyzer_intervals_ms
from framewarden.jobs.state import ScanState

DEFAULT_OUT = Path("framewarden-scan")


class Engine(StrEnum):
    LOCAL = "local"
    RAY = "ray"


class RayMode(StrEnum):
    NODES = "nodes"
    TASKS = "tasks"


class RichListener:
    """Progress bars on stderr: one overall, one per video being scanned."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("videos", total=total, fps="")
        self._tasks: dict[str, tuple[TaskID, float]] = {}
        self._lock = threading.Lock()

    def on_start(self, source: str, metadata: Any) -> None:
        total = float(metadata.duration_ms) / 1000 or None
        name = Path(source).name if "://" not in source else source.rsplit("/", 1)[-1]
        task = self.progress.add_task(escape(name[:40]), total=total, fps="")
        with self._lock:
            self._tasks[source] = (task, time.monotonic())

    def on_progress(self, source: str, counters: Counters, pts_ms: float) -> None:
        with self._lock:
            entry = self._tasks.get(source)
        if entry is None:
            return
        task, started = entry
        elapsed = time.monotonic() - started
        fps = f"{counters.decoded / elapsed:6.1f} decoded/s {counters.analyzed / elapsed:6.1f} analyzed/s"
        self.progress.update(task, completed=pts_ms / 1000, fps=fps)

    def on_finish(self, source: str, body: dict[str, Any], resumed: bool) -> None:
        with self._lock:
            entry = self._tasks.pop(source, None)
        if entry is not None:
            self.progress.remove_task(entry[0])
        self.progress.advance(self.overall)
        if body.get("JobStatus") != "SUCCEEDED":
            self.progress.console.print(
                f"error: {body.get('StatusMessage', source)}", markup=False, highlight=False, soft_wrap=True
            )


def _parse_analyzers(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise typer.BadParameter("name at least one analyzer", param_hint="--analyzers")
    return names


def scan(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="Video files, folders, URLs, s3://bucket/key.")
    ] = None,
    manifest: Annotated[
        list[Path] | None,
        typer.Option(
            "--manifest", help="CSV manifest: bucket,key rows (S3 Batch style) or one path/URL a line."
        ),
    ] = None,
    sample_interval: Annotated[
        float,
        typer.Option("--sample-interval", min=0.0, help="Seconds of media time between frames (0 = all)."),
    ] = 1.0,
    analyzers: Annotated[
        str | None, typer.Option(help="Comma-separated analyzers (default: settings).")
    ] = None,
    min_confidence: Annotated[float | None, typer.Option(min=0.0, max=100.0, help="0-100.")] = None,
    aggregate: Annotated[Aggregate, typer.Option(help="timestamps or segments.")] = Aggregate.TIMESTAMPS,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results and evidence.")] = DEFAULT_OUT,
    report: Annotated[
        Path | None, typer.Option(help="Completion report CSV (default OUT/report.csv).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Videos decoded at the same time.")] = 2,
    resume: Annotated[bool, typer.Option(help="Skip inputs already completed in --out.")] = False,
    evidence: Annotated[bool, typer.Option(help="Save flagged frames as JPEG + JSON.")] = False,
    evidence_clean: Annotated[bool, typer.Option(help="Also save frames with no label.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Give up on a stalled input after S seconds.")
    ] = 10.0,
    max_side: Annotated[
        int | None,
        typer.Option(min=0, help="Scale frames so the longer side <= N (default: analyzers' size)."),
    ] = None,
    dedup: Annotated[
        bool, typer.Option(help="Skip frames nearly identical to the last analyzed one.")
    ] = True,
    dedup_distance: Annotated[int, typer.Option(min=0, max=64, help="Max Hamming distance of 64 bits.")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    transcribe: Annotated[
        bool,
        typer.Option(
            "--transcribe",
            help="Transcribe speech (English only), judge it as text, write .vtt/.srt beside the results.",
        ),
    ] = False,
    engine: Annotated[
        Engine, typer.Option(help="local: this process; ray: a Ray cluster (pip install 'framewarden[ray]').")
    ] = Engine.LOCAL,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster: auto, ray://host:port or host:port (default: start a local one)."),
    ] = None,
    ray_mode: Annotated[
        RayMode,
        typer.Option(
            help="nodes: one actor per node decodes (a video per CPU) and runs the models there; "
            "tasks: each video is a task sending frames to inference actors (docs/scale.md)."
        ),
    ] = RayMode.NODES,
) -> None:
    """Moderate stored videos; write Rekognition-shaped results and a report."""
    try:
        sources = expand_inputs(inputs or [], manifest or [])
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not sources:
        named = ", ".join(inputs or []) or "(none given)"
        err.print(
            f"error: {named}: no video files to scan (give files, folders, URLs or --manifest)",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        raise typer.Exit(2)
    state = ScanState(out_dir)
    try:
        state.check()
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    if address and engine is not Engine.RAY:
        err.print("error: --address needs --engine ray", markup=False)
        raise typer.Exit(2)
    prestarted: Any = None
    if engine is Engine.RAY:
        from framewarden.engines.ray_scan import RayOptions, prestart

        ray_options = RayOptions(address=address, mode=ray_mode.value)
        try:
            # The actors load their models while this process loads its own (below).
            prestarted = prestart(ray_options, _parse_analyzers(analyzers), settings, min_confidence)
        except FramewardenError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    try:
        from framewarden.moderator import Moderator
        from framewarden.pipeline.context import preferred_max_side

        moderator = Moderator(_parse_analyzers(analyzers), settings=settings, min_confidence=min_confidence)
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    options = ScanOptions(
        sample_interval_s=sample_interval,
        aggregate=aggregate,
        workers=workers,
        timeout_s=timeout,
        max_side=preferred_max_side(moderator.analyzers) if max_side is None else max_side,
        dedup=dedup,
        dedup_max_distance=dedup_distance,
        evidence_flagged=evidence or evidence_clean,
        evidence_clean=evidence_clean,
        resume=resume,
        transcribe=transcribe,
    )
    try:
        state.bind_settings(
            {
                "analyzers": sorted(moderator.model_versions),
                "model_versions": moderator.model_versions,
                "sample_interval_s": options.sample_interval_s,
                "aggregate": options.aggregate.value,
                "min_confidence": moderator.min_confidence,
                "max_side": options.max_side,
                "dedup": options.dedup,
                "dedup_distance": options.dedup_max_distance,
            },
            resume=resume,
        )
    except (FramewardenError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[fps]}"),
        console=err,
        disable=quiet,
        transient=False,
    )
    with progress:
        listener = RichListener(progress, len(sources))
        scanner: Any
        if engine is Engine.RAY:
            from framewarden.engines.ray_scan import RayScanner

            scanner = RayScanner(
                _parse_analyzers(analyzers), options, state, settings,
                ray_options=ray_options, listener=listener,
                model_versions=moderator.model_versions, min_confidence=moderator.min_confidence,
                intervals_ms=analyzer_intervals_ms(moderator.analyzers), dispatch=prestarted,
            )  # fmt: skip
        else:
            scanner = Scanner(
                moderator,
                options,
                state,
                settings=settings,
                listener=listener,
                model_versions=moderator.model_versions,
                min_confidence=moderator.min_confidence,
            )
        try:
            outcomes = scanner.run(sources)
        except FramewardenError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    report_path = report or out_dir / "report.csv"
    write_report(report_path, [o.report_row() for o in outcomes])
    if scanner.stopped:
        done = sum(o.succeeded for o in outcomes)
        err.print(
            f"interrupted: {done} of {len(outcomes)} inputs done and saved; report {report_path}; "
            "run the same command with --resume to finish",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        raise typer.Exit(130)
    failed = [o for o in outcomes if not o.succeeded]
    for o in outcomes:
        labels = ", ".join(lab["Name"] for lab in o.body.get("Summary", {}).get("Labels", [])[:3])
        out.print(
            f"{o.body.get('JobStatus')}\t{o.source}\t{o.result_file}\t{labels}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    resumed = sum(o.resumed for o in outcomes)
    err.print(
        f"{len(outcomes) - len(failed)} succeeded, {len(failed)} failed"
        f"{f', {resumed} already done' if resumed else ''}; results in {out_dir}, report {report_path}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
