"""NudeNet 3 (the ``320n`` YOLOv8 detector) on ONNX Runtime, batched.

The reference ``nudenet.NudeDetector`` pads every image to a square at full
resolution, runs one image per call and decodes the 2,100 candidate rows in
a Python loop: most of its time goes to that loop, not to the model.  Here
each frame is resized first and letterboxed into the model's square input
(the same pixels the reference feeds, since its pad is also bottom/right and
black), a micro-batch goes through one session call (the model has a
dynamic batch axis), and the output is decoded with vectorized NumPy.  Only
non-maximum suppression (OpenCV's, the one the reference uses) and building
the ``Detection`` objects run per frame.

NudeNet classes that also fire on ordinary clothed people (faces, feet,
armpits, belly, covered parts) become content tags, never moderation labels.
See docs/analyzers/nudenet.md for the mapping and its evidence.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import onnxruntime as ort
from pydantic import Field

from framewarden import taxonomy
from framewarden.analyzers.base import AnalyzerConfig, Box, Detection, SharedAnalyzers, register
from framewarden.config import get_settings
from framewarden.errors import ConfigError
from framewarden.media.frame import Frame

log = logging.getLogger(__name__)

# Output channel order of 320n.onnx (rows 4.. of the output), as NudeNet spells them.
CLASSES: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

# NudeNet class -> taxonomy leaf (moderation label) or content tag.
CLASS_TO_LABEL: dict[str, str] = {
    "FEMALE_GENITALIA_EXPOSED": "Exposed Female Genitalia",
    "MALE_GENITALIA_EXPOSED": "Exposed Male Genitalia",
    "BUTTOCKS_EXPOSED": "Exposed Buttocks or Anus",
    "ANUS_EXPOSED": "Exposed Buttocks or Anus",
    "FEMALE_BREAST_EXPOSED": "Exposed Female Nipple",
    "MALE_BREAST_EXPOSED": "Exposed Male Nipple",
    "FACE_FEMALE": "Face Female",
    "FACE_MALE": "Face Male",
    "FEET_EXPOSED": "Feet",
    "FEET_COVERED": "Covered Feet",
    "ARMPITS_EXPOSED": "Armpits",
    "ARMPITS_COVERED": "Covered Armpits",
    "BELLY_EXPOSED": "Belly",
    "BELLY_COVERED": "Covered Belly",
    "FEMALE_BREAST_COVERED": "Covered Female Breast",
    "FEMALE_GENITALIA_COVERED": "Covered Female Genitalia",
    "BUTTOCKS_COVERED": "Covered Buttocks",
    "ANUS_COVERED": "Covered Anus",
}

# What an Explicit detection becomes when the second opinion does not back it (a tag, not a label).
UNCONFIRMED = "Unconfirmed Nudity"

_LABELS_BY_ID: tuple[str, ...] = tuple(CLASS_TO_LABEL[c] for c in CLASSES)
_MODEL_FILE = "320n.onnx"
# The reference keeps candidate rows scoring >= 0.2 before NMS (which then drops < min_score).
_CANDIDATE_SCORE = 0.2
_SCALE = np.float32(1.0 / 255.0)


def bundled_model_path() -> Path:
    """``320n.onnx`` as shipped inside the installed ``nudenet`` package."""
    import nudenet

    return Path(nudenet.__file__).with_name(_MODEL_FILE)


class NudeNetConfig(AnalyzerConfig):
    type: Literal["nudenet"] = "nudenet"
    model_path: str = Field("", description="Local ONNX file; empty = 320n.onnx of the nudenet package.")
    input_size: int = Field(320, ge=32, le=1280, description="Square model input side (320 for 320n).")
    min_score: float = Field(0.25, ge=0.0, le=1.0, description="Lowest class score (0-1) kept after NMS.")
    nms_iou: float = Field(0.45, gt=0.0, le=1.0, description="IoU above which overlapping boxes merge.")
    max_batch: int = Field(16, ge=1, description="Largest number of frames per session call.")
    compact: bool = Field(
        False,
        description="Speed option: pad the letterboxed input only up to a multiple of the model stride "
        "(32), not to a square, so a 16:9 frame runs at 320x192 instead of 320x320 (about 35% less model "
        "time). Off by default: it moves some confidences by more than the 5-point parity tolerance "
        "(docs/analyzers/nudenet.md, 'Letterbox modes').",
    )
    second_opinion: bool = Field(
        True,
        description="Ask the whole-image classifier (image_safety) about Explicit detections below "
        "second_opinion_bar: one it does not back (NSFW below second_opinion_floor) becomes the tag "
        "'Unconfirmed Nudity'. Raw detections (class, score, box) are unchanged.",
    )
    second_opinion_bar: float = Field(
        0.85,
        ge=0.0,
        le=1.0,
        description="NudeNet score (0-1) at or above which an Explicit detection is never questioned.",
    )
    second_opinion_floor: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="image_safety NSFW probability (0-1) that backs a questioned Explicit detection.",
    )
    second_opinion_model_path: str = Field(
        "", description="image_safety model file for the second opinion; empty = the installed one."
    )
    allow_spinning: bool = Field(
        False,
        description="Let ONNX Runtime's idle threads spin-wait. Off by default: in the pipeline the "
        "decoder shares the cores, and spinning threads starve it (measured in bench/scan_throughput.py).",
    )


@register("nudenet", NudeNetConfig)
class NudeNetAnalyzer:
    """Nudity and body-part detector (NudeNet 320n, ONNX Runtime)."""

    name = "nudenet"

    def __init__(self, config: NudeNetConfig) -> None:
        self.config = config
        path = Path(config.model_path).expanduser() if config.model_path else bundled_model_path()
        if not path.is_file():
            raise ConfigError(f"nudenet model_path {str(path)!r}: no such file")
        options = ort.SessionOptions()
        threads = get_settings().inference_threads
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if config.allow_spinning else "0"
        )
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        # A fixed (int) batch axis means one frame per call; a named one means any batch.
        self._dynamic_batch = not isinstance(model_input.shape[0], int)
        self.input_size = config.input_size
        # 0 = full frames: the model input is resized here, from the full picture, exactly as the
        # reference does.  Scaling in the decoder first (swscale, another filter) moved scores by up
        # to 20 points and made them depend on which other analyzers ran (issue 9).
        self.preferred_max_side: int = 0
        tag = path.stem if config.model_path else _MODEL_FILE.removesuffix(".onnx")
        self.version = f"{_package_version()}/{tag}"
        # Loaded now, so a missing classifier is an error at start-up, not at the first frame.
        self._second: Any = None
        if config.second_opinion:
            from framewarden.analyzers.image_safety import ImageSafetyConfig

            self._second = SharedAnalyzers.get(ImageSafetyConfig(model_path=config.second_opinion_model_path))
            self.version += f"+2nd:{self._second.version}"
        log.debug("nudenet: %s, dynamic batch %s, threads %s", path, self._dynamic_batch, threads or "auto")

    def labels(self) -> frozenset[str]:
        extra = {UNCONFIRMED} if self._second is not None else set()
        return frozenset(CLASS_TO_LABEL.values()) | extra

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        results: list[list[Detection]] = []
        step = self.config.max_batch if self._dynamic_batch else 1
        for start in range(0, len(frames), step):
            chunk = frames[start : start + step]
            batch, ratios = letterbox_batch(
                [f.image for f in chunk], self.input_size, compact=self.config.compact
            )
            output = self._session.run(None, {self._input_name: batch})[0]
            results.extend(self._decode(output, chunk, ratios))
        if self._second is not None:
            self._second_opinion(frames, results)
        return results

    def _second_opinion(self, frames: Sequence[Frame], results: list[list[Detection]]) -> None:
        """Demote unbacked low-confidence Explicit detections to a tag, in place."""
        bar = self.config.second_opinion_bar * 100.0
        doubtful = [
            i
            for i, dets in enumerate(results)
            if any(d.confidence < bar and _is_explicit(d.label) for d in dets)
        ]
        if not doubtful:
            return  # the classifier runs only on frames that need it
        probs = self._second.probabilities([frames[i] for i in doubtful])
        floor = self.config.second_opinion_floor
        for i, row in zip(doubtful, probs, strict=True):
            nsfw = float(row[1])
            if nsfw >= floor:
                continue
            note = f"second opinion: image_safety NSFW {nsfw:.3f} < {floor:.2f}"
            results[i] = [
                dataclasses.replace(d, label=UNCONFIRMED, detail=note)
                if d.confidence < bar and _is_explicit(d.label)
                else d
                for d in results[i]
            ]

    def close(self) -> None:
        """The session is freed with the object; nothing to release early."""

    # --- post-processing -------------------------------------------------
    def _decode(
        self, output: np.ndarray, frames: Sequence[Frame], ratios: np.ndarray
    ) -> list[list[Detection]]:
        """(B, 4 + classes, N) raw output -> detections in source pixels."""
        return [
            [
                Detection(
                    label=_LABELS_BY_ID[cid],
                    confidence=score * 100.0,
                    analyzer=self.name,
                    analyzer_version=self.version,
                    raw_class=CLASSES[cid],
                    box=Box(x, y, w, h),
                )
                for cid, score, (x, y, w, h) in found
            ]
            for found in decode_yolo(output, frames, ratios, self.config.min_score, self.config.nms_iou)
        ]


def decode_yolo(
    output: np.ndarray, frames: Sequence[Frame], ratios: np.ndarray, min_score: float, nms_iou: float
) -> list[list[tuple[int, float, tuple[float, float, float, float]]]]:
    """YOLOv8 output (B, 4 + classes, N) -> per frame (class id, score 0-1, box in source pixels).

    Vectorized candidate selection; OpenCV's class-agnostic NMS per frame, as NudeNet does.
    """
    rows = output.transpose(0, 2, 1)  # (B, N, 4 + C)
    scores = rows[:, :, 4:]
    class_ids = scores.argmax(axis=2)
    best = np.take_along_axis(scores, class_ids[:, :, None], axis=2)[:, :, 0]
    out: list[list[tuple[int, float, tuple[float, float, float, float]]]] = []
    for i, frame in enumerate(frames):
        keep = best[i] >= _CANDIDATE_SCORE  # NudeNet keeps rows >= 0.2 before NMS
        if not keep.any():
            out.append([])
            continue
        boxes = _to_source(rows[i, keep, :4], frame, float(ratios[i]))
        conf = best[i, keep]
        kept = cv2.dnn.NMSBoxes(
            boxes.astype(np.float64),  # type: ignore[arg-type]
            conf.astype(np.float64),
            min_score,
            nms_iou,
        )
        picked = np.asarray(kept, dtype=np.int64).reshape(-1)
        ids = class_ids[i, keep][picked]
        out.append(
            [
                (int(cid), float(score), (float(x), float(y), float(w), float(h)))
                for cid, score, (x, y, w, h) in zip(
                    ids.tolist(), conf[picked].tolist(), boxes[picked].tolist(), strict=True
                )
            ]
        )
    return out


_STRIDE = 32  # the model's largest stride: input sides must be multiples of it


def canvas_shape(images: Sequence[np.ndarray], size: int, compact: bool) -> tuple[int, int]:
    """(height, width) of the model input for a batch: a square, or the smallest stride multiple."""
    if not compact:
        return size, size
    height = width = _STRIDE
    for img in images:
        h, w = img.shape[:2]
        ratio = size / max(h, w)
        height = max(height, min(size, math.ceil(h * ratio / _STRIDE) * _STRIDE))
        width = max(width, min(size, math.ceil(w * ratio / _STRIDE) * _STRIDE))
    return height, width


def letterbox_batch(
    images: Sequence[np.ndarray], size: int, *, compact: bool = False, bgr: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames -> (B, 3, H, W) float32 BGR in [0, 1], and each frame's scale.

    ``compact=False`` gives the reference's (size, size) square; ``compact=True``
    pads the short side only to the next multiple of the stride, since the model
    is fully convolutional and the black band carries no information.

    The reference pads each image to a black square at full resolution and
    resizes the square.  Here each frame is resized by the same factor
    (``size / longest side``) and copied to the top-left of a black square:
    the same pixels, bit for bit, for far less work.  Only the few source
    rows (or columns) that the interpolation reads past the short side's end
    need the black pad, so only those are added.  The model was trained on
    BGR input (NudeNet swaps channels twice), hence ``::-1``.
    """
    height, width = canvas_shape(images, size, compact)
    batch = np.zeros((len(images), height, width, 3), dtype=np.uint8)
    ratios = np.empty(len(images), dtype=np.float64)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        side = max(h, w)
        ratio = size / side
        if ratio != 1.0:
            extra = math.ceil(1 / ratio) + 2  # source pixels one output pixel can reach, plus margin
            pad_h, pad_w = min(side - h, extra), min(side - w, extra)
            if pad_h or pad_w:
                img = cv2.copyMakeBorder(img, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
            img = cv2.resize(img, None, fx=ratio, fy=ratio, interpolation=cv2.INTER_LINEAR)
        ch, cw = min(height, img.shape[0]), min(width, img.shape[1])
        batch[i, :ch, :cw] = img[:ch, :cw]
        ratios[i] = ratio
    # One plane at a time, written in place: NCHW, BGR (or RGB), scaled (cheaper than transpose + astype).
    tensor = np.empty((len(images), 3, height, width), dtype=np.float32)
    for plane in range(3):
        source = 2 - plane if bgr else plane
        np.multiply(batch[..., source], _SCALE, out=tensor[:, plane], casting="unsafe")
    return tensor, ratios


def _to_source(xywh: np.ndarray, frame: Frame, ratio: float) -> np.ndarray:
    """Centre boxes in model pixels -> clipped (left, top, width, height) in source pixels."""
    sx, sy = frame.scale
    fx, fy = sx / ratio, sy / ratio
    x1 = (xywh[:, 0] - xywh[:, 2] / 2) * fx
    y1 = (xywh[:, 1] - xywh[:, 3] / 2) * fy
    x2 = np.clip(x1 + xywh[:, 2] * fx, 0, frame.width)
    y2 = np.clip(y1 + xywh[:, 3] * fy, 0, frame.height)
    x1, y1 = np.clip(x1, 0, frame.width), np.clip(y1, 0, frame.height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def _is_explicit(label: str) -> bool:
    return taxonomy.is_label(label) and taxonomy.top_level(label) == "Explicit"


def _package_version() -> str:
    try:
        return f"nudenet-{metadata.version('nudenet')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored model only
        return "nudenet"


__all__ = [
    "CLASSES",
    "CLASS_TO_LABEL",
    "UNCONFIRMED",
    "NudeNetAnalyzer",
    "NudeNetConfig",
    "bundled_model_path",
    "decode_yolo",
    "letterbox_batch",
]
