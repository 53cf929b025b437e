"""Scan evidence: the frames behind a result, as JPEG + JSON on disk.

A reviewer checking a scan wants to see the frame a label came from, next to
what was found on it.  Flagged frames (at least one label at or above the
minimum confidence) go to ``evidence/flagged/``; with ``--evidence-clean``
the analyzed frames with no label go to ``evidence/clean/``.  Names are the
input's output stem plus the frame's timestamp, so a video redone after an
interrupted scan overwrites its own files instead of adding copies.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from framewarden.jobs.state import output_stem, write_atomic
from framewarden.media.frame import Frame
from framewarden.result import ModerationResult

JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class EvidenceWriter:
    """Writes evidence of one scan under ``root`` (``<out>/evidence``)."""

    root: Path
    keep_flagged: bool = True
    keep_clean: bool = False

    @property
    def enabled(self) -> bool:
        return self.keep_flagged or self.keep_clean

    def save(self, source: str, frame: Frame, result: ModerationResult) -> Path | None:
        """Store ``frame`` if its kind is kept; returns the JPEG path written."""
        labels = result.labels
        flagged = bool(labels)
        if (flagged and not self.keep_flagged) or (not flagged and not self.keep_clean):
            return None
        folder = self.root / ("flagged" if flagged else "clean")
        base = f"{output_stem(source)}_{round(frame.pts_ms):010d}ms"
        buf = io.BytesIO()
        Image.fromarray(frame.image).save(buf, format="JPEG", quality=JPEG_QUALITY)
        jpeg = folder / f"{base}.jpg"
        write_atomic(jpeg, buf.getvalue())
        meta = {
            "Source": source,
            "Timestamp": round(frame.pts_ms),
            "FrameNumber": frame.meta.get("frame_number"),
            "Image": jpeg.name,
            "ImageSize": [int(frame.image.shape[1]), int(frame.image.shape[0])],
            "SourceSize": [frame.width, frame.height],
            "ModerationLabels": [lab.to_rekognition() for lab in labels],
            "Detections": result.detection_dicts(),
        }
        write_atomic(folder / f"{base}.json", (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
        return jpeg
