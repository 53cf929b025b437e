"""``ocr_text``: on-screen text read with RapidOCR, judged by :mod:`framewarden.text`.

OCR is the most expensive analyzer (~0.6 s for a 720p frame on two cores,
some 25 times the nudity detector), so it is built to run as rarely as it
can while still catching text as it appears:

1. its own interval per channel (``interval_s`` of media time): frames in
   between get no OCR at all;
2. a text-presence pass: the text *detector* alone, at reduced resolution,
   reading only its probability map (no boxes, no recognition); a frame
   without text stops here;
3. a steady-scene check: when the presence map matches the channel's last
   one and every earlier text region still looks the same, the earlier
   reading is reused without running detection again;
4. otherwise full detection, and recognition only of regions that changed:
   each region crop is reduced to a small grayscale thumbnail and compared
   with the channel's cache of recently read regions; a hit reuses the
   earlier text.

Per-channel state is bounded (least recently seen channels are dropped).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from framewarden.analyzers.base import AnalyzerConfig, Box, Detection, register
from framewarden.media.frame import Frame
from framewarden.text import BlocklistEntry, TextModerationConfig, TextViolation, get_moderator
from framewarden.text.profanity import model_version as profanity_version

TEXT_TAG = "Text"
_THUMB_HEIGHT = 32
_SAME_PLACE_IOU = 0.6  # a detected region this close to a cached one is compared with it


class OcrTextConfig(AnalyzerConfig):
    type: Literal["ocr_text"] = "ocr_text"
    interval_s: float = Field(
        default=2.0, ge=0, description="Seconds of media time between OCR runs per channel (0 = every frame)."
    )
    preferred_max_side: int = Field(
        default=1280,
        ge=0,
        description="Longest side a decoder should give this analyzer (0 = full resolution).",
    )
    presence_max_side: int = Field(
        default=640, ge=0, description="Longest side of the text-presence pass (0 = no presence pass)."
    )
    presence_min_pixels: int = Field(
        default=32, ge=1, description="Text pixels the presence map needs before the frame is read."
    )
    det_max_side: int = Field(default=960, ge=32, description="Longest side for text detection (boxes).")
    steady_iou: float = Field(
        default=0.85,
        ge=0,
        le=1.01,
        description="Presence-map overlap that counts as the same scene (>1 = never).",
    )
    region_change_tolerance: float = Field(
        default=0.8,
        ge=0,
        description="Largest local change (normalised gray levels) of a region still 'unchanged'.",
    )
    cache_regions: int = Field(default=64, ge=0, description="Recently read regions remembered per channel.")
    max_channels: int = Field(default=256, ge=1, description="Channels whose OCR state is kept.")
    min_text_score: float = Field(
        default=0.6, ge=0, le=1, description="Lowest recognition score of text used."
    )
    use_angle_cls: bool = Field(default=False, description="Run the 180-degree text-orientation classifier.")
    threads: int = Field(default=0, ge=0, description="ONNX Runtime threads per session (0 = one per core).")
    profanity: bool = Field(default=True, description="Judge text with the profanity/insult model.")
    profanity_threshold: float = Field(
        default=0.8, ge=0, le=1, description="Profanity probability that flags text."
    )
    blocklist: tuple[str | BlocklistEntry, ...] = Field(default=(), description="Terms to flag (see text/).")
    blocklist_file: Path | None = Field(default=None, description="File of blocklisted terms, one a line.")

    def text_config(self) -> TextModerationConfig:
        return TextModerationConfig(
            profanity=self.profanity,
            profanity_threshold=self.profanity_threshold,
            blocklist=self.blocklist,
            blocklist_file=self.blocklist_file,
        )


@dataclass(slots=True)
class OcrStats:
    """What the analyzer did, frame by frame (for tests, benchmarks and metrics)."""

    frames: int = 0
    skipped_interval: int = 0  # no OCR: within the channel's interval
    no_text: int = 0  # presence pass found no text
    steady: int = 0  # earlier reading reused without detection
    detections: int = 0  # full detection passes
    regions_recognized: int = 0  # crops sent to the recognizer
    regions_reused: int = 0  # crops whose text came from the cache


@dataclass(slots=True, eq=False)  # compared by identity: it holds arrays
class _Region:
    quad: np.ndarray  # (4, 2) float32 corners in frame.image pixels
    thumb: np.ndarray  # small grayscale crop, float32
    text: str
    score: float  # 0-1


@dataclass(slots=True)
class _Channel:
    last_pts: float | None = None
    presence: np.ndarray | None = None  # boolean map of the last presence pass
    regions: list[_Region] = field(default_factory=list)
    cache: list[_Region] = field(default_factory=list)  # most recent last


def _thumb(crop: np.ndarray) -> np.ndarray:
    """A small grayscale copy, normalised to zero mean and unit variance.

    The normalisation keeps a caption box's semi-transparent background and
    brightness drift from counting as a change; letters still do.
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = gray.shape[:2]
    width = int(min(1024, max(4, round(_THUMB_HEIGHT * w / max(h, 1)))))
    small = cv2.resize(gray, (width, _THUMB_HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) / (float(small.std()) + 1.0)


def _same_thumb(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """True when no letter-sized patch differs by more than ``tolerance`` (in std units)."""
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    # A 5x5 mean keeps codec noise below the tolerance, a changed letter above it.
    return float(cv2.blur(np.abs(a - b), (5, 5)).max()) <= tolerance


def _bbox(quad: np.ndarray) -> tuple[float, float, float, float]:
    return float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max())


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0, ax1, ay1 = _bbox(a)
    bx0, by0, bx1, by1 = _bbox(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 0.0
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


@register("ocr_text", OcrTextConfig, "On-screen text (RapidOCR) judged by the text moderator.")
class OcrTextAnalyzer:
    name = "ocr_text"

    def __init__(self, config: OcrTextConfig | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        self.config = config or OcrTextConfig()
        self.preferred_max_side = self.config.preferred_max_side
        self.moderator = get_moderator(self.config.text_config())
        options: dict[str, Any] = {"text_score": self.config.min_text_score}
        if self.config.threads:
            options.update(intra_op_num_threads=self.config.threads, inter_op_num_threads=1)
        self.engine = RapidOCR(**options)
        det = self.engine.text_det
        self._det_pre = DetPreProcess(self.config.det_max_side, "max", det.mean, det.std)
        self._presence_pre = DetPreProcess(self.config.presence_max_side or 32, "max", det.mean, det.std)
        self._presence_thresh = float(det.postprocess_op.thresh)
        self.version = (
            f"rapidocr-{metadata.version('rapidocr-onnxruntime')}-ppocrv4"
            f"+profanity-check-{profanity_version()}"
        )
        self.stats = OcrStats()
        self._channels: OrderedDict[str, _Channel] = OrderedDict()
        self._lock = threading.Lock()

    def labels(self) -> frozenset[str]:
        return self.moderator.labels | {TEXT_TAG}

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]:
        with self._lock:
            return [self._analyze_one(frame) for frame in frames]

    def close(self) -> None:
        with self._lock:
            self._channels.clear()

    def reset(self, channel: str) -> None:
        """Forget a channel's interval, presence map and region cache."""
        with self._lock:
            self._channels.pop(channel, None)

    # --- one frame -----------------------------------------------------------
    def _channel(self, name: str) -> _Channel:
        state = self._channels.pop(name, None) or _Channel()
        self._channels[name] = state  # most recently seen last
        while len(self._channels) > self.config.max_channels:
            self._channels.popitem(last=False)
        return state

    def _due(self, state: _Channel, pts_ms: float) -> bool:
        # A pts that does not move forward is a new stream, a seek or the same image again: read it.
        last = state.last_pts
        return last is None or pts_ms <= last or pts_ms - last >= self.config.interval_s * 1000

    def _analyze_one(self, frame: Frame) -> list[Detection]:
        self.stats.frames += 1
        state = self._channel(frame.channel)
        if not self._due(state, frame.pts_ms):
            self.stats.skipped_interval += 1
            return []
        state.last_pts = frame.pts_ms
        bgr = np.ascontiguousarray(frame.image[:, :, ::-1])
        if self.config.presence_max_side:
            mask = self._presence(bgr)
            previous, state.presence = state.presence, mask
            if np.count_nonzero(mask) < self.config.presence_min_pixels:
                self.stats.no_text += 1
                state.regions = []
                return []
            if previous is not None and state.regions and _iou(mask, previous) >= self.config.steady_iou:
                thumbs = [_thumb(c) for c in self._crops(bgr, [r.quad for r in state.regions])]
                tol = self.config.region_change_tolerance
                if all(_same_thumb(t, r.thumb, tol) for t, r in zip(thumbs, state.regions, strict=True)):
                    self.stats.steady += 1
                    return self._detections(frame, state.regions)
        state.regions = self._read(bgr, state)
        return self._detections(frame, state.regions)

    def _presence(self, bgr: np.ndarray) -> np.ndarray:
        """The detector's text-probability map at low resolution, thresholded."""
        batch = self._presence_pre(bgr)
        if batch is None:
            return np.zeros((1, 1), dtype=bool)
        return np.asarray(self.engine.text_det.infer(batch)[0][0, 0] > self._presence_thresh)

    def _detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        det = self.engine.text_det
        batch = self._det_pre(bgr)
        if batch is None:
            return []
        boxes, _ = det.postprocess_op(det.infer(batch)[0], bgr.shape[:2])
        boxes = det.filter_tag_det_res(boxes, bgr.shape[:2])
        if len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32) for b in self.engine.sorted_boxes(boxes)]

    def _crops(self, bgr: np.ndarray, quads: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(self.engine.get_crop_img_list(bgr, [q.copy() for q in quads]))

    def _read(self, bgr: np.ndarray, state: _Channel) -> list[_Region]:
        """Detect text regions; recognise only those unlike the cached region at their place."""
        self.stats.detections += 1
        tol = self.config.region_change_tolerance
        regions: list[_Region] = []
        missing: list[int] = []
        for quad in self._detect(bgr):
            hit = self._cached(bgr, quad, state.cache, tol)
            if hit is not None:
                self.stats.regions_reused += 1
                state.cache.remove(hit)
                state.cache.append(hit)
                regions.append(hit)
            else:
                missing.append(len(regions))
                regions.append(_Region(quad, np.zeros((0, 0), np.float32), "", 0.0))
        if missing:
            crops = self._crops(bgr, [regions[i].quad for i in missing])
            for i, crop in zip(missing, crops, strict=True):
                regions[i].thumb = _thumb(crop)
            if self.config.use_angle_cls:
                crops, _, _ = self.engine.text_cls(crops)
            results, _ = self.engine.text_rec(crops)
            self.stats.regions_recognized += len(missing)
            for i, (text, score, *_rest) in zip(missing, results, strict=True):
                regions[i].text, regions[i].score = str(text).strip(), float(score)
                state.cache.append(regions[i])
        if len(state.cache) > self.config.cache_regions:
            del state.cache[: len(state.cache) - self.config.cache_regions]
        return regions

    def _cached(self, bgr: np.ndarray, quad: np.ndarray, cache: list[_Region], tol: float) -> _Region | None:
        """The cached region at ``quad``'s place whose crop still looks the same, if any.

        The current frame is cropped at the *cached* corners, so detection
        jitter of a pixel or two does not count as a change.
        """
        for region in reversed(cache):  # most recent first
            if _box_iou(quad, region.quad) >= _SAME_PLACE_IOU:
                crop = self._crops(bgr, [region.quad])[0]
                if _same_thumb(_thumb(crop), region.thumb, tol):
                    return region
        return None

    # --- results ---------------------------------------------------------------
    def _detections(self, frame: Frame, regions: Sequence[_Region]) -> list[Detection]:
        sx, sy = frame.scale
        out: list[Detection] = []
        for region in regions:
            if not region.text or region.score < self.config.min_text_score:
                continue
            x0, y0, x1, y1 = _bbox(region.quad)
            box = Box(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)
            out.append(self._detection(TEXT_TAG, region.score * 100, "text", box, region.text))
            for v in self.moderator.moderate(region.text):
                out.append(self._detection(v.label, v.confidence, v.raw_class, _span_box(box, region.text, v),
                                           region.text))  # fmt: skip
        return out

    def _detection(self, label: str, confidence: float, raw: str, box: Box, detail: str) -> Detection:
        return Detection(label, float(confidence), self.name, self.version, raw, box, detail)


def _span_box(line: Box, text: str, violation: TextViolation) -> Box:
    """The part of a line's box holding the violation, by its share of the characters."""
    n = len(text)
    if n == 0 or (violation.start == 0 and violation.end >= n):
        return line
    left = line.left + line.width * violation.start / n
    right = line.left + line.width * violation.end / n
    return Box(left, line.top, right - left, line.height)
