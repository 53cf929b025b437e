"""``framewarden.Moderator``: configured analyzers behind one call."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from framewarden.analyzers.base import Analyzer, AnalyzerConfig, SharedAnalyzers, config_for
from framewarden.config import Settings, get_settings
from framewarden.errors import InputError
from framewarden.media.frame import Frame
from framewarden.media.image import ImageInput, LoadedImage, load_image
from framewarden.result import ModerationResult, merge_detections


def analyzer_configs(
    names_or_configs: Sequence[str | AnalyzerConfig] | None, settings: Settings
) -> list[AnalyzerConfig]:
    """Typed configs for the named analyzers, with options from settings."""
    items = list(names_or_configs) if names_or_configs is not None else list(settings.analyzers)
    configs: list[AnalyzerConfig] = []
    for item in items:
        if isinstance(item, AnalyzerConfig):
            configs.append(item)
        else:
            key = item.strip()
            options = settings.analyzer_options.get(key, {})
            if key == "ocr_text":  # one blocklist for OCR, speech and chat
                from framewarden.text.shared import ocr_options

                options = ocr_options(settings, options)
            configs.append(config_for(key, **options))
    return configs


# (name, image or its error, decode start, decode ms) of one input of moderate_many
_Decoded = tuple[str, "LoadedImage | InputError", float, float]


class Moderator:
    """Moderates images (and batches of frames) with configured analyzers.

    >>> moderator = Moderator(["nudenet"])            # doctest: +SKIP
    >>> moderator.moderate_image("photo.jpg").to_rekognition()  # doctest: +SKIP

    Analyzer instances (and their ONNX sessions) are shared process-wide.
    """

    def __init__(
        self,
        analyzers: Sequence[str | AnalyzerConfig] | None = None,
        *,
        settings: Settings | None = None,
        min_confidence: float | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.configs = analyzer_configs(analyzers, self.settings)
        self.analyzers: list[Analyzer] = [SharedAnalyzers.get(c) for c in self.configs]
        self.min_confidence = self.settings.min_confidence if min_confidence is None else min_confidence

    @property
    def model_versions(self) -> dict[str, str]:
        return {a.name: a.version for a in self.analyzers}

    def moderate_image(self, data: ImageInput, *, source: str | None = None) -> ModerationResult:
        """Moderate one image: a path, encoded bytes, or an RGB array.

        Raises :class:`framewarden.errors.InputError` for unusable input.
        """
        started = time.perf_counter()
        name = source or (str(data) if isinstance(data, (str, Path)) else None)
        image = load_image(data, source=name, max_pixels=self.settings.max_image_pixels)
        decode_ms = (time.perf_counter() - started) * 1000
        frame = Frame(channel=image.source, seq=0, pts_ms=0.0, image=image.rgb)
        result = self.moderate_frames([frame])[0]
        result.timings_ms = {"decode": decode_ms, **result.timings_ms}
        result.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return result

    def moderate_array(self, rgb: np.ndarray, *, source: str = "<array>") -> ModerationResult:
        return self.moderate_image(rgb, source=source)

    def moderate_frames(self, frames: Sequence[Frame]) -> list[ModerationResult]:
        """Moderate a micro-batch of frames (possibly from several channels)."""
        if not frames:
            return []
        outputs = []
        timings: dict[str, float] = {}
        for analyzer in self.analyzers:
            t0 = time.perf_counter()
            outputs.append(analyzer.analyze(frames))
            # Per-frame share of the batch time, so single images read naturally.
            timings[analyzer.name] = (time.perf_counter() - t0) * 1000 / len(frames)
        merged = merge_detections(outputs, len(frames))
        return [
            ModerationResult(
                source=frame.channel,
                width=frame.width,
                height=frame.height,
                detections=dets,
                model_versions=self.model_versions,
                timings_ms=dict(timings),
                min_confidence=self.min_confidence,
                pts_ms=frame.pts_ms,
            )
            for frame, dets in zip(frames, merged, strict=True)
        ]

    def moderate_many(
        self, inputs: Iterable[ImageInput], *, batch_size: int = 8, decode_workers: int = 2
    ) -> Iterator[tuple[str, ModerationResult | InputError]]:
        """Moderate many images: decoding overlaps inference, which runs in micro-batches.

        Yields ``(source, result or InputError)`` in input order; a bad input
        never stops the others.  Throughput, not latency: use it for folders.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        limit = self.settings.max_image_pixels

        def decode(item: ImageInput) -> _Decoded:
            name = str(item) if isinstance(item, (str, Path)) else "<bytes>"
            started = time.perf_counter()
            if isinstance(item, str) and "://" in item:
                return (
                    name,
                    InputError(name, "URLs are not supported; download the image first"),
                    started,
                    0.0,
                )
            try:
                image: LoadedImage | InputError = load_image(item, source=name, max_pixels=limit)
            except InputError as exc:
                image = exc
            return name, image, started, (time.perf_counter() - started) * 1000

        with ThreadPoolExecutor(max_workers=decode_workers, thread_name_prefix="fw-decode") as pool:
            # A bounded window of decodes in flight keeps memory flat on huge folders.
            pending: deque[Future[_Decoded]] = deque()
            items = iter(inputs)
            window = batch_size * 2
            for item in items:
                pending.append(pool.submit(decode, item))
                if len(pending) >= window:
                    break
            while pending:
                batch: list[_Decoded] = []
                while pending and len(batch) < batch_size:
                    batch.append(pending.popleft().result())
                    nxt = next(items, None)
                    if nxt is not None:
                        pending.append(pool.submit(decode, nxt))
                yield from self._moderate_decoded(batch)

    def _moderate_decoded(self, batch: list[_Decoded]) -> Iterator[tuple[str, ModerationResult | InputError]]:
        good = [(name, img) for name, img, _, _ in batch if isinstance(img, LoadedImage)]
        frames = [Frame(channel=name, seq=0, pts_ms=0.0, image=img.rgb) for name, img in good]
        results = iter(self.moderate_frames(frames))
        for name, img, t0, decode_ms in batch:
            if isinstance(img, InputError):
                yield name, img
            else:
                result = next(results)
                # The image's own decode time; analyzer times are its share of the batch.
                result.timings_ms = {"decode": decode_ms, **result.timings_ms}
                result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
                yield name, result

    def close(self) -> None:
        """Analyzers are shared; closing a Moderator releases nothing early."""

    def __enter__(self) -> Moderator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
