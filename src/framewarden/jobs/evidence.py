"""Scan evidence: the frames behind a result, as JPEG + JSON on disk.

A reviewer checking a scan wants to see the frame a label came from, next to
what was found on it.  Flagged frames (at least one label at or above the
minimum confidence) go to ``evidence/flagged/``; with ``--evidence-clean``
the analyzed frames with no label go to ``evidence/clean/``.  Names are the
input's output stem plus the frame's timestamp, so a video redone after an
interrupted scan overwrites its own files instead of adding copies.

The writing itself (JPEG encoding, atomic files) is the package's one evidence
writer, :class:`framewarden.actions.evidence.EvidenceStore`, over a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from framewarden.actions.evidence import EvidenceStore
from framewarden.jobs.state import TMP_SUFFIX, output_stem
from framewarden.media.frame import Frame
from framewarden.result import ModerationResult
from framewarden.store.blobs import FileBlobStore


@dataclass(frozen=True, slots=True)
class EvidenceWriter:
    """Writes evidence of one scan under ``root`` (``<out>/evidence``)."""

    root: Path
    keep_flagged: bool = True
    keep_clean: bool = False
    _store: EvidenceStore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A killed scan leaves ".part" files, which the resume cleans up (jobs.state).
        blobs = FileBlobStore(self.root, tmp_suffix=TMP_SUFFIX)
        object.__setattr__(self, "_store", EvidenceStore(blobs, keep_clean=True))

    @property
    def enabled(self) -> bool:
        return self.keep_flagged or self.keep_clean

    def save(self, source: str, frame: Frame, result: ModerationResult) -> Path | None:
        """Store ``frame`` if its kind is kept; returns the JPEG path written."""
        labels = result.labels
        flagged = bool(labels)
        if (flagged and not self.keep_flagged) or (not flagged and not self.keep_clean):
            return None
        base = f"{output_stem(source)}_{round(frame.pts_ms):010d}ms"
        meta = {
            "Source": source,
            "Timestamp": round(frame.pts_ms),
            "FrameNumber": frame.meta.get("frame_number"),
            "Image": f"{base}.jpg",
            "ImageSize": [int(frame.image.shape[1]), int(frame.image.shape[0])],
            "SourceSize": [frame.width, frame.height],
            "ModerationLabels": [lab.to_rekognition() for lab in labels],
            "Detections": result.detection_dicts(),
        }
        key = self._store.write(f"{'flagged' if flagged else 'clean'}/{base}", frame.image, meta)
        return self.root / key
