"""The completion report of a scan, one CSV row per input.

Modelled on the completion report of S3 Batch Operations: which inputs
succeeded, which failed and why, so a large scan can be audited (and its
failures retried) without opening every result file.  Rows are built from
the stored result JSON, so a resumed scan reports the inputs of earlier runs
too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framewarden.jobs.state import write_atomic

COLUMNS = ("input", "status", "duration_s", "frames_analyzed", "top_labels", "error", "result_file")
TOP_LABELS = 3


@dataclass(frozen=True, slots=True)
class ReportRow:
    input: str
    status: str
    duration_s: float
    frames_analyzed: int
    top_labels: str
    error: str
    result_file: str

    @classmethod
    def from_result(cls, body: dict[str, Any], result_file: str = "") -> ReportRow:
        summary = body.get("Summary") or {}
        labels = summary.get("Labels") or []
        # Most specific first (level 3, then 2, then 1), strongest first within a level.
        ranked = sorted(labels, key=lambda lab: (-int(lab.get("TaxonomyLevel", 0)), -lab["Confidence"]))
        top = "; ".join(f"{lab['Name']} ({float(lab['Confidence']):.1f})" for lab in ranked[:TOP_LABELS])
        return cls(
            input=str(body.get("Source", "")),
            status=str(body.get("JobStatus", "")),
            duration_s=round(float((body.get("VideoMetadata") or {}).get("DurationMillis", 0)) / 1000, 3),
            frames_analyzed=int(summary.get("FramesAnalyzed", 0)),
            top_labels=top,
            error=str(body.get("StatusMessage", "")),
            result_file=result_file,
        )


def render(rows: Iterable[ReportRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, col) for col in COLUMNS])
    return buf.getvalue()


def write_report(path: Path, rows: Iterable[ReportRow]) -> None:
    write_atomic(path, render(rows).encode("utf-8"))


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
