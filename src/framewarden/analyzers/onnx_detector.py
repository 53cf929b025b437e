"""Your own detector: any YOLOv8-format ONNX model (``[B, 4 + classes, anchors]``).

The format Ultralytics exports.  Frames are letterboxed exactly as the
``nudenet`` analyzer does (resized by ``input_size / longest side``, black pad
at the bottom/right, square by default), batched through one session call,
decoded with vectorized NumPy and OpenCV's class-agnostic NMS.  Loading
NudeNet's own ``320n.onnx`` here with NudeNet's class list reproduces the
``nudenet`` analyzer exactly (tests/analyzers/test_custom_models.py).

Each model's ``name`` is its analyzer name (what results and
``ModerationModelVersion`` show); its version is the file name and SHA-256, so
a changed file is a changed version.  A missing or malformed file, or one whose
output does not fit the class list, is a ConfigError at start-up naming the file.
See docs/analyzers/custom.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from framewarden.analyzers.base import AnalyzerConfig, Box, Detection, register
from framewarden.analyzers.custom_model import ClassMap, load_custom_session
from framewarden.analyzers.nudenet import decode_yolo, letterbox_batch
from framewarden.media.frame import Frame


class OnnxDetectorConfig(AnalyzerConfig):
    type: Literal["onnx_detector"] = "onnx_detector"
    name: str = Field("onnx_detector", min_length=1, description="Analyzer name shown in results.")
    model_path: str = Field(..., min_length=1, description="The ONNX file (YOLOv8 export).")
    classes: tuple[str, ...] = Field(..., min_length=1, description="The model's classes, in output order.")
    class_map: ClassMap = Field(
        default_factory=dict,
        description="Model class -> taxonomy label(s) or tag(s); unmapped classes are not reported.",
    )
    input_size: int = Field(640, ge=32, le=2048, description="Square model input side.")
    channel_order: Literal["rgb", "bgr"] = Field("rgb", description="rgb for Ultralytics exports.")
    compact: bool = Field(False, description="Pad only to a multiple of 32 instead of a square.")
    min_score: float = Field(0.25, ge=0.0, le=1.0, description="Lowest score (0-1) kept after NMS.")
    nms_iou: float = Field(0.45, gt=0.0, le=1.0, description="IoU above which overlapping boxes merge.")
    max_batch: int = Field(16, ge=1, description="Largest number of frames per session call.")


@register("onnx_detector", OnnxDetectorConfig)
class OnnxDetector:
    """A YOLOv8-format ONNX detector you bring (docs/analyzers/custom.md)."""

    preferred_max_side = 0  # full frames: letterboxed here from the full picture

    def __init__(self, config: OnnxDetectorConfig) -> None:
        self.config = config
        self.name = config.name
        probe = np.zeros((1, 3, config.input_size, config.input_size), dtype=np.float32)
        loaded = load_custom_session(
            "onnx_detector", config.model_path, config.classes, config.class_map, probe, _check_output
        )
        self._session, self._input_name, self._labels = loaded.session, loaded.input_name, loaded.labels
        self._dynamic_batch = loaded.dynamic_batch
        self.version = loaded.version

    def labels(self) -> frozenset[str]:
        return frozenset(label for labels in self._labels for label in labels)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        results: list[list[Detection]] = []
        step = self.config.max_batch if self._dynamic_batch else 1
        for start in range(0, len(frames), step):
            chunk = frames[start : start + step]
            batch, ratios = letterbox_batch(
                [f.image for f in chunk],
                self.config.input_size,
                compact=self.config.compact,
                bgr=self.config.channel_order == "bgr",
            )
            output = self._session.run(None, {self._input_name: batch})[0]
            for found in decode_yolo(output, chunk, ratios, self.config.min_score, self.config.nms_iou):
                results.append(
                    [
                        Detection(
                            label=label,
                            confidence=score * 100.0,
                            analyzer=self.name,
                            analyzer_version=self.version,
                            raw_class=self.config.classes[cid],
                            box=Box(*box),
                        )
                        for cid, score, box in found
                        for label in self._labels[cid]
                    ]
                )
        return results

    def close(self) -> None:
        """The session is freed with the object; nothing to release early."""


def _check_output(output: np.ndarray, classes: int) -> str:
    if output.ndim != 3 or output.shape[1] != 4 + classes:
        return f"output shape {list(output.shape)} is not YOLOv8's [batch, 4 + {classes} classes, anchors]"
    return ""


__all__ = ["OnnxDetector", "OnnxDetectorConfig"]
