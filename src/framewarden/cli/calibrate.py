"""``framewarden calibrate SAFE_DIR [POSITIVES_DIR]``: thresholds from your own media.

Runs the configured analyzers over every image and sampled video frame of a
folder of safe media (and, optionally, of known positives) and prints, per
label (any taxonomy level), the score distribution on the safe set and the
lowest threshold that flags at most ``--max-flag-rate`` percent of it, with
the share of positives it still catches.  A frame's score for a label is its
highest confidence for it (0 when absent), as the rules engine sees it.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from framewarden.cli._common import err, out, walk_inputs
from framewarden.config import get_settings
from framewarden.errors import FramewardenError
from framewarden.media.frame import Frame
from framewarden.media.image import IMAGE_SUFFIXES, load_image

BATCH = 8


def threshold_for(scores: Sequence[float], max_rate_pct: float) -> float:
    """The lowest threshold (0-100, one decimal) that flags at most ``max_rate_pct`` % of ``scores``.

    A frame is flagged when its score is >= the threshold, as rules compare.
    """
    if not scores:
        return 0.0
    ordered = sorted(scores, reverse=True)
    allowed = math.floor(len(ordered) * max_rate_pct / 100.0 + 1e-9)
    if allowed >= len(ordered):
        return 0.0
    # Just above the first score that must not be flagged (and above every tie with it).
    return min(100.0, math.floor(ordered[allowed] * 10 + 1e-9) / 10 + 0.1)


def _frames(folder: str, interval_s: float) -> Iterator[tuple[str, Frame]]:
    """Images and sampled video frames of ``folder``, full size; unreadable files skipped (warning)."""
    from framewarden.jobs.manifest import VIDEO_SUFFIXES
    from framewarden.media.source import open_video

    settings = get_settings()
    for path in walk_inputs([folder], IMAGE_SUFFIXES | VIDEO_SUFFIXES):
        try:
            if Path(path).suffix.lower() in IMAGE_SUFFIXES:
                image = load_image(path, max_pixels=settings.max_image_pixels)
                yield path, Frame(path, 0, 0.0, image.rgb)
                continue
            source = open_video(path)
            try:
                for frame in source.frames(channel=path, sample_interval_s=interval_s):
                    yield path, frame
            finally:
                source.close()
        except FramewardenError as exc:
            err.print(f"warning: skipped: {exc}", markup=False, highlight=False, soft_wrap=True)


def _scores(moderator: Any, folder: str, interval_s: float) -> tuple[int, dict[str, list[float]]]:
    """Frame count and, per label, every frame's score (0 where the label is absent)."""
    per_label: dict[str, list[float]] = defaultdict(list)
    count = 0

    def run(batch: list[Frame]) -> None:
        nonlocal count
        for result in moderator.moderate_frames(batch):
            seen = {lab.name: float(lab.confidence) for lab in result.labels}
            for label in set(per_label) | set(seen):
                per_label[label].extend([0.0] * (count - len(per_label[label])))
                per_label[label].append(seen.get(label, 0.0))
            count += 1

    batch: list[Frame] = []
    for _, frame in _frames(folder, interval_s):
        batch.append(frame)
        if len(batch) == BATCH:
            run(batch)
            batch = []
    if batch:
        run(batch)
    for values in per_label.values():
        values.extend([0.0] * (count - len(values)))
    return count, dict(per_label)


def _reportable(analyzers: Sequence[Any]) -> set[str]:
    """Taxonomy labels (ancestors included) the analyzers can report; tags are never thresholds."""
    from framewarden import taxonomy

    labels = {label for a in analyzers for label in a.labels() if taxonomy.is_label(label)}
    return labels | {name for label in labels for name in taxonomy.ancestors(label)}


def calibrate_report(
    safe: tuple[int, dict[str, list[float]]],
    positives: tuple[int, dict[str, list[float]]] | None,
    max_rate_pct: float,
) -> dict[str, Any]:
    """The JSON report: per label, the safe distribution, the threshold, and the recall on positives."""
    safe_n, safe_scores = safe
    labels = sorted(set(safe_scores) | set(positives[1] if positives else {}))
    rows = []
    for label in labels:
        values = np.asarray(safe_scores.get(label, [0.0] * safe_n), dtype=np.float64)
        threshold = threshold_for(values.tolist(), max_rate_pct)
        row: dict[str, Any] = {
            "label": label,
            "safe": {
                "frames": int(safe_n),
                "p50": round(float(np.percentile(values, 50)), 2) if safe_n else 0.0,
                "p90": round(float(np.percentile(values, 90)), 2) if safe_n else 0.0,
                "p99": round(float(np.percentile(values, 99)), 2) if safe_n else 0.0,
                "max": round(float(values.max()), 2) if safe_n else 0.0,
                "flagged_at_threshold": int((values >= threshold).sum()) if safe_n else 0,
            },
            "threshold": threshold,
        }
        if positives is not None:
            pos_n, pos_scores = positives
            pos = np.asarray(pos_scores.get(label, [0.0] * pos_n), dtype=np.float64)
            caught = int((pos >= threshold).sum()) if pos_n else 0
            row["positives"] = {
                "frames": pos_n,
                "caught": caught,
                "recall_pct": round(100 * caught / pos_n, 1) if pos_n else 0.0,
            }
        rows.append(row)
    return {
        "max_flag_rate_pct": max_rate_pct,
        "safe_frames": safe_n,
        "positive_frames": positives[0] if positives else None,
        "labels": rows,
    }


def calibrate(
    safe_dir: Annotated[str, typer.Argument(help="Folder of safe images and videos.")],
    positives_dir: Annotated[str | None, typer.Argument(help="Optional folder of known positives.")] = None,
    max_flag_rate: Annotated[
        float, typer.Option(min=0.0, max=100.0, help="Largest share (%) of safe frames a threshold may flag.")
    ] = 1.0,
    sample_interval: Annotated[float, typer.Option(min=0.0, help="Seconds between video frames.")] = 1.0,
    analyzers: Annotated[
        str | None, typer.Option(help="Comma-separated analyzers (default: settings).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report only.")] = False,
) -> None:
    """Score distributions per label and the thresholds that keep false positives under a rate."""
    from framewarden.moderator import Moderator

    for folder in (safe_dir, positives_dir):
        if folder is not None and not Path(folder).is_dir():
            err.print(f"error: {folder}: not a folder", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2)
    names = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else None
    try:
        moderator = Moderator(names, min_confidence=0.0)
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    safe = _scores(moderator, safe_dir, sample_interval)
    if safe[0] == 0:
        err.print(f"error: {safe_dir}: no image or video frame found", markup=False, highlight=False)
        raise typer.Exit(2)
    positives = _scores(moderator, positives_dir, sample_interval) if positives_dir else None
    # Every label the analyzers can report is listed, also those no safe frame got (all zeros).
    for label in _reportable(moderator.analyzers):
        safe[1].setdefault(label, [0.0] * safe[0])
    report = calibrate_report(safe, positives, max_flag_rate)
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table(title=f"thresholds flagging <= {max_flag_rate}% of {safe[0]} safe frames")
    for column in ("label", "p50", "p90", "p99", "max", "threshold", "safe flagged", "recall %"):
        table.add_column(column)
    for row in report["labels"]:
        s = row["safe"]
        recall = str(row["positives"]["recall_pct"]) if "positives" in row else "-"
        table.add_row(
            escape(row["label"]),
            *(str(s[k]) for k in ("p50", "p90", "p99", "max")),
            str(row["threshold"]),
            str(s["flagged_at_threshold"]),
            recall,
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
